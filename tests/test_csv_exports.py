"""CSV exports neutralise formula cells as OWASP recommends (a text cell starting with =, +, -, @, tab
or carriage return gets a leading single quote, and is quoted), numbers stay numbers, and the QA
pairs CSV the workbench writes imports back to the same texts."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests.conftest import ctx_of
from tests.test_pages import APP, app  # noqa: F401 - the `app` fixture
from workbench import csv_safe, home
from workbench.accounts import users
from workbench.calls import datasets, qa
from workbench.calls import imports as calls
from workbench.usage import price_catalogue

FORMULA = ("=", "+", "-", "@", "\t", "\r")
HYPERLINK = '=HYPERLINK("http://x","y")'
SUM = "@SUM(1)"
SOME = settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def cells(data: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(data.decode("utf-8-sig"), newline="")))


def formula_cells(data: bytes) -> list[str]:
    """Cells a spreadsheet would run: text starting with a formula character (a number is fine)."""
    found = []
    for row in cells(data):
        for cell in row:
            if cell.startswith(FORMULA):
                try:
                    float(cell)
                except ValueError:
                    found.append(cell)
    return found


def test_text_cells_are_neutralised_and_numbers_are_not():
    frame = pl.DataFrame({
        "text": [HYPERLINK, SUM, "+1", "-5", "\tx", "\rx", "plain", "'=kept", None],
        "number": [-3.5, 2.0, None, -1e-7, 0.0, 1.0, 2.0, 3.0, 4.0],
        "count": [-3, 1, 2, 3, 4, 5, 6, 7, None],
    })
    data = csv_safe.write_csv(frame)
    assert formula_cells(data) == []
    rows = cells(data)
    assert [r[0] for r in rows[1:]] == [
        "'" + HYPERLINK, "'" + SUM, "'+1", "'-5", "'\tx", "'\rx", "plain", "''=kept", ""
    ]
    # the escaped cell quoted, the numbers bare
    assert data.decode().splitlines()[1] == '"\'=HYPERLINK(""http://x"",""y"")",-3.5,-3'
    assert pl.read_csv(io.BytesIO(data))["number"].to_list() == frame["number"].to_list()
    assert pl.read_csv(io.BytesIO(data))["count"].to_list() == frame["count"].to_list()
    assert [csv_safe.restore(c) for c in [r[0] for r in rows[1:]]] == [
        HYPERLINK, SUM, "+1", "-5", "\tx", "\rx", "plain", "'=kept", ""
    ]
    for text in ("=1", "'=1", "''@x", "'", "''", "'a", "-", "a=b", ""):  # restore undoes neutralise
        assert csv_safe.restore(csv_safe.neutralise(text)) == text
    assert csv_safe.restored(pl.read_csv(io.BytesIO(data), infer_schema=False))["text"].to_list() == \
        frame["text"].to_list()


def test_categorical_and_empty_frames():
    frame = pl.DataFrame({"c": ["=1", "a"]}, schema={"c": pl.Categorical})
    assert formula_cells(csv_safe.write_csv(frame)) == []
    assert cells(csv_safe.write_csv(pl.DataFrame({"a": []}, schema={"a": pl.Utf8}))) == [["a"]]


@pytest.fixture
def wb(demo_copy):
    return home.Workbench(demo_copy)


def hostile_data(wb) -> None:
    """A QA pair, a call and a price whose texts are formulas."""
    store = wb.store
    anna = ctx_of(store, "anna")
    qa.create_pair(anna, wb, "Customer care line", HYPERLINK, "-5 euros, @once")
    calls.import_calls(
        anna, wb, "f.csv",
        f"call_id,role,content,index\n+CALL-1,customer,{SUM} how do I pay?,0\n+CALL-1,agent,=1+1 you pay,1\n"
        .encode(), "Customer care line",
    )
    with store.connect() as con:
        alice = ctx_of(store, "alice")
        price_catalogue.set_price(alice, con, provider="cloudflare", model="@cf/meta/llama-3-8b",
                                  input_per_million=0.5, output_per_million=1.5)
        users.add_user(alice, con, "eve", "eve@northwind.example", "a-long-password", "analyst",
                       full_name="=cmd|' /C calc'!A0")


def test_the_qa_export_is_neutralised_and_imports_back_unchanged(wb):
    cfg, store = wb.settings, wb.store
    hostile_data(wb)
    anna = ctx_of(store, "anna")
    with store.connect() as con:
        made = datasets.export_qa(anna, con, cfg, "Customer care line", "csv")
    assert formula_cells(made["data"]) == []
    assert ["'" + HYPERLINK, "'-5 euros, @once"] in cells(made["data"])
    again = qa.read_csv(made["filename"], made["data"])
    assert {"question": HYPERLINK, "answer": "-5 euros, @once", "call_id": None} in again
    with store.connect() as con:
        pairs = qa.list_pairs(anna, con, "Customer care line")
    assert [(r["question"], r["answer"]) for r in again] == [(p["question"], p["answer"]) for p in pairs]


def test_a_qa_cell_a_user_quoted_by_hand_keeps_its_quote():
    rows = qa.read_csv("qa.csv", b"question,answer\n'hello?,'quoted answer\n")
    assert rows[0]["question"] == "'hello?" and rows[0]["answer"] == "'quoted answer"


@pytest.fixture
def downloads(monkeypatch):
    """The bytes of every download button the pages render, by file name."""
    captured: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes | str) and (filename or "").endswith(".csv"):
            captured[filename] = path_or_data.encode() if isinstance(path_or_data, str) else path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return captured


def page(store, username: str, path: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["ctx"] = ctx_of(store, username)
    at.run()
    at.switch_page(path).run()
    assert not at.exception, at.exception
    return at


def test_every_page_csv_download_is_neutralised(app, demo_copy, downloads):  # noqa: F811
    store = app
    hostile_data(home.Workbench(demo_copy))
    page(store, "anna", "pages/calls/browse.py")
    search_page = page(store, "anna", "pages/calls/search.py")
    search_page.text_input(key="calls.query").input("SUM").run()
    assert not search_page.exception, search_page.exception
    qa_page = page(store, "anna", "pages/calls/qa.py")
    qa_page.button(key="qa.export").click().run()
    assert not qa_page.exception, qa_page.exception
    page(store, "anna", "pages/calls/datasets.py")
    page(store, "alice", "pages/admin/users.py")
    page(store, "alice", "pages/admin/prices.py")
    page(store, "alice", "pages/admin/audit.py")
    page(store, "anna", "pages/documents/library.py")
    page(store, "alice", "pages/usage/overview.py")
    names = set(downloads)
    assert {"calls.csv", "utterance-search.csv", "qa-pairs.csv", "users.csv", "price-catalogue.csv",
            "audit-log.csv", "documents.csv"} <= names, names
    assert any(n.startswith("qa-") and n != "qa-pairs.csv" for n in names), names  # the registered export
    for name, data in downloads.items():
        assert formula_cells(data) == [], name
    everything = b"".join(downloads.values()).decode()
    for escaped in ("'" + HYPERLINK.replace('"', '""'), "'" + SUM, "'+CALL-1", "'@cf/meta/llama-3-8b",
                    "'=cmd|' /C calc'!A0"):
        assert escaped in everything, escaped
    prices = pl.read_csv(io.BytesIO(downloads["price-catalogue.csv"]))
    assert prices.filter(pl.col("provider") == "cloudflare")["input_per_million"].to_list() == [0.5]



@SOME
@given(st.lists(st.text(alphabet=st.sampled_from("=+-@\t\r'a ,\"\n1."), max_size=8) | st.text(max_size=8),
                min_size=1, max_size=5))
def test_any_text_exports_without_formula_cells_and_imports_back_unchanged(texts):
    data = csv_safe.write_csv(pl.DataFrame({"text": texts, "n": [-1.5] * len(texts)}))
    assert formula_cells(data) == []
    rows = cells(data)[1:]
    assert [csv_safe.restore(row[0]) for row in rows] == texts and {row[1] for row in rows} == {"-1.5"}
