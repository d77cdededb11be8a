"""Budgets, month-end projections, cost anomalies and plan limits: on hand-built tenants whose
spend is known to the cent, and on the demo (dan's evaluation batch nine days before DEMO_TODAY).
Each call is recorded in its own transaction, as the product does: the team profile's rollups live
in its lake and show a transaction's calls once it commits."""

import math
import random
from datetime import date, datetime, time, timedelta

import pytest

from tests.conftest import DEMO_TODAY, ctx_of
from workbench.accounts import auth, organisations, users
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.usage import budgets, metering

TODAY = date(2026, 3, 18)  # a Wednesday in the middle of March


PEOPLE = [
    ("acme", "boss", "admin", "enterprise"),
    ("acme", "mgr", "manager", "pro"),
    ("acme", "ana", "analyst", "pro"),
    ("acme", "fred", "analyst", "free"),
    ("globex", "gadmin", "admin", "enterprise"),
    ("globex", "gus", "analyst", "free"),
]


@pytest.fixture
def tenants(store):
    """Acme (boss: admin, mgr: manager, ana: analyst, fred: free plan; project 'Web') and Globex
    (gadmin, gus; also a project 'Web'). Returns ids by name."""
    pw = auth.hash_password("password1")
    with store.connect() as con:
        ids = {
            "acme": organisations.create_organization(con, "Acme"),
            "globex": organisations.create_organization(con, "Globex"),
        }
        for org, name, role, plan in PEOPLE:
            ids[name] = users.insert_user(con, ids[org], name, f"{name}@{org}.test", pw, role, plan=plan)
        # a price of our own, so the sums below do not move when the shipped catalogue does
        con.execute(
            "INSERT INTO model_prices (provider, model, match_pattern, input_per_million)"
            " VALUES ('test', 'two-dollar', 'two-dollar', 2.0)"
        )
        for org, owner, key in [("acme", "boss", "web"), ("globex", "gadmin", "gweb")]:
            ids[key] = con.execute(
                "INSERT INTO projects (org_id, owner_id, name) VALUES (?, ?, 'Web') RETURNING id",
                [ids[org], ids[owner]],
            ).fetchone()[0]
    return ids


def spend(con, ids, user: str, usd: float, day: date, project: str | None = None) -> None:
    """One call costing exactly `usd` (input tokens at $2 per million) by `user` on `day`."""
    org = "globex" if user in ("gadmin", "gus") else "acme"
    call = metering.Call("test", "two-dollar", "chat", prompt_tokens=round(usd * 500_000))
    metering.record(
        con,
        call,
        org_id=ids[org],
        user_id=ids[user],
        at=datetime.combine(day, time(12)),
        project_id=ids[project] if project else None,
    )


def tokens(con, ids, user: str, n: int, day: date, model: str = "two-dollar") -> None:
    """One call of `n` tokens."""
    org = "globex" if user in ("gadmin", "gus") else "acme"
    metering.record(
        con,
        metering.Call("test", model, "chat", prompt_tokens=n),
        org_id=ids[org],
        user_id=ids[user],
        at=datetime.combine(day, time(12)),
    )


def test_budget_states_follow_month_to_date_priced_spend(store, tenants):
    with store.connect() as con:
        spend(con, tenants, "boss", 40, date(2026, 3, 2), project="web")
        spend(con, tenants, "mgr", 10, date(2026, 3, 10))
        spend(con, tenants, "boss", 1000, date(2026, 2, 20))  # last month: not this month's spend
        spend(con, tenants, "gadmin", 500, date(2026, 3, 5))  # another tenant
        tokens(con, tenants, "mgr", 1000, date(2026, 3, 11), model="house-model-v1")  # no price
        boss = auth.context_for(con, "boss")
        budgets.set_budget(boss, con, scope="organization", monthly_usd=100)
        budgets.set_budget(boss, con, scope="project", project="Web", monthly_usd=48)
        budgets.set_budget(boss, con, scope="user", user="mgr", monthly_usd=10)
        rows = {r["scope"]: r for r in budgets.budget_status(boss, con, today=TODAY)}
    org, project, user = rows["organization"], rows["project"], rows["user"]
    assert (org["target"], org["spent_usd"], org["share"], org["status"]) == ("Acme", 50, 0.5, "ok")
    assert org["unpriced_calls"] == 1  # counted apart, never as $0
    assert (project["target"], project["spent_usd"], project["status"]) == ("Web", 40, "warning")
    assert (user["target"], user["spent_usd"], user["share"], user["status"]) == ("mgr", 10, 1.0, "exceeded")
    for row in rows.values():
        assert row["spent_usd"] <= row["projected_low"] <= row["projected_usd"] <= row["projected_high"]


def test_setting_a_budget_again_updates_it_and_delete_removes_it(store, tenants):
    with store.connect() as con:
        boss = auth.context_for(con, "boss")
        first = budgets.set_budget(boss, con, scope="user", user="ana", monthly_usd=50)
        again = budgets.set_budget(boss, con, scope="user", user="ana", monthly_usd="75.5")
        other = budgets.set_budget(boss, con, scope="user", user="fred", monthly_usd=5)
        assert first == again != other
        listed = budgets.list_budgets(boss, con)
        assert [(b["target"], b["monthly_usd"], b["created_by"]) for b in listed] == [
            ("ana", 75.5, "boss"),
            ("fred", 5.0, "boss"),
        ]
        budgets.delete_budget(boss, con, first)
        assert [b["id"] for b in budgets.list_budgets(boss, con)] == [other]
        with pytest.raises(NotFound):
            budgets.delete_budget(boss, con, first)


@pytest.mark.parametrize("amount", [-5, 0, math.nan, math.inf, "abc", None, True])
def test_set_budget_rejects_amounts_that_are_not_positive_numbers(store, tenants, amount):
    with store.connect() as con:
        boss = auth.context_for(con, "boss")
        with pytest.raises(InvalidInput, match="above 0"):
            budgets.set_budget(boss, con, scope="organization", monthly_usd=amount)
        assert budgets.list_budgets(boss, con) == []


@pytest.mark.parametrize(
    "target, error",
    [
        ({"scope": "project", "project": "No such project"}, NotFound),
        ({"scope": "user", "user": "nobody"}, NotFound),
        ({"scope": "user", "user": "gadmin"}, NotFound),  # another organisation's user
        ({"scope": "team", "user": "ana"}, InvalidInput),
        ({"scope": "organization", "user": "ana"}, InvalidInput),
        ({"scope": "project"}, InvalidInput),
        ({"scope": "user", "user": "ana", "project": "Web"}, InvalidInput),
    ],
)
def test_set_budget_rejects_unknown_or_foreign_targets(store, tenants, target, error):
    with store.connect() as con:
        boss = auth.context_for(con, "boss")
        with pytest.raises(error):
            budgets.set_budget(boss, con, monthly_usd=10, **target)
        with pytest.raises(NotFound):  # another organisation's project, by id
            budgets.set_budget(boss, con, scope="project", project=tenants["gweb"], monthly_usd=10)
        assert budgets.list_budgets(boss, con) == []


def test_a_manager_reads_budgets_but_cannot_change_them(store, tenants):
    with store.connect() as con:
        boss, mgr, ana = (auth.context_for(con, n) for n in ("boss", "mgr", "ana"))
        budget_id = budgets.set_budget(boss, con, scope="organization", monthly_usd=100)
        with pytest.raises(NotAllowed):
            budgets.set_budget(mgr, con, scope="organization", monthly_usd=1000)
        with pytest.raises(NotAllowed):
            budgets.delete_budget(mgr, con, budget_id)
        assert [b["monthly_usd"] for b in budgets.budget_status(mgr, con, today=TODAY)] == [100]
        with pytest.raises(NotAllowed):  # analysts do not read usage
            budgets.budget_status(ana, con, today=TODAY)
        assert budgets.home_alerts(ana, con, today=TODAY) == []


def test_each_tenant_sees_only_its_own_budgets_spend_anomalies_and_users(store, tenants):
    with store.connect() as con:
        for k in range(1, 43):  # six weeks of $2 days in both tenants
            spend(con, tenants, "boss", 2, TODAY - timedelta(days=k), project="web")
            spend(con, tenants, "gadmin", 2, TODAY - timedelta(days=k), project="gweb")
        spend(con, tenants, "gus", 60, TODAY - timedelta(days=2), project="gweb")  # Globex's spike
        boss, gadmin = auth.context_for(con, "boss"), auth.context_for(con, "gadmin")
        mine = budgets.set_budget(boss, con, scope="project", project="Web", monthly_usd=100)
        theirs = budgets.set_budget(gadmin, con, scope="project", project="Web", monthly_usd=10)
        with pytest.raises(NotFound):
            budgets.delete_budget(boss, con, theirs)
        acme_status = budgets.budget_status(boss, con, today=TODAY)
        globex_status = budgets.budget_status(gadmin, con, today=TODAY)
        assert [(b["id"], b["spent_usd"]) for b in acme_status] == [(mine, 34)]  # 17 March days x $2
        assert [(b["id"], b["spent_usd"]) for b in globex_status] == [(theirs, 94)]
        assert budgets.projection(boss, con, today=TODAY)["actual"] == 34
        assert budgets.anomalies(boss, con, today=TODAY) == []
        [spike] = budgets.anomalies(gadmin, con, today=TODAY)
        assert spike["day"] == TODAY - timedelta(days=2) and spike["users"][0]["name"] == "gus"
        plan_users = {u["username"] for u in budgets.plan_usage(boss, con, today=TODAY)}
        assert plan_users == {"boss", "mgr", "ana", "fred"}
        assert all("gus" not in a["text"] for a in budgets.home_alerts(boss, con, today=TODAY))


def test_projection_interval_holds_the_month_end_of_a_steady_series(store, tenants):
    rnd = random.Random(0)
    truth = 0.0
    with store.connect() as con:
        for day in (date(2026, 1, 1) + timedelta(days=k) for k in range(90)):  # to 31 March
            usd = round((3 if day.weekday() >= 5 else 10) + rnd.gauss(0, 0.8), 2)
            spend(con, tenants, "ana", usd, day)
            truth += usd if day.month == 3 else 0
        result = budgets.projection(auth.context_for(con, "mgr"), con, today=TODAY)
    assert result["actual"] == pytest.approx(sum(r["cost"] for r in result["series"][:18]))
    assert (result["days_elapsed"], result["days_left"]) == (18, 13)
    assert [r["kind"] for r in result["series"]] == ["actual"] * 18 + ["projected"] * 13
    assert result["actual"] <= result["low"] <= result["projected"] <= result["high"]
    assert result["low"] <= truth <= result["high"]
    assert result["high"] - result["low"] < 0.15 * result["projected"]  # a steady series: a narrow band
    assert len(result["history"]) == 28 and not any(h["unusual"] for h in result["history"])


def test_projection_of_a_tenant_without_calls_is_zero(store, tenants):
    with store.connect() as con:
        result = budgets.projection(auth.context_for(con, "boss"), con, today=TODAY, user="fred")
    assert (result["actual"], result["projected"], result["low"], result["high"]) == (0, 0, 0, 0)


def test_anomalies_find_dans_evaluation_batch_and_no_ordinary_day(demo_store):
    alice = ctx_of(demo_store, "alice")
    with demo_store.connect() as con:
        found = budgets.anomalies(alice, con, days=90, today=DEMO_TODAY)
        helio = budgets.anomalies(ctx_of(demo_store, "hannah"), con, days=90, today=DEMO_TODAY)
        forecast = budgets.projection(alice, con, today=DEMO_TODAY)
    batch_day = DEMO_TODAY.date() - timedelta(days=9)
    assert [a["day"] for a in found] == [batch_day]  # and no ordinary day in 90
    [batch] = found
    assert batch["cost"] > 10 * batch["expected"] and batch["excess"] == batch["cost"] - batch["expected"]
    assert batch["models"][0]["name"] == "claude-sonnet-4" and batch["models"][0]["share"] > 0.9
    assert batch["users"][0]["name"] == "dan" and batch["users"][0]["share"] > 0.9
    assert len(batch["models"]) <= 3 and len(batch["users"]) <= 3
    assert helio == []  # the batch is Northwind's
    # the batch is left out of the weekday pattern the month-end projection learns from
    assert [h["day"] for h in forecast["history"] if h["unusual"]] == [batch_day]


def test_plan_usage_compares_tokens_with_each_plans_limits(store, tenants):
    with store.connect() as con:
        tokens(con, tenants, "fred", 900_000, date(2026, 3, 3))
        tokens(con, tenants, "fred", 60_000, TODAY)  # free: 50,000 a day, 1,000,000 a month
        tokens(con, tenants, "ana", 100, TODAY)
        tokens(con, tenants, "boss", 5_000_000, TODAY)
        tokens(con, tenants, "gus", 70_000, TODAY)
        rows = {r["username"]: r for r in budgets.plan_usage(auth.context_for(con, "mgr"), con, today=TODAY)}
    fred = rows["fred"]
    assert (fred["tokens_today"], fred["daily_limit"], fred["daily_share"], fred["daily_status"]) == (
        60_000,
        50_000,
        1.2,
        "over",
    )
    assert (fred["tokens_month"], fred["monthly_status"], fred["status"]) == (960_000, "warning", "over")
    assert (rows["ana"]["daily_status"], rows["ana"]["status"]) == ("ok", "ok")
    assert (rows["boss"]["daily_status"], rows["boss"]["status"]) == ("no limit", "no limit")
    assert (rows["mgr"]["tokens_today"], rows["mgr"]["total_tokens"], rows["mgr"]["status"]) == (0, 0, "ok")
    assert "gus" not in rows
    # the Home page's short query finds the same users over their daily limit, with the same figures
    with store.connect() as con:
        over = budgets.over_daily_limit(auth.context_for(con, "mgr"), con, today=TODAY)
        con.execute("UPDATE plans SET daily_token_limit = 0 WHERE name = (SELECT plan FROM users"
                    " WHERE username = 'ana')")
        zero = budgets.over_daily_limit(auth.context_for(con, "mgr"), con, today=TODAY)
        full = budgets.plan_usage(auth.context_for(con, "mgr"), con, today=TODAY)
    fields = ("username", "plan", "tokens_today", "daily_limit")
    assert [tuple(u[f] for f in fields) for u in over] == [
        tuple(r[f] for f in fields) for r in rows.values() if r["daily_status"] == "over"] == [
        ("fred", "free", 60_000, 50_000)]
    assert [u["username"] for u in zero] == [r["username"] for r in full if r["daily_status"] == "over"]
    assert "ana" in [u["username"] for u in zero]  # a limit of 0 is over, as in plan_usage


def test_home_alerts_name_an_exceeded_budget_and_a_user_over_the_daily_limit(store, tenants):
    with store.connect() as con:
        boss = auth.context_for(con, "boss")
        assert budgets.home_alerts(boss, con, today=TODAY) == []  # all is well
        spend(con, tenants, "mgr", 30, TODAY - timedelta(days=1))
        tokens(con, tenants, "fred", 60_000, TODAY)
        budgets.set_budget(boss, con, scope="user", user="mgr", monthly_usd=25)
        budgets.set_budget(boss, con, scope="organization", monthly_usd=10_000)
        alerts = budgets.home_alerts(boss, con, today=TODAY)
    assert [(a["level"], a["kind"]) for a in alerts] == [("error", "budget"), ("warning", "plan")]
    assert "user mgr" in alerts[0]["text"] and "$30.00 of $25.00" in alerts[0]["text"]
    assert "fred" in alerts[1]["text"] and "60,000 of 50,000" in alerts[1]["text"]
