"""A user of one organisation reads and changes nothing of the other, through any function."""

from datetime import timedelta

import pytest

from tests.conftest import DEMO_TODAY, ctx_of
from workbench.accounts import api_keys, auth, projects, users
from workbench.chat import conversations
from workbench.documents import records as documents
from workbench.errors import NotFound
from workbench.usage import overview


@pytest.fixture
def pair(demo_store):
    """(northwind admin, helio admin, northwind analyst, helio analyst)."""
    return [ctx_of(demo_store, name) for name in ("alice", "hannah", "anna", "amir")]


def test_user_lists_hold_only_the_own_organisation(demo_store, pair):
    alice, hannah, *_ = pair
    with demo_store.connect() as con:
        for ctx in (alice, hannah):
            rows = users.list_users(ctx, con)
            assert rows and {r["organization"] for r in rows} == {ctx.org_name}


def test_projects_documents_conversations_stay_in_their_tenant(demo_store, pair):
    with demo_store.connect() as con:
        uuids = {}
        for ctx in pair:
            found = (
                {p["uuid"] for p in projects.list_projects(ctx, con)}
                | {d["uuid"] for d in documents.list_documents(ctx, con)}
                | {c["uuid"] for c in conversations.list_conversations(ctx, con)})
            assert found
            uuids[ctx.username] = found
        own = {"northwind": uuids["alice"] | uuids["anna"], "helio": uuids["hannah"] | uuids["amir"]}
        assert not own["northwind"] & own["helio"]
        org_of = dict(con.execute(
            "SELECT uuid::VARCHAR, org_id FROM projects UNION ALL"
            " SELECT uuid::VARCHAR, org_id FROM documents UNION ALL"
            " SELECT uuid::VARCHAR, org_id FROM conversations").fetchall())
        for ctx in pair:
            assert {org_of[u] for u in uuids[ctx.username]} == {ctx.org_id}


def test_private_documents_are_hidden_from_colleagues(demo_store):
    anna, arthur = ctx_of(demo_store, "anna"), ctx_of(demo_store, "mike")
    with demo_store.connect() as con:
        private = con.execute("SELECT uuid::VARCHAR FROM documents WHERE scope = 'user'"
                              " AND uploaded_by_id = ?", [anna.user_id]).fetchall()
        assert private
        seen = {d["uuid"] for d in documents.list_documents(arthur, con)}
    assert not {p[0] for p in private} & seen


def test_kpis_count_only_the_own_organisation(demo_store, pair):
    alice, hannah, *_ = pair
    with demo_store.connect() as con:
        for ctx in (alice, hannah):
            kpi = {k["key"]: k for k in overview.kpis(ctx, con, today=DEMO_TODAY.date())}
            calls = con.execute(
                "SELECT count(*) FROM calls c JOIN projects p ON p.id = c.project_id"
                " WHERE p.org_id = ? AND c.started_at >= ?::DATE - INTERVAL 29 DAY",
                [ctx.org_id, DEMO_TODAY.date()]).fetchone()[0]
            tokens = con.execute(
                "SELECT sum(total_tokens) FROM llm_calls WHERE org_id = ?"
                " AND created_at >= ?::DATE - INTERVAL 29 DAY AND created_at < ?::DATE + INTERVAL 1 DAY",
                [ctx.org_id, DEMO_TODAY.date(), DEMO_TODAY.date()]
            ).fetchone()[0]
            assert kpi["calls"]["value"] == calls > 0
            assert kpi["tokens"]["value"] == tokens > 0
            assert kpi["calls"]["series"]["value"].sum() == calls


def test_the_usage_kpis_equal_the_raw_calls_of_each_period_and_day(demo_store, pair):
    alice, hannah, *_ = pair
    today = DEMO_TODAY.date()
    start, prev, end = today - timedelta(days=29), today - timedelta(days=59), today + timedelta(days=1)
    with demo_store.connect() as con:
        for ctx in (alice, hannah):
            kpi = {k["key"]: k for k in overview.kpis(ctx, con, today=today)}

            def raw(sql, since, until, ctx=ctx):
                return con.execute(f"SELECT {sql} FROM llm_calls WHERE org_id = ? AND created_at >= ?"
                                   " AND created_at < ?", [ctx.org_id, since, until]).fetchone()[0]

            for period, since, until in (("value", start, end), ("previous", prev, start)):
                assert kpi["tokens"][period] == raw("coalesce(sum(total_tokens), 0)", since, until)
                assert kpi["cost"][period] == pytest.approx(raw("coalesce(sum(cost_usd), 0)", since, until))
                assert kpi["active_users"][period] == raw("count(DISTINCT user_id)", since, until)
            assert kpi["active_users"]["value"] > 0
            unpriced = raw("count(*) FILTER (WHERE cost_usd IS NULL)", start, end)
            assert kpi["cost"]["unpriced_calls"] == unpriced
            daily = dict(con.execute(
                "SELECT created_at::DATE, count(DISTINCT user_id) FROM llm_calls WHERE org_id = ?"
                " AND created_at >= ? AND created_at < ? GROUP BY ALL", [ctx.org_id, start, end]).fetchall())
            series = kpi["active_users"]["series"]
            assert series.height == 30
            assert dict(zip(series["day"].to_list(), series["value"].to_list(), strict=True)) == {
                start + timedelta(days=i): daily.get(start + timedelta(days=i), 0) for i in range(30)}


def test_the_home_kpis_are_only_those_the_user_may_open(demo_store):
    with demo_store.connect() as con:
        for username in ("anna", "vera", "mike"):
            ctx = ctx_of(demo_store, username)
            shown = [k["key"] for k in overview.kpis(ctx, con, today=DEMO_TODAY.date())]
            counted = [key for key, _label, permission, _sql in overview.KPIS if ctx.can(permission)]
            usage = [key for key, _label in overview.USAGE_KPIS] if ctx.can("usage:read") else []
            assert shown == counted + usage
            assert ctx.can("usage:read") == ("tokens" in shown)


def test_changes_across_tenants_are_refused_and_change_nothing(demo_copy):
    from workbench import home
    store = home.open_store(demo_copy)
    with store.connect() as con:
        alice = auth.context_for(con, "alice")
        hannah = auth.context_for(con, "hannah")
        amir = auth.context_for(con, "amir")
        helio_doc = documents.list_documents(amir, con)[0]["uuid"]
        helio_conv = conversations.list_conversations(amir, con)[0]["uuid"]
        key = api_keys.create_api_key(hannah, con, "helio-bot")
        before = con.execute("SELECT count(*), sum(hash(password_hash)) FROM users").fetchone()
        attempts = [
            lambda: users.set_role(alice, con, "amir", "admin"),
            lambda: users.set_active(alice, con, "amir", False),
            lambda: users.reset_password(alice, con, "amir", "hijacked-pass"),
            lambda: documents.delete_user(alice, con, "amir"),
            lambda: users.get_user(alice, con, username="amir"),
            lambda: documents.delete_document(alice, con, helio_doc),
            lambda: conversations.delete_conversation(alice, con, helio_conv),
            lambda: api_keys.revoke_api_key(alice, con, key["uuid"]),
        ]
        for attempt in attempts:
            with pytest.raises(NotFound):
                attempt()
        assert con.execute("SELECT count(*), sum(hash(password_hash)) FROM users").fetchone() \
            == before
        assert api_keys.list_api_keys(alice, con) == []
        assert api_keys.verify_api_key(con, key["key"]).org_name == "Helio Cloud"


def test_another_organisations_ids_answer_as_unknown_ones_do(demo_copy):
    """Probing ids tells nothing: another organisation's budget or API key gets the very message an
    id that does not exist gets (once only the foreign one said 'Not found in your organisation')."""
    import uuid

    from workbench import home
    from workbench.usage import budgets

    store = home.open_store(demo_copy)
    with store.connect() as con:
        alice, hannah = auth.context_for(con, "alice"), auth.context_for(con, "hannah")
        budget_id = budgets.set_budget(hannah, con, scope="organization", monthly_usd=100)
        key = api_keys.create_api_key(hannah, con, "helio-bot")["uuid"]
        missing_budget = con.execute("SELECT max(id) + 1000 FROM budgets").fetchone()[0]
        missing_key = str(uuid.uuid4())
        for unknown, foreign, message in [
            (lambda: budgets.delete_budget(alice, con, missing_budget),
             lambda: budgets.delete_budget(alice, con, budget_id), "No budget {}."),
            (lambda: api_keys.revoke_api_key(alice, con, missing_key),
             lambda: api_keys.revoke_api_key(alice, con, key), "No API key {}."),
        ]:
            with pytest.raises(NotFound) as a:
                unknown()
            with pytest.raises(NotFound) as b:
                foreign()
            assert str(a.value) == message.format(missing_budget if "budget" in message else missing_key)
            assert str(b.value) == message.format(budget_id if "budget" in message else key)
        assert con.execute("SELECT count(*) FROM budgets WHERE id = ?", [budget_id]).fetchone()[0] == 1
        assert api_keys.list_api_keys(hannah, con)[0]["revoked_at"] is None
