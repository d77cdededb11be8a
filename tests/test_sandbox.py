"""The SQL sandbox: one SELECT over the acting user's organisation only, in a private in-memory
DuckDB with external access off; everything else fails with a clear message and changes nothing."""

import pytest

from tests.conftest import ctx_of
from tests.test_chat import REFUND_Q, Scripted, ask, rows
from workbench import home, sandbox
from workbench.errors import InvalidInput


@pytest.fixture
def env(demo_copy):
    from workbench.embed import HashEmbedder

    return demo_copy, home.open_store(demo_copy), home.open_vectors(demo_copy), HashEmbedder()


def run(store, username, sql, **limits):
    with store.connect() as con:
        return sandbox.run(ctx_of(store, username), con, sql, **limits)


def test_each_organisation_sees_only_its_own_rows(env):
    _cfg, store, _vecs, _emb = env
    for username in ("mike", "maria"):  # managers of the two organisations
        org = ctx_of(store, username).org_id
        [(expected,)] = rows(store, "SELECT count(*) FROM llm_calls WHERE org_id = ?", [org])
        result = run(store, username, "SELECT count(*) AS n FROM llm_calls")
        assert result.rows == [{"n": expected}] and result.tables == ["llm_calls"]
    names = run(store, "mike", "SELECT username FROM users ORDER BY 1").rows
    assert "maria" not in {r["username"] for r in names} and "mike" in {r["username"] for r in names}


def test_every_view_runs_for_an_admin_and_a_role_reads_only_its_views(env):
    _cfg, store, _vecs, _emb = env
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
    _cfg, store, _vecs, _emb = env
    before = rows(store, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM llm_calls)")
    with pytest.raises(InvalidInput, match=message):
        run(store, "alice", sql)
    assert rows(store, "SELECT (SELECT count(*) FROM users), (SELECT count(*) FROM llm_calls)") == before


def test_row_and_time_limits(env):
    _cfg, store, _vecs, _emb = env
    capped = run(store, "mike", "SELECT * FROM llm_calls", max_rows=50)
    assert len(capped.rows) == 50 and capped.truncated
    with pytest.raises(InvalidInput, match="longer than 0.5 s"):
        run(store, "mike", "SELECT count(*) FROM range(100000000000) a", time_limit_s=0.5)


def test_with_a_model_the_analytics_agent_runs_its_sql_in_the_sandbox(env):
    _cfg, store, _vecs, _emb = env
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
