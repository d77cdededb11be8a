"""The SQL sandbox: one SELECT over the acting user's organisation only, in a box process over
snapshots of its rows, external access off; everything else fails with a clear message and
changes nothing. Bounds (issue 9): time from the call (copy included), memory, the query's length,
the database file free while the query runs, the box's own temp folder."""

import math
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from tests.conftest import ctx_of
from tests.test_chat import REFUND_Q, Scripted, ask, rows
from workbench import home
from workbench.errors import InvalidInput
from workbench.sql_console import sandbox


@pytest.fixture
def env(demo_copy):
    return home.Workbench(demo_copy)


def run(store, username, sql, **limits):
    return sandbox.run(ctx_of(store, username), store, sql, **limits)


def test_each_organisation_sees_only_its_own_rows(env):
    store = env.store
    for username in ("mike", "maria"):  # managers of the two organisations
        org = ctx_of(store, username).org_id
        [(expected,)] = rows(store, "SELECT count(*) FROM llm_calls WHERE org_id = ?", [org])
        result = run(store, username, "SELECT count(*) AS n FROM llm_calls")
        assert result.rows == [{"n": expected}] and result.tables == ["llm_calls"]
    names = run(store, "mike", "SELECT username FROM users ORDER BY 1").rows
    assert "maria" not in {r["username"] for r in names} and "mike" in {r["username"] for r in names}


def test_every_view_runs_for_an_admin_and_a_role_reads_only_its_views(env):
    store = env.store
    alice = ctx_of(store, "alice")
    with store.connect() as con:
        schema = sandbox.schema_text(alice, con)
    assert all(f"{name}(" in schema for name in sandbox.readable_views(alice))
    for name in sandbox.readable_views(alice):
        assert run(store, "alice", f"SELECT count(*) AS n FROM {name}").rows[0]["n"] >= 0
    with pytest.raises(InvalidInput, match="usage:read"):
        run(store, "anna", "SELECT sum(cost_usd) FROM llm_calls")  # an analyst reads no spend


@pytest.mark.parametrize(
    "sql, message",
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "disabled by configuration"),
        ("SELECT * FROM read_text('/etc/hostname')", "disabled by configuration"),
        ("ATTACH '/tmp/other.duckdb' AS other", "Only reading queries"),
        ("COPY (SELECT 1) TO '/tmp/out.csv'", "Only reading queries"),
        ("INSTALL httpfs", "Only reading queries"),
        ("PRAGMA database_list", "Only reading queries"),
        ("SET enable_external_access = true", "Only reading queries"),
        ("DROP TABLE users", "Only reading queries"),
        ("DELETE FROM llm_calls", "Only reading queries"),
        ("SELECT 1; DROP TABLE users", "one statement"),
        ("SELECT * FROM api_keys", "does not exist"),
        ("SELEC nonsense", "not valid SQL"),
    ],
)
def test_hostile_sql_fails_clearly_and_changes_nothing(env, sql, message):
    store = env.store
    before = rows(store, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM llm_calls)")
    with pytest.raises(InvalidInput, match=message):
        run(store, "alice", sql)
    assert rows(store, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM llm_calls)") == before


def test_row_and_time_limits(env):
    store = env.store
    capped = run(store, "mike", "SELECT * FROM llm_calls", max_rows=50)
    assert len(capped.rows) == 50 and capped.truncated
    with pytest.raises(InvalidInput, match="longer than 0.5 s"):
        run(store, "mike", "SELECT count(*) FROM range(100000000000) a", time_limit_s=0.5)


def test_with_a_model_the_analytics_agent_runs_its_sql_in_the_sandbox(env):
    store = env.store
    llm = Scripted(
        reply="```sql\nSELECT provider, sum(total_tokens) AS tokens FROM llm_calls GROUP BY 1"
        " ORDER BY 2 DESC\n```",
        usage=(300, 40),
    )
    answer = ask(env, "mike", "Which provider used the most tokens?", agent_type="analytics", provider=llm)
    assert "llm_calls" in llm.requests[0].prompt and "api_keys" not in llm.requests[0].prompt
    assert answer.table["name"] == "model_sql" and answer.table["rows"][0]["tokens"] > 0
    assert answer.provider == "openai" and not answer.degraded and answer.grounding["score"] == 1.0
    metered = rows(
        store,
        "SELECT provider, operation_type, prompt_tokens FROM llm_calls c JOIN messages m"
        " ON m.id = c.message_id WHERE m.uuid::VARCHAR = ? AND operation_type = 'analysis'"
        " ORDER BY c.id",
        [answer.message_uuid],
    )
    assert metered == [("openai", "analysis", 300), ("local", "analysis", 0)]

    hostile = Scripted(reply="```sql\nDROP TABLE users\n```")
    fallback = ask(
        env,
        "mike",
        "How many tokens did we use per day over the last 30 days?",
        agent_type="analytics",
        provider=hostile,
    )
    assert (
        fallback.degraded and "could not be used" in fallback.content and "DROP" not in fallback.table["sql"]
    )
    assert fallback.table["name"] == "tokens_per_day" and rows(store, "SELECT count(*) FROM users")[0][0] > 0
    assert ask(env, "anna", REFUND_Q, provider=Scripted()).sources  # documents chats are unaffected


# Issue 9, item 4: bounds on time, memory, the database file and the query's size.


def test_a_table_named_only_in_a_comment_or_a_string_is_not_copied(env):
    store = env.store
    for sql in ("SELECT 1 AS one -- llm_calls", "SELECT 'llm_calls' AS one", "SELECT 1 AS one /* users */"):
        assert run(store, "mike", sql).tables == []
    with_cte = run(store, "mike", "WITH llm_calls AS (SELECT 2 AS one) SELECT one FROM llm_calls")
    assert with_cte.tables == [] and with_cte.rows == [{"one": 2}]


def test_query_text_over_the_size_limit_is_refused_before_parsing(env, monkeypatch):
    store = env.store
    sql = "SELECT 1" + " UNION ALL SELECT 1" * 1_100  # about 21,000 characters
    parsed = []
    real = sandbox._parser
    monkeypatch.setattr(sandbox, "_parser", lambda: parsed.append(1) or real())
    with pytest.raises(InvalidInput, match="characters"):
        run(store, "mike", sql)
    assert parsed == []  # no parser was even opened


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT length(repeat(repeat('ab', 500000), 1200)) AS n",  # one 1.2 GB value
        "SELECT length(string_agg(repeat('x', 1000000), '')) AS n FROM range(1200)",
    ],
)
def test_a_query_needing_more_memory_than_the_box_has_is_stopped(env, sql):
    store = env.store
    with pytest.raises(InvalidInput, match="memory"):  # not the time limit: the memory cap stops it
        run(store, "mike", sql)


def test_the_time_limit_covers_the_copy_of_the_rows(env):
    store = env.store
    began = time.perf_counter()
    with pytest.raises(InvalidInput, match="longer than 0.001 s"):  # no copy is that quick
        run(store, "mike", "SELECT count(*) AS n FROM llm_calls", time_limit_s=0.001)
    assert time.perf_counter() - began < 5  # generous for a busy machine; bench/sql_console.py measures


def test_the_database_file_is_free_while_the_query_runs(env):
    cfg, store = env.settings, env.store
    outcome = {}

    def slow_query():
        try:
            run(store, "mike", "SELECT count(*) FROM llm_calls, range(100000000000)", time_limit_s=3)
        except InvalidInput as exc:
            outcome["error"] = str(exc)

    worker = threading.Thread(target=slow_query)
    worker.start()
    boxes, deadline = cfg.db_path.parent / "cache" / "sandbox" / "boxes", time.monotonic() + 30
    while not (boxes.is_dir() and any(boxes.glob("box-*"))):  # the rows are copied: the box runs
        assert time.monotonic() < deadline and worker.is_alive(), outcome
        time.sleep(0.02)
    other = subprocess.run(  # another process (an admin command) opens the file meanwhile
        [sys.executable, "-c", "import duckdb, sys; duckdb.connect(sys.argv[1]).close()", str(cfg.db_path)],
        capture_output=True,
        text=True,
    )
    worker.join()
    assert other.returncode == 0, other.stderr
    assert "longer than 3 s" in outcome["error"]


@pytest.mark.parametrize("settle_s", [sandbox.SETTLE_S, 0.0])
def test_a_snapshot_is_never_served_after_the_data_changed(env, monkeypatch, settle_s):
    store = env.store
    monkeypatch.setattr(sandbox, "SETTLE_S", settle_s)  # 0: snapshots are reused at once
    mike = ctx_of(store, "mike")
    first = run(store, "mike", "SELECT count(*) AS n, sum(prompt_tokens) AS t FROM llm_calls").rows[0]
    assert run(store, "mike", "SELECT count(*) AS n FROM llm_calls").rows[0]["n"] == first["n"]
    with store.transaction() as con:
        con.execute(
            "INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type, prompt_tokens,"
            " completion_tokens, total_tokens, status) VALUES (?, ?, 'openai', 'gpt-4o', 'chat', 7, 1, 8,"
            " 'success')",
            [mike.org_id, mike.user_id],
        )
    again = run(store, "mike", "SELECT count(*) AS n, sum(prompt_tokens) AS t FROM llm_calls").rows[0]
    assert again == {"n": first["n"] + 1, "t": first["t"] + 7}
    with store.transaction() as con:
        con.execute("UPDATE llm_calls SET prompt_tokens = prompt_tokens + 1 WHERE org_id = ?", [mike.org_id])
    assert run(store, "mike", "SELECT sum(prompt_tokens) AS t FROM llm_calls").rows[0]["t"] == (
        first["t"] + 7 + first["n"] + 1
    )


def test_a_snapshot_is_reused_while_the_data_is_unchanged(env, monkeypatch):
    cfg, store = env.settings, env.store
    monkeypatch.setattr(sandbox, "SETTLE_S", 0.0)
    sql = "SELECT model, sum(cost_usd) AS cost FROM llm_calls GROUP BY 1 ORDER BY 1"
    first = run(store, "mike", sql).rows
    written = sorted(cfg.home.rglob("*.parquet"))
    again = run(store, "mike", sql).rows  # sums over threads: equal to the last bits only roughly
    assert written and [r["model"] for r in again] == [r["model"] for r in first]
    assert all(a["cost"] == b["cost"] or math.isclose(a["cost"], b["cost"], rel_tol=1e-12)
               for a, b in zip(again, first, strict=True))
    assert run(store, "mike", "SELECT count(*) AS n FROM llm_calls WHERE cost_usd > 0").rows[0]["n"] > 0
    assert sorted(cfg.home.rglob("*.parquet")) == written  # no copy: the columns were there


def test_the_box_reads_only_the_snapshots_of_the_users_organisation_and_role(env, monkeypatch):
    cfg, store = env.settings, env.store
    monkeypatch.setattr(sandbox, "SETTLE_S", 0.0)  # keep every snapshot (the copied home is brand new)
    for username, sql in (
        ("mike", "SELECT * FROM llm_calls"),
        ("maria", "SELECT * FROM llm_calls"),
        ("anna", "SELECT * FROM documents"),
        ("alice", "SELECT * FROM documents"),
    ):
        run(store, username, sql)
    anna = ctx_of(store, "anna")
    snapshots = sorted(cfg.home.rglob("*.parquet"))
    others = [p for p in snapshots if f"org-{anna.org_id}{os.sep}" not in str(p)]
    unreadable_views = [p for p in snapshots if p.parent.name.startswith("llm_calls")]  # anna reads no spend
    someone_elses = [p for p in snapshots if "documents" in str(p) and f"user-{anna.user_id}" not in str(p)]
    assert others and unreadable_views and someone_elses
    for path in others + unreadable_views + someone_elses:
        with pytest.raises(InvalidInput, match="disabled by configuration"):
            run(store, "anna", f"SELECT * FROM read_parquet('{path}')")


# Item 13: the box's temp folder is its own.


def test_the_box_cannot_read_duckdbs_default_temp_folder(env, tmp_path, monkeypatch):
    store = env.store
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".tmp").mkdir()
    (tmp_path / ".tmp" / "secret.csv").write_text("secret\nhunter2\n")
    for path in (".tmp/secret.csv", str(tmp_path / ".tmp" / "secret.csv")):
        with pytest.raises(InvalidInput) as refused:
            run(store, "alice", f"SELECT * FROM read_csv('{path}')")
        assert "hunter2" not in str(refused.value)


def test_the_box_spills_to_a_folder_of_its_own_that_is_gone_after_the_query(env):
    cfg, store = env.settings, env.store
    folder = Path(run(store, "alice", "SELECT current_setting('temp_directory') AS t").rows[0]["t"])
    assert folder.is_absolute() and folder.name != ".tmp"
    assert (cfg.home / "cache" / "sandbox") in folder.parents and not folder.exists()
