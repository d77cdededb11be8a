"""Deeply nested JSON (`[` x 100,000, or a value nested past the limit) given to the calls, usage and
price imports: a one-line error naming the file, no traceback, and no row changed, through the
service functions and through the real `workbench` command."""

from __future__ import annotations

import json

import pytest

from tests.conftest import DEMO_TODAY
from tests.test_cli import run
from workbench import home, user_files
from workbench.accounts import auth
from workbench.calls import imports as calls
from workbench.errors import ImportReport, InvalidInput
from workbench.usage import imports as usage_import
from workbench.usage import price_import

OPEN = b"[" * 100_000
CLOSED = b"[" * 1_000 + b"]" * 1_000  # parses in Python and polars, but far past the depth limit
USAGE_ROW = b'{"timestamp": "2026-11-02T10:15:00Z", "user": "alice", "model": "gpt-4o", "prompt_tokens": 5'


def snapshot(store) -> dict[str, int]:
    """Rows per table of the whole database."""
    with store.connect() as con:
        tables = [r[0] for r in con.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_type = 'BASE TABLE'"
            " AND table_schema = 'main' ORDER BY 1"
        ).fetchall()]
        return {t: con.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in tables}


@pytest.fixture
def wb(demo_copy):
    return home.Workbench(demo_copy)


@pytest.fixture
def store(wb):
    return wb.store


def test_the_helper_refuses_deep_json_with_a_value_error_and_reads_the_rest():
    for data in (OPEN, CLOSED, OPEN.decode(), b'{"a": ' + CLOSED + b"}"):
        with pytest.raises(ValueError, match="nested more than 100 levels deep"):
            user_files.load_json(data)
    assert user_files.load_json(b"[" * 100 + b"]" * 100) is not None  # 100 levels is still fine
    assert user_files.load_json('{"a": [1, {"b": null}]}') == {"a": [1, {"b": None}]}


CALL_FILES = [
    ("deep.json", OPEN),
    ("deep.json", b'[{"call_id": "a", "transcript": "Agent: hi", "metadata": {"x": ' + CLOSED + b"}}]"),
    ("deep.jsonl", b'{"call_id": "a", "role": "agent", "content": "hi"}\n' + OPEN),
    ("deep.jsonl", b'{"call_id": "a", "role": "agent", "content": "hi", "x": ' + CLOSED + b"}"),
    ("deep.csv", b"call_id,transcript,metadata\na,Agent: hi," + OPEN + b"\n"),
]


@pytest.mark.parametrize(("name", "data"), CALL_FILES, ids=lambda v: v if isinstance(v, str) else "")
def test_calls_import_refuses_deep_json_naming_the_file(wb, name, data):
    store = wb.store
    before = snapshot(store)
    with store.connect() as con:
        anna = auth.context_for(con, "anna")
    with pytest.raises(ImportReport, match=f"^{name}: nothing imported.*nested more than 100 levels deep"):
        calls.import_calls(anna, wb, name, data, "Customer care line")
    assert snapshot(store) == before


USAGE_FILES = [
    ("deep.json", OPEN),
    ("deep.json", b"[" + USAGE_ROW + b', "usage": ' + CLOSED + b"}]"),
    ("deep.jsonl", OPEN),
    ("deep.ndjson", USAGE_ROW + b"}\n" + USAGE_ROW + b', "x": ' + OPEN),
    ("deep.jsonl", USAGE_ROW + b', "usage": ' + CLOSED + b"}"),  # polars reads this one itself
]


@pytest.mark.parametrize(("name", "data"), USAGE_FILES, ids=lambda v: v if isinstance(v, str) else "")
def test_usage_import_refuses_deep_json_naming_the_file(store, name, data):
    before = snapshot(store)
    with store.connect() as con, pytest.raises(
        ImportReport, match=f"^{name}: nothing imported.*nested more than 100 levels deep"
    ):
        usage_import.import_usage(auth.context_for(con, "alice"), con, name, data, now=DEMO_TODAY)
    assert snapshot(store) == before


@pytest.mark.parametrize("data", [OPEN, b'{"gpt-x": {"input_cost_per_token": ' + CLOSED + b"}}"])
def test_price_import_refuses_deep_json_naming_the_file(store, data):
    before = snapshot(store)
    with store.connect() as con, pytest.raises(
        InvalidInput, match="^prices.json: .*nested more than 100 levels deep.*Nothing was imported"
    ):
        price_import.import_litellm(auth.context_for(con, "alice"), con, data, source_name="prices.json")
    assert snapshot(store) == before


@pytest.mark.parametrize(
    "command",
    [
        ["calls", "import", "{file}", "--project", "Customer care line", "--as", "anna"],
        ["usage", "import", "{file}", "--as", "alice"],
        ["prices", "import", "{file}", "--as", "alice"],
    ],
    ids=lambda c: " ".join(c[:2]),
)
@pytest.mark.parametrize("suffix", [".json", ".jsonl"])
def test_the_cli_prints_one_line_naming_the_file_and_changes_nothing(cli_env, demo_copy, tmp_path, command,
                                                                      suffix):
    path = tmp_path / f"deep{suffix}"
    path.write_bytes(OPEN)
    before = snapshot(home.open_store(demo_copy))
    result = run(cli_env, *[str(path) if a == "{file}" else a for a in command])
    assert result.returncode == 1
    assert "Traceback" not in result.stderr and "RecursionError" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and path.name in lines[0], result.stderr
    assert "nested more than 100 levels deep" in lines[0]
    assert snapshot(home.open_store(demo_copy)) == before


def test_the_cli_json_report_of_a_deep_file_is_valid_json(cli_env, tmp_path):
    path = tmp_path / "deep.json"
    path.write_bytes(OPEN)
    result = run(cli_env, "calls", "import", str(path), "--project", "Customer care line", "--as", "anna",
                 "--json")
    assert result.returncode == 1 and "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["file"] == "deep.json"
    assert "nested more than 100 levels deep" in report["problems"][0]["problem"]
