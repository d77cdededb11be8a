"""The SQL console (issue 8): reading queries over the user's organisation only, hostile SQL
refused with a clear message, saved queries per user, the CLI and the page."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, ctx_of
from tests.test_cli import run
from tests.test_pages import app, logged_in  # noqa: F401  (the fixture)
from workbench import home
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.sql_console import console as sql_console


def test_a_query_sees_only_the_users_organisation(demo_copy):
    store = home.open_store(demo_copy)
    dan, diego = ctx_of(store, "dan"), ctx_of(store, "diego")
    with store.connect() as con:
        counts = dict(con.execute("SELECT org_id, count(*) FROM llm_calls GROUP BY 1").fetchall())
    for ctx in (dan, diego):
        seen = sql_console.run(ctx, store, "SELECT count(*) AS n FROM llm_calls").rows[0]["n"]
        assert seen == counts[ctx.org_id] < sum(counts.values())
    seen_users = sql_console.run(diego, store, "SELECT DISTINCT user_id FROM llm_calls").rows
    users = {r["user_id"] for r in seen_users}
    assert dan.user_id not in users and diego.user_id in users


@pytest.mark.parametrize(
    "sql,message",
    [
        ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
        ("ATTACH 'other.duckdb'", "Only reading queries"),
        ("COPY llm_calls TO '/tmp/out.csv'", "Only reading queries"),
        ("INSTALL httpfs", "Only reading queries"),
        ("PRAGMA database_list", "Only reading queries"),
        ("SET threads = 1", "Only reading queries"),
        ("CREATE TABLE x AS SELECT 1", "Only reading queries"),
        ("DROP TABLE users", "Only reading queries"),
        ("SELECT 1; SELECT 2", "one statement"),
        ("SELECT * FROM users WHERE org_id <> 0", "failed"),  # no users table in the sandbox at all
    ],
)
def test_hostile_sql_fails_with_a_clear_message(demo_store, sql, message):
    dan = ctx_of(demo_store, "dan")
    with pytest.raises(InvalidInput, match=message):
        sql_console.run(dan, demo_store, sql)


def test_the_console_needs_its_permission_and_saved_queries_are_per_user(demo_copy):
    store = home.open_store(demo_copy)
    dan, anna, mike = ctx_of(store, "dan"), ctx_of(store, "anna"), ctx_of(store, "mike")
    with pytest.raises(NotAllowed):
        sql_console.run(mike, store, "SELECT 1")  # managers read dashboards, not SQL
    with store.connect() as con:
        sql_console.save(dan, con, "calls by model", "SELECT model, count(*) FROM llm_calls GROUP BY 1")
        sql_console.save(dan, con, "calls by model", "SELECT model FROM llm_calls")  # replaced
        with pytest.raises(InvalidInput, match="Only reading"):
            sql_console.save(dan, con, "bad", "DELETE FROM llm_calls")
        assert [(q["name"], q["sql"]) for q in sql_console.saved(dan, con)] == [
            ("calls by model", "SELECT model FROM llm_calls")
        ]
        assert sql_console.saved(anna, con) == []
        with pytest.raises(NotFound):
            sql_console.delete(anna, con, "calls by model")
        sql_console.delete(dan, con, "calls by model")
        assert sql_console.saved(dan, con) == []


def test_the_cli_obeys_the_same_rules(cli_env):
    ok = run(cli_env, "sql", "SELECT count(*) AS n FROM documents", "--as", "dan", "--json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["rows"][0]["n"] > 0
    refused = run(cli_env, "sql", "SELECT * FROM read_csv('/etc/passwd')", "--as", "dan")
    assert refused.returncode != 0 and "disabled" in refused.stderr and "root:" not in refused.stdout


def test_the_page_runs_saves_and_refuses(app):  # noqa: F811
    at = logged_in(app, "dan", "pages/workbench/sql.py")
    at.text_area(key="sql.text").set_value(
        "SELECT provider, count(*) AS calls FROM llm_calls GROUP BY 1"
    ).run()
    at.button[0].click().run()
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) >= 3 and "rows" in at.caption[0].value
    at.text_area(key="sql.text").set_value("SELECT * FROM read_csv('/etc/passwd')").run()
    at.button[0].click().run()
    assert "disabled" in at.error[0].value
    direct = AppTest.from_file(str(ROOT / "pages" / "workbench" / "sql.py"), default_timeout=30)
    direct.session_state["ctx"] = ctx_of(app, "mike")
    direct.run()
    assert direct.error and "sql:query" in direct.error[0].value
