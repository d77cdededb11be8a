"""Tabular datasets: register CSV and Parquet files, read them back per tenant, profile them, and the
checks the churn and forecast trainers run before training."""

import json
from datetime import date, datetime
from pathlib import Path

import polars as pl
import pytest

from tests.conftest import ctx_of
from tests.test_cli import run
from workbench import home
from workbench.calls import datasets
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.models import tabular
from workbench.settings import Settings

SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples"
CSV = b"customer,plan,spend,churned\nc1,free,10.5,1\nc2,pro,20,0\nc3,pro,,0\n"


@pytest.fixture
def store(demo_copy):
    return home.open_store(demo_copy)


def _register(store, cfg, data, name, username="dan", filename="customers.csv"):
    with store.transaction() as con:
        return tabular.register_file(ctx_of(store, username), con, cfg, data, name, filename=filename)


def _state(store, cfg) -> tuple[int, list[Path]]:
    with store.connect() as con:
        count = con.execute("SELECT count(*) FROM datasets").fetchone()[0]
    return count, sorted(cfg.exports_dir.rglob("*.*"))


def test_a_csv_file_is_copied_registered_and_reads_back(store, demo_copy, tmp_path):
    source = tmp_path / "customers.csv"
    source.write_bytes(CSV)
    made = _register(store, demo_copy, source, "  Customers   March ", filename=None)
    source.unlink()  # the dataset keeps its own copy
    assert made["name"] == "Customers March" and made["file_format"] == "csv" and made["num_rows"] == 3
    assert made["source_type"] == "upload" and made["columns"] == ["customer", "plan", "spend", "churned"]
    copy = Path(made["file_path"])
    assert copy.is_relative_to(demo_copy.exports_dir / f"org-{ctx_of(store, 'dan').org_id}" / "datasets")
    with store.connect() as con:
        frame = tabular.load_frame(ctx_of(store, "anna"), con, "Customers March")  # a colleague, by name
        by_uuid = tabular.load_frame(ctx_of(store, "dan"), con, made["uuid"])
        listed = datasets.list_datasets(ctx_of(store, "dan"), con)
    assert frame.shape == (3, 4) and frame["spend"].to_list() == [10.5, 20.0, None]
    assert by_uuid.equals(frame)
    assert listed[0]["name"] == "Customers March" and listed[0]["num_rows"] == 3


def test_parquet_latin1_and_bom_files_read(store, demo_copy, tmp_path):
    parquet = tmp_path / "sales.parquet"
    pl.DataFrame({"day": [date(2025, 1, 1), date(2025, 1, 2)], "sales": [1.5, 2.5]}).write_parquet(parquet)
    made = _register(store, demo_copy, parquet, "Sales", filename=None)
    assert made["file_format"] == "parquet" and made["num_rows"] == 2
    latin1 = "name;city\nJosé;Málaga\nRené;Zürich\n".encode("latin-1")
    _register(store, demo_copy, latin1, "Latin-1 export", filename="people.csv")
    bom = "\ufeffname,city\nJosé,Málaga\n".encode()
    _register(store, demo_copy, bom, "Excel export", filename="people.csv")
    with store.connect() as con:
        dan = ctx_of(store, "dan")
        assert tabular.load_frame(dan, con, "Sales")["day"].to_list() == [date(2025, 1, 1), date(2025, 1, 2)]
        latin = tabular.load_frame(dan, con, "Latin-1 export")
        assert latin.rows() == [("José", "Málaga"), ("René", "Zürich")]
        assert tabular.load_frame(dan, con, "Excel export").columns == ["name", "city"]


@pytest.mark.parametrize(
    ("data", "filename", "message"),
    [
        (CSV, "customers.xlsx", "customers.xlsx is not a CSV or Parquet file"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "photo.csv", "photo.csv is not a CSV file: it holds binary"),
        (b"", "empty.csv", "empty.csv is empty"),
        (b"a,b,c\n", "header.csv", "header.csv has no rows"),
        (b"a,b\n1,2\n3,4,5,6\n", "ragged.csv", "ragged.csv could not be read as CSV"),
        (b"PAR1 not really parquet", "broken.parquet", "broken.parquet could not be read as Parquet"),
    ],
)
def test_bad_files_are_refused_with_a_clear_message_and_nothing_written(
    store, demo_copy, data, filename, message
):
    before = _state(store, demo_copy)
    with pytest.raises(InvalidInput, match=message):
        _register(store, demo_copy, data, "Bad", filename=filename)
    assert _state(store, demo_copy) == before


def test_a_taken_name_a_large_file_and_a_viewer_are_refused(store, demo_copy, tmp_path):
    _register(store, demo_copy, CSV, "Customers")
    before = _state(store, demo_copy)
    with pytest.raises(InvalidInput, match="A dataset named 'Customers' already exists"):
        _register(store, demo_copy, CSV, "Customers", username="anna")
    small = Settings(home=demo_copy.home, lock_wait_s=1.0, embedding_backend="hash", upload_max_mb=1)
    big = tmp_path / "big.csv"
    big.write_bytes(b"x\n" + b"1\n" * 600_000)
    with pytest.raises(InvalidInput, match=r"big.csv is 1.1 MB; the largest accepted file is 1 MB"):
        _register(store, small, big, "Big", filename=None)
    with pytest.raises(NotAllowed, match="datasets:write"):
        _register(store, demo_copy, CSV, "Mike's", username="mike")
    assert _state(store, demo_copy) == before
    # another organisation may use the same name
    assert _register(store, demo_copy, CSV, "Customers", username="diego")["num_rows"] == 3


def test_a_failed_insert_removes_the_copied_file(store, demo_copy, monkeypatch):
    _register(store, demo_copy, CSV, "Customers")
    before = _state(store, demo_copy)
    real = tabular.fetch_one

    def misses_the_name(con, sql, params=None):  # as when another session registers the name meanwhile
        return None if sql.startswith("SELECT 1 FROM datasets") else real(con, sql, params)

    monkeypatch.setattr(tabular, "fetch_one", misses_the_name)
    with pytest.raises(InvalidInput, match="A dataset named 'Customers' already exists"):
        _register(store, demo_copy, CSV, "Customers")
    assert _state(store, demo_copy) == before


def test_another_organisation_cannot_load_or_profile_a_dataset(store, demo_copy):
    made = _register(store, demo_copy, CSV, "Customers")
    with store.connect() as con:
        diego = ctx_of(store, "diego")
        for key in ("Customers", made["uuid"]):
            with pytest.raises(NotFound, match="in your organisation"):
                tabular.load_frame(diego, con, key)
            with pytest.raises(NotFound):
                tabular.profile(diego, con, key)
        with pytest.raises(NotAllowed):
            tabular.load_frame(ctx_of(store, "mike"), con, "Customers")
    Path(made["file_path"]).unlink()
    with store.connect() as con, pytest.raises(NotFound, match="The file of dataset 'Customers' is gone"):
        tabular.load_frame(ctx_of(store, "dan"), con, "Customers")


def test_profile_of_a_small_frame():
    frame = pl.DataFrame(
        {
            "id": [1, 2, 3, 4, 5],
            "plan": ["free", "pro", None, "pro", "free"],
            "spend": [10.0, None, 30.0, 20.0, None],
            "left": ["yes", "no", "no", "no", None],
            "signup": ["2025-01-03", "2025-01-04 09:30", "03/01/2025", "2025-02-01", None],
            "day": [date(2025, 1, d) for d in range(1, 6)],
            "note": [None, None, None, None, None],
        },
        schema_overrides={"note": pl.String},
    )
    result = tabular.profile_frame(frame, target="left")
    assert result["rows"] == 5
    spend = next(c for c in result["columns"] if c["name"] == "spend")
    assert spend == {"name": "spend", "dtype": "Float64", "missing": 2, "missing_share": 0.4, "distinct": 3,
                     "numeric": True, "min": 10.0, "mean": 20.0, "max": 30.0, "all_missing": False,
                     "blanks": 0, "read_as": None, "identifier": False}
    plan = next(c for c in result["columns"] if c["name"] == "plan")
    assert (plan["distinct"], plan["missing"], plan["min"], plan["numeric"]) == (2, 1, None, False)
    note = next(c for c in result["columns"] if c["name"] == "note")
    assert note["all_missing"] and note["missing_share"] == 1.0 and note["distinct"] == 0
    assert result["target_balance"] == [{"value": "no", "count": 3, "share": 0.75},
                                        {"value": "yes", "count": 1, "share": 0.25}]
    assert result["suggestions"] == {
        "binary_targets": ["plan", "left"],
        "date_columns": ["day"],  # one of signup's four values is day-first: 75% parse, below 95%
        "value_columns": ["id", "spend"],
        "series_columns": [],  # every day once: one series
    }
    signup_iso = frame.with_columns(pl.col("signup").str.replace("03/01/2025", "2025-01-03"))
    assert tabular.profile_frame(signup_iso)["suggestions"]["date_columns"] == ["signup", "day"]
    with pytest.raises(InvalidInput, match="There is no column 'churn'; the columns are 'id', 'plan'"):
        tabular.profile_frame(frame, target="churn")


def test_profile_of_the_churn_sample(store, demo_copy):
    _register(store, demo_copy, SAMPLES / "churn-customers.csv", "Churn sample", filename=None)
    with store.connect() as con:
        result = tabular.profile(ctx_of(store, "dan"), con, "Churn sample", target="churned")
    assert result["rows"] == 400 and result["name"] == "Churn sample"
    assert "churned" in result["suggestions"]["binary_targets"]
    assert {b["value"] for b in result["target_balance"]} == {0, 1}
    assert 0.2 < min(b["share"] for b in result["target_balance"]) < 0.5


def test_blank_cells_are_missing_and_numbers_held_as_text_stay_numbers(store, demo_copy):
    """A telecom-style table: charges are numbers but for a few blank cells (" "), which a reader
    taking them as text would one-hot encode value by value. Blanks are missing, the column is
    numeric, the profile counts and says both, and says which column is an identifier."""
    rows = ["customerID,tenure,TotalCharges,Contract,Churn"]
    for i in range(60):
        charges = " " if i in (3, 17, 41) else f"{20 + 13.37 * i:.2f}"
        contract = "  " if i == 5 else ("Month-to-month", "One year")[i % 2]
        rows.append(f"{i:04d}-ABCD,{i % 24},{charges},{contract},{('Yes', 'No')[i % 3 == 0]}")
    _register(store, demo_copy, ("\n".join(rows) + "\n").encode(), "Telecom", filename="telecom.csv")
    dan = ctx_of(store, "dan")
    with store.connect() as con:
        result = tabular.profile(dan, con, "Telecom", target="Churn")
        frame = tabular.load_frame(dan, con, "Telecom")
    columns = {c["name"]: c for c in result["columns"]}
    charges = columns["TotalCharges"]
    assert [charges[k] for k in ("dtype", "numeric", "missing", "blanks", "read_as")] == [
        "Float64", True, 3, 3, "number"]
    contract = columns["Contract"]
    assert (contract["dtype"], contract["missing"], contract["distinct"]) == ("String", 1, 2)
    assert columns["customerID"]["identifier"] and not columns["TotalCharges"]["identifier"]
    assert "TotalCharges" in result["suggestions"]["value_columns"]
    assert result["notes"] == [
        "customerID: an identifier (a distinct value per row): left out of training.",
        "TotalCharges: 3 blank values read as missing; read as numbers (the file has them as text).",
        "Contract: 1 blank value read as missing.",
    ]
    assert frame.schema["TotalCharges"] == pl.Float64 and frame["TotalCharges"].null_count() == 3
    from workbench.models.churn import training

    _x, _y, numeric, categorical, _ = training.prepare(frame, "Churn")
    assert "TotalCharges" in numeric and "customerID" not in numeric + categorical
    assert categorical == ["Contract"]


def test_check_binary_target():
    frame = pl.DataFrame({"y": [1, 0, None, 1], "one": ["a", "a", "a", None], "many": ["a", "b", "c", "d"],
                          "empty": [None, None, None, None]})
    assert tabular.check_binary_target(frame, "y") == [0, 1]
    with pytest.raises(InvalidInput, match="No column 'churn' in the dataset; its columns are 'y', 'one'"):
        tabular.check_binary_target(frame, "churn")
    with pytest.raises(InvalidInput, match="'empty' is missing in every row"):
        tabular.check_binary_target(frame, "empty")
    with pytest.raises(InvalidInput, match=r"'one' has only one class \(a\); churn needs two"):
        tabular.check_binary_target(frame, "one")
    with pytest.raises(InvalidInput, match=r"'many' has 4 classes \('a', 'b', 'c', 'd'\); churn needs"):
        tabular.check_binary_target(frame, "many")
    with pytest.raises(InvalidInput, match="has no rows"):
        tabular.check_binary_target(frame.clear(), "y")


def test_check_series_cleans_and_sorts():
    frame = pl.DataFrame({"store": ["B", "A", "A", "B", "A"],
                          "day": ["2025-01-02", "2025-01-02", "2025-01-01", "2025-01-01", None],
                          "sales": ["4", "2.5", "1", "3", "9"]})
    cleaned = tabular.check_series(frame, "day", "sales", "store", min_length=2)
    assert cleaned.schema == pl.Schema({"store": pl.String, "day": pl.Datetime("us"), "sales": pl.Float64})
    assert cleaned.rows() == [("A", datetime(2025, 1, 1), 1.0), ("A", datetime(2025, 1, 2), 2.5),
                              ("B", datetime(2025, 1, 1), 3.0), ("B", datetime(2025, 1, 2), 4.0)]
    single = tabular.check_series(frame.filter(pl.col("store") == "A"), "day", "sales")
    assert single.columns == ["day", "sales"] and single.height == 2


def test_check_series_keeps_the_time_of_day():
    hours = [datetime(2025, 1, 1, h) for h in (10, 11, 12)]
    for written in ("%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M:%SZ", "%Y-%m-%d %H:%M:%S"):  # 'Z': UTC, as plain times
        text = pl.DataFrame({"at": [h.strftime(written) for h in hours], "load": [1.0, 2.0, 3.0]})
        assert tabular.check_series(text, "at", "load")["at"].to_list() == hours, written
    zoned = pl.DataFrame({"at": hours, "load": [1.0, 2.0, 3.0]}).with_columns(
        pl.col("at").dt.replace_time_zone("Europe/Berlin"))
    assert tabular.check_series(zoned, "at", "load")["at"].to_list() == hours  # the local clock


def test_check_series_errors():
    frame = pl.DataFrame({"store": ["A", "A", "B"], "day": ["2025-01-01", "2025-01-02", "2025-01-01"],
                          "sales": [1.0, 2.0, 3.0], "label": ["x", "y", "z"], "gone": [None, None, None],
                          "when": ["2025-01-01", "soon", "later"]})
    cases = [
        (("day", "revenue"), "No column 'revenue' in the dataset"),
        (("when", "sales"), r"'when' is not a date column: 2 of 3 values do not parse as dates \(e.g. 'soon"),
        (("store", "sales"), "'store' is not a date column"),
        (("day", "label"), r"'label' is not numeric: 3 values are not numbers \(e.g. 'x', 'y', 'z'\)"),
        (("day", "gone"), "'gone' is missing in every row"),
        (("day", "sales"), "2 rows share the time 2025-01-01 .* pick the column that names them"),
    ]
    for (date_col, value_col), message in cases:
        with pytest.raises(InvalidInput, match=message):
            tabular.check_series(frame, date_col, value_col)
    with pytest.raises(InvalidInput, match="has no rows"):
        tabular.check_series(frame.clear(), "day", "sales")
    with pytest.raises(InvalidInput, match="Series 'B' has 1 dated values; it needs at least 2"):
        tabular.check_series(frame, "day", "sales", "store", min_length=2)
    with pytest.raises(InvalidInput, match="The series has 2 dated values; it needs at least 7"):
        tabular.check_series(frame.filter(pl.col("store") == "A"), "day", "sales", min_length=7)


def test_the_daily_sales_sample_is_three_clean_series():
    frame = pl.read_csv(SAMPLES / "daily-sales.csv")
    cleaned = tabular.check_series(frame, "date", "sales", "store", min_length=400)
    assert cleaned.group_by("store").len().sort("store").rows() == [("A", 400), ("B", 400), ("C", 400)]
    assert tabular.profile_frame(frame)["suggestions"]["date_columns"] == ["date"]
    assert tabular.profile_frame(frame)["suggestions"]["series_columns"] == ["store"]  # dates repeat


def test_a_series_column_is_suggested_only_where_it_tells_the_repeated_dates_apart():
    days = ["2025-01-01", "2025-01-01", "2025-01-02", "2025-01-02"]
    frame = pl.DataFrame({"day": days, "site": ["a", "b", "a", "b"], "kind": ["x", "x", "x", "y"],
                          "note": ["n", None, "n", "m"], "sales": [1.0, 2.0, 3.0, 4.0]})
    assert tabular.profile_frame(frame)["suggestions"]["series_columns"] == ["site"]  # not kind, not note
    assert tabular.profile_frame(frame.head(3).slice(1))["suggestions"]["series_columns"] == []  # one per day


def test_cli_add_list_and_profile(cli_env, tmp_path):
    source = tmp_path / "customers.csv"
    source.write_bytes(CSV)
    added = run(cli_env, "datasets", "add", str(source), "--name", "Customers", "--as", "dan", "--json")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["num_rows"] == 3
    again = run(cli_env, "datasets", "add", str(source), "--name", "Customers", "--as", "dan")
    assert again.returncode == 1 and "already exists" in again.stderr
    listed = run(cli_env, "datasets", "list", "--as", "anna", "--json")
    assert "Customers" in [d["name"] for d in json.loads(listed.stdout)]
    assert "Customers" not in run(cli_env, "datasets", "list", "--as", "diego").stdout
    profiled = run(cli_env, "datasets", "profile", "Customers", "--as", "dan", "--target", "churned",
                   "--json")
    assert profiled.returncode == 0, profiled.stderr
    data = json.loads(profiled.stdout)
    assert data["rows"] == 3 and data["suggestions"]["binary_targets"] == ["plan", "spend", "churned"]
    text = run(cli_env, "datasets", "profile", "Customers", "--as", "dan", "--target", "churned").stdout
    assert "Target 'churned':" in text and "Binary targets: plan, spend, churned" in text
    hidden = run(cli_env, "datasets", "profile", "Customers", "--as", "diego")
    assert hidden.returncode == 1 and "No dataset 'Customers' in your organisation" in hidden.stderr


def _plant(store, username: str, name: str, file_path) -> str:
    """A dataset row whose path was stored verbatim, as an older legacy import left it."""
    org_id = ctx_of(store, username).org_id
    with store.transaction() as con:
        return con.execute(
            "INSERT INTO datasets (org_id, name, file_path, source_type, file_format)"
            " VALUES (?, ?, ?, 'qa_export', 'csv') RETURNING uuid::VARCHAR",
            [org_id, name, str(file_path)],
        ).fetchone()[0]


def test_a_stored_path_outside_the_organisations_folder_is_never_read(store, demo_copy, tmp_path):
    secret = tmp_path / "passwd.csv"  # beside the data home: a server file, not a dataset
    secret.write_bytes(b"user,shell\nroot,/bin/bash\n")
    helio = _register(store, demo_copy, CSV, "Helio customers", username="diego")  # inside the home
    own = demo_copy.exports_dir / f"org-{ctx_of(store, 'dan').org_id}" / "datasets"
    own.mkdir(parents=True, exist_ok=True)
    (own / "innocent.csv").symlink_to(secret)
    planted = {
        "absolute": _plant(store, "dan", "Absolute", secret),
        "relative": _plant(store, "dan", "Relative", "../passwd.csv"),
        "other organisation": _plant(store, "dan", "Theirs", helio["file_path"]),
        "symlink": _plant(store, "dan", "Symlink", own / "innocent.csv"),
    }
    dan = ctx_of(store, "dan")
    with store.connect() as con:
        for dataset in planted.values():
            outside = "lies outside your organisation's datasets folder in the data home"
            with pytest.raises(NotAllowed, match=outside):
                datasets.read_dataset(dan, con, dataset)
            with pytest.raises(NotAllowed, match=outside):
                tabular.load_frame(dan, con, dataset)
            with pytest.raises(NotAllowed, match=outside):
                tabular.profile(dan, con, dataset)
    with store.transaction() as con:  # unregistering such a row leaves the file it names alone
        for dataset in planted.values():
            datasets.delete_dataset(dan, con, demo_copy, dataset)
    assert secret.read_bytes().startswith(b"user,shell") and Path(helio["file_path"]).is_file()
    with store.connect() as con:
        assert tabular.load_frame(ctx_of(store, "diego"), con, "Helio customers").height == 3


def test_a_utf16_csv_from_a_spreadsheet_registers(store, demo_copy):
    """Excel's "Unicode text" is UTF-16 with a byte-order mark and tabs: it used to be refused as
    'binary data'."""
    text = "customer\ttenure\tchurned\r\nanna\t12\tno\r\nbjörn\t3\tyes\r\n"
    for name, data in [("le", b"\xff\xfe" + text.encode("utf-16-le")),
                       ("be", b"\xfe\xff" + text.encode("utf-16-be"))]:
        _register(store, demo_copy, data, f"customers-{name}", filename=f"{name}.csv")
        with store.connect() as con:
            frame = tabular.load_frame(ctx_of(store, "dan"), con, f"customers-{name}")
        assert frame.columns == ["customer", "tenure", "churned"]
        assert frame["customer"].to_list() == ["anna", "björn"] and frame["tenure"].to_list() == [12, 3]
