"""Importing usage logs of LLM calls: every format and usage-object style, costs from the catalogue,
rollups kept equal to the raw rows, idempotent re-imports, and all-or-nothing files whose report
names each bad row."""

import io
import json
from datetime import UTC, datetime

import polars as pl
import pytest

from tests.conftest import DEMO_TODAY, ROOT
from tests.test_cli import run
from workbench import home
from workbench.accounts import auth
from workbench.errors import ImportReport, InvalidInput, NotAllowed
from workbench.usage import imports as usage_import
from workbench.usage import prices, rollup

SAMPLE = ROOT / "data" / "samples" / "usage-log.jsonl"
CSV = (
    "id,timestamp,user,model,provider,operation,prompt_tokens,completion_tokens,cached_tokens,latency_ms,"
    "project,currency\n"
    "c-1,2026-11-02T10:15:00+01:00,alice,gpt-4o-mini,openai,chat,1200,300,200,850,Customer care line,USD\n"
    "c-2,2026-11-02T11:00:00Z,anna@northwind.example,gpt-4o-mini,openai,,800,100,0,420,,\n"
)
OPENAI = {
    "id": "chatcmpl-1",
    "timestamp": "2026-11-03T09:00:00Z",
    "user": "dan",
    "provider": "openai",
    "model": "gpt-4o-mini",
    "usage": {
        "prompt_tokens": 2000,
        "completion_tokens": 150,
        "total_tokens": 2150,
        "prompt_tokens_details": {"cached_tokens": 500},
    },
}
ANTHROPIC = {
    "id": "msg_1",
    "timestamp": 1793700000,  # epoch seconds
    "user": "anna",
    "model": "anthropic/claude-sonnet-4",
    "operation": "analysis",
    "usage": {"input_tokens": 900, "output_tokens": 200, "cache_read_input_tokens": 1000},
}


@pytest.fixture
def store(demo_copy):
    return home.open_store(demo_copy)


def load(store, name, data, username="alice", **options):
    options.setdefault("now", DEMO_TODAY)
    with store.connect() as con:
        ctx = auth.context_for(con, username)
        return usage_import.import_usage(ctx, con, name, data, **options)


def jsonl(*rows) -> bytes:
    return "\n".join(json.dumps(r) for r in rows).encode()


def imported(store, external_id):
    with store.connect() as con:
        cur = con.execute(
            "SELECT org_id, provider, model, operation_type, prompt_tokens, completion_tokens, cached_tokens,"
            " embedding_tokens, total_tokens, cost_usd, created_at, user_id, project_id, latency_ms"
            " FROM llm_calls WHERE external_id = ?",
            [external_id],
        )
        names = [d[0] for d in cur.description]
        return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def catalogue_cost(store, row) -> float:
    """The call's cost from the catalogue rate in effect on its day (seed 004's formula)."""
    with store.connect() as con:
        rate = prices.rate_for(con, row["org_id"], row["provider"], row["model"], row["created_at"])
    cached_rate = rate["cached_input_per_million"]
    cached_rate = rate["input_per_million"] if cached_rate is None else cached_rate
    return (
        (row["prompt_tokens"] - row["cached_tokens"]) * rate["input_per_million"]
        + row["cached_tokens"] * cached_rate
        + row["completion_tokens"] * rate["output_per_million"]
    ) / 1e6


def local(*fields) -> datetime:
    """A UTC wall time as the server's local naive time (what llm_calls.created_at holds)."""
    return datetime(*fields, tzinfo=UTC).astimezone().replace(tzinfo=None)


def count(store) -> int:
    with store.connect() as con:
        return con.execute("SELECT count(*) FROM llm_calls").fetchall()[0][0]


def rollup_differences(store) -> list:
    with store.connect() as con:
        return rollup.differences(con)


def test_csv_rows_are_priced_from_the_catalogue_and_rolled_up(store):
    result = load(store, "log.csv", CSV.encode())
    assert (result["rows"], result["skipped_existing"], result["unpriced"]) == (2, 0, 0)
    [first] = imported(store, "c-1")
    assert (first["prompt_tokens"], first["completion_tokens"], first["cached_tokens"]) == (1200, 300, 200)
    assert first["total_tokens"] == 1500 and first["latency_ms"] == 850
    assert first["created_at"] == local(2026, 11, 2, 9, 15)  # +01:00 -> UTC -> server time
    assert first["cost_usd"] == pytest.approx(catalogue_cost(store, first))
    assert first["project_id"] is not None
    [second] = imported(store, "c-2")  # a user named by email; operation defaults to chat
    assert second["operation_type"] == "chat" and second["project_id"] is None
    assert second["cost_usd"] == pytest.approx(catalogue_cost(store, second))
    assert rollup_differences(store) == []


def test_jsonl_with_openai_and_anthropic_usage_objects(store):
    result = load(store, "log.jsonl", jsonl(OPENAI, ANTHROPIC))
    assert result["rows"] == 2
    [openai] = imported(store, "chatcmpl-1")
    assert (openai["prompt_tokens"], openai["completion_tokens"], openai["cached_tokens"]) == (2000, 150, 500)
    assert openai["cost_usd"] == pytest.approx(catalogue_cost(store, openai))
    [claude] = imported(store, "msg_1")
    # Anthropic's input excludes the cache: the prompt is input + cache reads
    assert (claude["provider"], claude["model"], claude["operation_type"]) == (
        "anthropic",
        "claude-sonnet-4",
        "analysis",
    )
    assert (claude["prompt_tokens"], claude["cached_tokens"], claude["completion_tokens"]) == (
        1900,
        1000,
        200,
    )
    assert claude["created_at"] == local(*datetime.fromtimestamp(1793700000, UTC).timetuple()[:6])
    assert claude["cost_usd"] == pytest.approx(catalogue_cost(store, claude))
    assert any("Anthropic" in note for note in result["notes"])
    assert rollup_differences(store) == []


def test_a_json_array_and_a_csv_usage_column_are_read_too(store):
    assert load(store, "log.json", json.dumps([OPENAI]).encode())["rows"] == 1
    usage = json.dumps(ANTHROPIC["usage"]).replace('"', '""')
    csv = (
        f'id,timestamp,user,model,usage\nm-2,2026-11-04T08:00:00Z,anna,anthropic/claude-sonnet-4,"{usage}"\n'
    )
    assert load(store, "log.csv", csv.encode())["rows"] == 1
    assert imported(store, "m-2")[0]["prompt_tokens"] == 1900


def test_parquet_with_zoned_timestamps(store):
    frame = pl.DataFrame(
        {
            "id": ["p-1", "p-2"],
            "timestamp": [datetime(2026, 11, 5, 8, 0, tzinfo=UTC), datetime(2026, 11, 5, 9, 30, tzinfo=UTC)],
            "user": ["alice", "mike"],
            "model": ["gpt-4o-mini", "gpt-4o-mini"],
            "provider": ["openai", "openai"],
            "prompt_tokens": [1000, 3000],
            "completion_tokens": [100, 250],
            "cached_tokens": [0, 1000],
        }
    )
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    assert load(store, "log.parquet", buffer.getvalue())["rows"] == 2
    [row] = imported(store, "p-2")
    assert row["created_at"] == local(2026, 11, 5, 9, 30)
    assert (row["prompt_tokens"], row["cached_tokens"], row["total_tokens"]) == (3000, 1000, 3250)
    assert row["cost_usd"] == pytest.approx(catalogue_cost(store, row))
    assert rollup_differences(store) == []


def test_importing_the_same_file_again_adds_nothing(store):
    data = SAMPLE.read_bytes()
    first = load(store, SAMPLE.name, data)
    before = count(store)
    again = load(store, SAMPLE.name, data)
    assert (again["rows"], again["skipped_existing"]) == (0, first["rows"])
    assert count(store) == before and rollup_differences(store) == []


def test_rows_without_an_id_are_always_added(store):
    row = {k: v for k, v in OPENAI.items() if k != "id"}
    assert load(store, "a.jsonl", jsonl(row))["rows"] == 1
    assert load(store, "a.jsonl", jsonl(row))["rows"] == 1


def test_model_casing_and_provider_prefixes_are_normalised(store):
    rows = [
        {**OPENAI, "id": "n-1", "model": " GPT-4o-Mini ", "provider": "OpenAI"},
        {**OPENAI, "id": "n-2", "model": "openai/GPT-4o", "provider": None},
        {**OPENAI, "id": "n-3", "model": "gpt-4o-mini", "provider": None},  # the catalogue names it
    ]
    result = load(store, "n.jsonl", jsonl(*rows))
    got = {i: imported(store, i)[0] for i in ("n-1", "n-2", "n-3")}
    assert {i: (r["provider"], r["model"]) for i, r in got.items()} == {
        "n-1": ("openai", "gpt-4o-mini"),
        "n-2": ("openai", "gpt-4o"),
        "n-3": ("openai", "gpt-4o-mini"),
    }
    assert all(r["cost_usd"] is not None for r in got.values())
    notes = " ".join(result["notes"])
    assert "2 model names trimmed or lower-cased" in notes and "1 provider prefixes split" in notes


def test_the_cost_column_is_ignored_and_said_so(store):
    result = load(store, "c.jsonl", jsonl({**OPENAI, "cost": 99.0}))
    assert imported(store, "chatcmpl-1")[0]["cost_usd"] < 1
    assert any("cost column was ignored" in note for note in result["notes"])


def test_an_unpriced_model_is_counted_not_costed_at_zero(store):
    row = {**OPENAI, "model": "ft:gpt-4o-mini:northwind:support-v2"}
    assert load(store, "ft.jsonl", jsonl(row))["unpriced"] == 1
    assert imported(store, "chatcmpl-1")[0]["cost_usd"] is None


BAD = [
    ({"usage": None, "prompt_tokens": -5}, "prompt_tokens", "negative"),
    ({"usage": None, "prompt_tokens": "lots"}, "prompt_tokens", "not a number"),
    ({"usage": None, "prompt_tokens": 12.5}, "prompt_tokens", "not a whole number"),
    ({"currency": "EUR"}, "currency", "not supported"),
    ({"timestamp": "2026-11-21T12:00:00Z"}, "timestamp", "future"),
    ({"timestamp": "2026-11-03T09:00:00"}, "timestamp", "no time zone"),
    ({"timestamp": "yesterday"}, "timestamp", "not an ISO 8601"),
    ({"user": "hannah"}, "user", "not a user of Northwind"),
    ({"project": "Support desk"}, "project", "no such project"),
    ({"operation": "translation"}, "operation", "not one of"),
    ({"status": "timeout"}, "status", "not one of"),
    ({"model": ""}, "model", "missing"),
    ({"usage": None}, "prompt_tokens", "no token counts"),
    ({"usage": {**OPENAI["usage"], "total_tokens": 9}}, "total_tokens", "embedding tokens (2150)"),
]


@pytest.mark.parametrize(("change", "column", "says"), BAD, ids=[f"{c}-{s}" for _, c, s in BAD])
def test_a_bad_row_is_reported_by_row_and_column_and_nothing_is_written(store, change, column, says):
    rows = [{**OPENAI, "id": "ok-1"}, {**OPENAI, "id": "bad-2", **change}, {**OPENAI, "id": "ok-3"}]
    before = count(store)
    with pytest.raises(ImportReport) as raised:
        load(store, "bad.jsonl", jsonl(*rows))
    assert [(row, text.split(":")[0]) for row, text in raised.value.problems] == [(2, column)]
    assert says in raised.value.problems[0][1]
    assert count(store) == before and imported(store, "ok-1") == []


def test_a_csv_row_without_token_counts_is_refused(store):
    csv = CSV + "c-3,2026-11-02T12:00:00Z,alice,gpt-4o-mini,openai,chat,,, ,,,\n"
    with pytest.raises(ImportReport) as raised:
        load(store, "log.csv", csv.encode())
    assert raised.value.problems == [
        (3, "prompt_tokens: no token counts (give the token columns or a usage object)")
    ]


def test_duplicate_ids_name_both_rows(store):
    with pytest.raises(ImportReport) as raised:
        load(store, "dup.jsonl", jsonl(OPENAI, {**OPENAI, "id": "other"}, OPENAI))
    assert raised.value.problems == [(3, "id: 'chatcmpl-1' repeats row 1")]


def test_every_problem_is_collected_up_to_fifty(store):
    rows = [
        {**OPENAI, "id": f"x-{i}", "usage": None, "prompt_tokens": -1, "user": "hannah"} for i in range(40)
    ]
    with pytest.raises(ImportReport) as raised:
        load(store, "many.jsonl", jsonl(*rows))
    problems = raised.value.problems
    assert len(problems) == 51 and problems[-1] == (None, "30 more problems not listed")
    assert set(problems[:2]) == {
        (1, "user: 'hannah' is not a user of Northwind Mobile"),
        (1, "prompt_tokens: -1 is negative"),
    }


def test_a_named_timezone_makes_naive_timestamps_acceptable(store):
    row = {**OPENAI, "timestamp": "2026-11-03 10:00:00"}
    result = load(store, "naive.jsonl", jsonl(row), timezone="Europe/Berlin")
    assert imported(store, "chatcmpl-1")[0]["created_at"] == local(2026, 11, 3, 9, 0)
    assert any("read as Europe/Berlin" in note for note in result["notes"])
    with pytest.raises(InvalidInput):
        load(store, "naive.jsonl", jsonl(row), timezone="Mars/Olympus")


def test_files_refused_whole(store):
    with pytest.raises(ImportReport, match="empty"):
        load(store, "e.csv", b"")
    with pytest.raises(ImportReport, match="no rows"):
        load(store, "h.csv", b"timestamp,user,model,prompt_tokens\n")
    with pytest.raises(ImportReport, match="the limit is 1 MB"):
        load(store, "big.csv", b"x" * (2 * 2**20), max_mb=1)
    with pytest.raises(ImportReport, match="missing column user"):
        load(store, "u.csv", b"timestamp,model,prompt_tokens\n2026-11-02T10:00:00Z,gpt-4o,5\n")
    with pytest.raises(ImportReport, match="unsupported type"):
        load(store, "log.xlsx", b"PK\x03\x04")


def test_a_non_admin_may_not_import(store):
    with pytest.raises(NotAllowed):
        load(store, "log.jsonl", jsonl(OPENAI), username="mike")


def test_cli_imports_the_sample_then_skips_it_and_reports_bad_rows(cli_env, demo_copy, tmp_path):
    result = run(cli_env, "usage", "import", str(SAMPLE), "--as", "alice", "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["rows"] == 30 and data["skipped_existing"] == 0 and data["notes"]
    again = run(cli_env, "usage", "import", str(SAMPLE), "--as", "alice")
    assert again.returncode == 0 and "0 calls imported, 30 already imported" in again.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("timestamp,user,model,prompt_tokens\n2026-11-02T10:00:00,alice,gpt-4o,-3\n")
    failed = run(cli_env, "usage", "import", str(bad), "--as", "alice")
    assert failed.returncode == 1
    assert "row 1: timestamp:" in failed.stderr and "row 1: prompt_tokens: -3 is negative" in failed.stderr
    zoned = run(cli_env, "usage", "import", str(bad), "--as", "alice", "--timezone", "UTC", "--json")
    assert zoned.returncode == 1 and [p["problem"] for p in json.loads(zoned.stdout)["problems"]] == [
        "prompt_tokens: -3 is negative"
    ]
    with home.open_store(demo_copy).connect() as con:
        assert rollup.differences(con) == []
    denied = run(cli_env, "usage", "import", str(SAMPLE), "--as", "mike")
    assert denied.returncode == 1 and "admin:full" in denied.stderr


@pytest.mark.parametrize("codec, bom", [("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")])
def test_a_utf16_csv_is_read_like_utf8(store, codec, bom):
    result = load(store, "log.csv", bom + CSV.encode(codec))
    assert (result["rows"], result["unpriced"]) == (2, 0)
    assert imported(store, "c-1")[0]["prompt_tokens"] == 1200
    excel = bom + CSV.replace(",", "\t").replace("c-", "x-").replace("\n", "\r\n").encode(codec)
    assert load(store, "excel.csv", excel)["rows"] == 2
    assert load(store, "log.jsonl", bom + jsonl(OPENAI).decode().encode(codec))["rows"] == 1
    assert rollup_differences(store) == []


def test_a_quoted_formula_cell_of_a_workbench_export_is_read_back(store):
    """The llm-calls CSV the Usage page exports writes a model called "@cf/..." as "'@cf/...";
    importing it again reads the model's own name."""
    data = CSV.replace("gpt-4o-mini,openai,chat", "'@cf/meta/llama-3-8b,cloudflare,chat", 1).encode()
    result = load(store, "log.csv", data)
    assert result["rows"] == 2
    assert imported(store, "c-1")[0]["model"] == "@cf/meta/llama-3-8b"
