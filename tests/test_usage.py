"""The Usage page's numbers: rollups equal the raw facts, every query stays in its organisation,
percentiles are close, unpriced calls are counted and never $0, drill-downs match."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from tests.conftest import DEMO_TODAY
from workbench import home
from workbench.accounts import auth, organisations, users
from workbench.accounts import cascade as relations
from workbench.documents import records as documents
from workbench.errors import InvalidInput, NotAllowed
from workbench.usage import metering, rollup
from workbench.usage import queries as usage

TODAY = DEMO_TODAY.date()
LAST_30 = usage.Filters(*usage.period("Last 30 days", TODAY))

call_rows = st.lists(
    st.tuples(
        st.integers(0, 2),  # which user
        st.sampled_from(
            [("openai", "gpt-4o-mini"), ("anthropic", "claude-sonnet-4"), ("acme", "secret-model")]
        ),
        st.sampled_from(["chat", "embedding", "analysis"]),
        st.integers(0, 5000),
        st.integers(0, 2000),
        st.integers(0, 100),
        st.one_of(st.none(), st.integers(1, 60_000)),
        st.integers(0, 20),  # days ago
        st.booleans(),  # in a conversation
    ),
    min_size=1,
    max_size=40,
)


@pytest.fixture(scope="module")
def blank(tmp_path_factory):
    """An empty data home with two organisations of three users each and a conversation each."""
    from workbench.settings import Settings

    cfg = Settings(home=tmp_path_factory.mktemp("usage") / "home", embedding_backend="hash")
    home.init(cfg)
    store = home.open_store(cfg)
    with store.transaction() as con:
        for org in ("Org A", "Org B"):
            org_id = organisations.create_organization(con, org)
            for i in range(3):
                users.insert_user(
                    con, org_id, f"{org[-1].lower()}{i}", f"{org[-1]}{i}@x.test", "x", "manager"
                )
            con.execute(
                "INSERT INTO conversations (org_id, user_id, title) SELECT ?, min(id), 'chat' FROM users"
                " WHERE org_id = ?",
                [org_id, org_id],
            )
    return store


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rows=call_rows)
def test_rollups_equal_the_raw_aggregation_for_random_calls(blank, rows):
    with blank.transaction() as con:
        for table in ("llm_calls", *rollup.TABLES):  # each example starts from no calls
            con.execute(f"DELETE FROM {table}")
        people = con.execute("SELECT id, org_id FROM users ORDER BY id").fetchall()
        convs = dict(con.execute("SELECT org_id, id FROM conversations").fetchall())
        for who, (provider, model), op, prompt, completion, cached, latency, ago, in_conv in rows:
            user_id, org_id = people[who * 2 % len(people)]
            metering.record(
                con,
                metering.Call(
                    provider, model, op, prompt, completion, min(cached, prompt), latency_ms=latency
                ),
                org_id=org_id,
                user_id=user_id,
                at=datetime(2026, 11, 20, 10) - timedelta(days=ago),
                conversation_id=convs[org_id] if in_conv else None,
            )
        assert rollup.differences(con) == []
        for org_id in convs:
            ctx = _ctx(con, org_id)
            f = usage.Filters(date(2026, 10, 1), date(2026, 11, 21))
            raw = con.execute(
                "SELECT count(*), sum(total_tokens), CASE WHEN count(*) > 0 AND count(cost_usd) = 0 THEN NULL"
                " ELSE coalesce(sum(cost_usd), 0) END,"
                " count(*) FILTER (WHERE cost_usd IS NULL), count(DISTINCT conversation_id),"
                " quantile_disc(latency_ms, 0.95) FROM llm_calls WHERE org_id = ?"
                " AND created_at >= ? AND created_at < ?",
                [org_id, f.start, f.end],
            ).fetchall()[0]
            got = usage.totals(ctx, con, f)["current"]
            assert (got["calls"], got["tokens"], got["unpriced_calls"], got["conversations"]) == (
                raw[0],
                raw[1] or 0,
                raw[3],
                raw[4],
            )
            assert got["cost"] == (None if raw[2] is None else pytest.approx(raw[2]))  # never $0 for unpriced
            if raw[5] is not None:  # the histogram's p95 is within 2.5% (half a 5% bucket) of the exact
                # one, then rounded to whole milliseconds (36 ms reads 35: its bucket's centre is 35.2)
                assert abs(got["p95_latency_ms"] - raw[5]) <= 0.026 * raw[5] + 0.5
        rollup.compact(con, force=True)  # merging duplicate keys changes no number
        assert rollup.differences(con) == []


def test_a_page_looks_whether_the_rollups_need_a_merge_at_most_once_a_minute(blank, monkeypatch):
    clock = [1_000.0]
    monkeypatch.setattr(usage, "monotonic", lambda: clock[0])
    monkeypatch.setattr(usage, "_refreshed", {})
    monkeypatch.setattr(rollup, "COMPACT_AFTER", 2)

    def duplicates(con) -> int:  # rows of usage_daily beyond one per key
        return con.execute("SELECT count(*) - count(DISTINCT (day, org_id, project_id, user_id, provider,"
                           " model, operation_type)) FROM usage_daily").fetchone()[0]

    def calls(n: int) -> None:
        with blank.transaction() as con:
            user_id, org_id = con.execute("SELECT min(id), min(org_id) FROM users").fetchone()
            for _ in range(n):  # the same key each time: a rollup row per call until a merge
                metering.record(con, metering.Call("openai", "gpt-4o-mini", "chat", 10, 5, 0),
                                org_id=org_id, user_id=user_id, at=DEMO_TODAY)

    with blank.transaction() as con:
        for table in ("llm_calls", *rollup.TABLES):
            con.execute(f"DELETE FROM {table}")
    calls(3)
    with blank.connect() as con:
        assert duplicates(con) == 2
        usage.refresh(con)  # the first look merges
        assert duplicates(con) == 0
    calls(3)
    with blank.connect() as con:
        clock[0] += usage.REFRESH_EVERY_S - 1
        usage.refresh(con)  # within the minute: no look, the rows wait (every sum is right meanwhile)
        assert duplicates(con) == 3
        org_id = con.execute("SELECT min(org_id) FROM users").fetchone()[0]
        assert usage.totals(_ctx(con, org_id), con, LAST_30)["current"]["calls"] == 6
        clock[0] += 1
        usage.refresh(con)
        assert duplicates(con) == 0
        assert rollup.differences(con) == []


def _ctx(con, org_id: int):
    name = con.execute("SELECT min(username) FROM users WHERE org_id = ?", [org_id]).fetchall()[0][0]
    return auth.context_for(con, name)


def test_every_usage_query_stays_in_the_organisation(demo_store):
    with demo_store.connect() as con:
        mike = auth.context_for(con, "mike")
        theirs = {
            r[0]
            for r in con.execute("SELECT username FROM users WHERE org_id <> ?", [mike.org_id]).fetchall()
        }
        their_projects = {
            r[0] for r in con.execute("SELECT name FROM projects WHERE org_id <> ?", [mike.org_id]).fetchall()
        }
        raw = con.execute(
            "SELECT count(*), sum(total_tokens) FROM llm_calls WHERE org_id = ? AND"
            " created_at >= ? AND created_at < ?",
            [mike.org_id, LAST_30.start, LAST_30.end],
        ).fetchall()[0]
        totals = usage.totals(mike, con, LAST_30)["current"]
        assert (totals["calls"], totals["tokens"]) == raw
        seen = set()
        for by in usage.DIMENSIONS:
            seen |= set(usage.breakdown(mike, con, LAST_30, by=by)[by].to_list())
            seen |= set(usage.over_time(mike, con, LAST_30, by=by)[by].to_list())
        seen |= set(usage.latency_percentiles(mike, con, LAST_30, by="user")["user"].to_list())
        seen |= set(usage.top_users(mike, con, LAST_30)["user"].to_list())
        seen |= set(usage.top_conversations(mike, con, usage.Filters(date(2026, 1, 1), LAST_30.end))["user"])
        seen |= set(usage.calls(mike, con, LAST_30)["user"].to_list())
        opts = usage.options(mike, con)
        assert not seen & (theirs | their_projects)
        assert not set(opts["users"]) & theirs and not set(opts["projects"]) & their_projects
        # naming another organisation's user or project as a filter finds nothing, not their rows
        other = usage.Filters(LAST_30.start, LAST_30.end, users=tuple(theirs), projects=tuple(their_projects))
        assert usage.totals(mike, con, other)["current"]["calls"] == 0
        assert usage.calls(mike, con, other).is_empty()


def test_unpriced_calls_are_counted_apart_and_never_cost_zero(demo_store):
    with demo_store.connect() as con:
        mike = auth.context_for(con, "mike")
        missing = usage.unpriced(mike, con, LAST_30)
        exact = con.execute(
            "SELECT provider, model, count(*) FROM llm_calls WHERE org_id = ? AND cost_usd IS NULL"
            " AND created_at >= ? AND created_at < ? GROUP BY ALL",
            [mike.org_id, LAST_30.start, LAST_30.end],
        ).fetchall()
    assert {(r["provider"], r["model"], r["calls"]) for r in missing.iter_rows(named=True)} == set(exact)
    assert ("openai", "ft:gpt-4o-mini:northwind:support-v2") in {(p, m) for p, m, _n in exact}
    with demo_store.connect() as con:
        by_model = usage.breakdown(mike, con, LAST_30, by="model")
    tuned = by_model.filter(by_model["model"] == "ft:gpt-4o-mini:northwind:support-v2").row(0, named=True)
    assert tuned["unpriced_calls"] == tuned["calls"] > 0 and tuned["cost_usd"] is None  # unknown, not $0


@pytest.mark.parametrize(
    ("stack", "measure"), [("provider", "cost"), ("user", "tokens"), ("project", "calls")]
)
def test_the_page_s_one_query_gives_each_query_s_answer(demo_store, stack, measure):
    """The Usage page's charts come from one grouped query (`charts`): each part equals the answer
    of its own function, under filters, a drill-down and an empty period too, and the breakdown by
    model equals the raw calls."""
    with demo_store.connect() as con:
        mike = auth.context_for(con, "mike")
        opts = usage.options(mike, con)
        periods = [
            LAST_30,
            usage.Filters(LAST_30.start, LAST_30.end, users=tuple(opts["users"][:3]),
                          providers=tuple(opts["providers"][:2])),
            usage.Filters(LAST_30.start, LAST_30.end, extra={"project": "(no project)"}),
            usage.Filters(LAST_30.start, LAST_30.end, extra={"day": TODAY - timedelta(days=3)}),
            usage.Filters(date(2001, 1, 1), date(2001, 2, 1)),
        ]
        for f in periods:
            shown = usage.charts(mike, con, f, by=stack, measure=measure)
            assert set(shown) == {"time", "provider", "model", "operation", "token_types", "unpriced"}
            assert_frame_equal(shown["time"], usage.over_time(mike, con, f, by=stack, measure=measure))
            for by in ("provider", "model", "operation"):
                assert_frame_equal(shown[by], usage.breakdown(mike, con, f, by=by))
            assert_frame_equal(shown["token_types"], usage.token_types(mike, con, f))
            assert_frame_equal(shown["unpriced"], usage.unpriced(mike, con, f))
        assert shown["time"].is_empty() and shown["token_types"]["tokens"].to_list() == [0, 0, 0, 0]
        raw = con.execute(
            "SELECT model, count(*), sum(total_tokens) FROM llm_calls WHERE org_id = ? AND created_at >= ?"
            " AND created_at < ? GROUP BY ALL",
            [mike.org_id, LAST_30.start, LAST_30.end],
        ).fetchall()
        by_model = usage.charts(mike, con, LAST_30, by=stack, measure=measure)["model"]
    assert set(by_model.select("model", "calls", "total_tokens").iter_rows()) == set(raw)
    assert len(by_model) > 3


def test_the_smaller_rollups_answer_as_usage_daily_would(demo_store, monkeypatch):
    """A query reads the smallest rollup that holds its filters' and groupings' columns; with only
    the finest ones (usage_daily and its latency histogram) every answer is the same."""
    from workbench.usage import budgets

    with demo_store.connect() as con:
        mike = auth.context_for(con, "mike")
        opts = usage.options(mike, con)
        filters = [
            LAST_30,
            usage.Filters(LAST_30.start, LAST_30.end, users=tuple(opts["users"][:2])),
            usage.Filters(LAST_30.start, LAST_30.end, models=tuple(opts["models"][:2])),
            usage.Filters(LAST_30.start, LAST_30.end, projects=tuple(opts["projects"][:1]),
                          operations=("chat",)),
            usage.Filters(LAST_30.start, LAST_30.end, extra={"user": opts["users"][0]}),
            usage.Filters(date(2001, 1, 1), date(2001, 2, 1)),
        ]

        def answers() -> list:
            out = [budgets.budget_status(mike, con, today=TODAY), budgets.anomalies(mike, con, today=TODAY)]
            for f in filters:
                out.append(usage.totals(mike, con, f))
                for by in ("provider", "user"):
                    charts = usage.charts(mike, con, f, by=by, measure="cost")
                    out += [charts[key].rows() for key in sorted(charts)]
                out.append(usage.top_users(mike, con, f).rows())
                out.append(usage.latency_percentiles(mike, con, f, by="model").rows())
            return out

        small = answers()
        assert usage._usage_table(LAST_30) == "usage_model_daily"
        assert usage._usage_table(filters[1]) == "usage_project_user_daily"
        assert usage._usage_table(filters[3]) == "usage_daily"
        assert len(budgets.list_budgets(mike, con)) >= 3  # the organisation's, a project's, a user's
        monkeypatch.setattr(rollup, "USAGE", ("usage_daily",))
        monkeypatch.setattr(rollup, "LATENCY", ("usage_latency_daily",))
        assert usage._usage_table(LAST_30) == "usage_daily"
        assert_same(answers(), small)


def assert_same(got, want, where="") -> None:
    """`got` equals `want` but for the last digits of a float (sums in another order)."""
    if isinstance(want, float) and isinstance(got, float):
        assert got == pytest.approx(want, rel=1e-9, abs=1e-12), where
    elif isinstance(want, dict) and isinstance(got, dict):
        assert list(got) == list(want), where
        for key in want:
            assert_same(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list | tuple) and isinstance(got, list | tuple):
        assert len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want, strict=True)):
            assert_same(g, w, f"{where}[{i}]")
    else:
        assert got == want, where


def test_a_drill_down_returns_exactly_the_calls_behind_the_bar(demo_store):
    day = TODAY - timedelta(days=3)
    with demo_store.connect() as con:
        mike = auth.context_for(con, "mike")
        f = usage.Filters(LAST_30.start, LAST_30.end, extra={"day": day, "model": "gpt-4.1"})
        rows = usage.calls(mike, con, f, limit=10_000)
        bar = usage.over_time(mike, con, LAST_30, by="model", measure="calls")
        expected = bar.filter((bar["day"] == day) & (bar["model"] == "gpt-4.1"))["calls"].sum()
        project = usage.calls(
            mike, con, usage.Filters(LAST_30.start, LAST_30.end, extra={"project": "(no project)"}), limit=50
        )
    assert len(rows) == expected > 0
    assert set(rows["model"]) == {"gpt-4.1"} and {d.date() for d in rows["created_at"]} == {day}
    assert set(project["project"]) == {""}


def test_the_newest_calls_are_the_periods_newest_whichever_window_finds_them(demo_store):
    """`calls` looks back an hour, a day, a week, then the whole period: the same rows as one query
    over the period, for a few calls (found near the end) as for all of them."""
    with demo_store.connect() as con:
        mike = auth.context_for(con, "mike")
        for f in (LAST_30, usage.Filters(*usage.period("Last 90 days", TODAY), models=("gpt-4.1",))):
            every = con.execute(
                "SELECT created_at FROM llm_calls WHERE org_id = ? AND created_at >= ? AND created_at < ?"
                " AND (? OR model = 'gpt-4.1') ORDER BY created_at DESC",
                [mike.org_id, f.start, f.end, not f.models]).fetchall()
            assert len(every) > 600
            for limit in (1, 5, 500, 100_000):
                got = usage.calls(mike, con, f, limit=limit)["created_at"].to_list()
                assert got == [r[0] for r in every[:limit]]


def test_latency_percentiles_are_within_the_histograms_precision(demo_store):
    with demo_store.connect() as con:
        mike = auth.context_for(con, "mike")
        got = {r["model"]: r for r in usage.latency_percentiles(mike, con, LAST_30).iter_rows(named=True)}
        exact = con.execute(
            "SELECT model, quantile_disc(latency_ms, 0.5), quantile_disc(latency_ms, 0.95),"
            " quantile_disc(latency_ms, 0.99) FROM llm_calls WHERE org_id = ? AND created_at >= ?"
            " AND created_at < ? GROUP BY model",
            [mike.org_id, LAST_30.start, LAST_30.end],
        ).fetchall()
    for model, p50, p95, p99 in exact:
        assert got[model]["p50"] == pytest.approx(p50, rel=0.026)
        assert got[model]["p95"] == pytest.approx(p95, rel=0.026)
        assert got[model]["p99"] == pytest.approx(p99, rel=0.026)


def test_rollups_follow_deletes_of_users_and_projects(demo_copy):
    store = home.open_store(demo_copy)
    with store.connect() as con:  # each delete commits: the team profile's rollups follow at commit
        documents.delete_user(auth.context_for(con, "alice"), con, "anna")
        relations.delete_cascade(con, "projects", "name = ?", ["Retention desk"])
        assert rollup.differences(con) == []
        assert relations.orphans(con) == {}
        mike = auth.context_for(con, "mike")
        model_only = usage.latency_percentiles(mike, con, LAST_30, by=None)["calls"][0]
        assert (
            model_only
            == con.execute(
                "SELECT count(latency_ms) FROM llm_calls WHERE org_id = ? AND"
                " created_at >= ? AND created_at < ?",
                [mike.org_id, LAST_30.start, LAST_30.end],
            ).fetchall()[0][0]
        )


def test_periods_and_bad_choices():
    assert usage.period("Last 7 days", date(2026, 11, 20)) == (date(2026, 11, 14), date(2026, 11, 21))
    assert usage.period("Month to date", date(2026, 11, 20)) == (date(2026, 11, 1), date(2026, 11, 21))
    assert usage.period("Previous month", date(2026, 3, 5)) == (date(2026, 2, 1), date(2026, 3, 1))
    assert usage.period("Custom", custom=(date(2026, 1, 1), date(2026, 1, 31))) == (
        date(2026, 1, 1),
        date(2026, 2, 1),
    )
    with pytest.raises(InvalidInput, match="ends before"):
        usage.period("Custom", custom=(date(2026, 2, 1), date(2026, 1, 1)))
    with pytest.raises(InvalidInput, match="Unknown period"):
        usage.period("Last fortnight")


def test_usage_needs_its_permission_and_known_dimensions(demo_store):
    with demo_store.connect() as con:
        vera, mike = auth.context_for(con, "vera"), auth.context_for(con, "mike")
        with pytest.raises(NotAllowed):
            usage.totals(vera, con, LAST_30)
        with pytest.raises(InvalidInput, match="Unknown dimension"):
            usage.breakdown(mike, con, LAST_30, by="org_id; DROP TABLE users")


def test_usage_report_cli_gives_the_pages_numbers(cli_env, demo_copy):
    import json
    import subprocess
    import sys
    from pathlib import Path

    command = [str(Path(sys.executable).parent / "workbench"), "usage", "report", "--period", "30d",
               "--by", "model", "--as", "mike"]
    result = subprocess.run([*command, "--json"], env=cli_env, capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stderr
    printed = json.loads(result.stdout)
    with home.open_store(demo_copy).connect() as con:
        mike = auth.context_for(con, "mike")
        f = usage.Filters(*usage.period("Last 30 days"))
        page_rows = usage.breakdown(mike, con, f, by="model").to_dicts()
        page_totals = usage.totals(mike, con, f)["current"]
    assert [(r["model"], r["calls"], r["total_tokens"]) for r in printed["rows"]] == \
        [(r["model"], r["calls"], r["total_tokens"]) for r in page_rows]
    printed_cost = [r["cost_usd"] or 0 for r in printed["rows"]]
    assert printed_cost == pytest.approx([r["cost_usd"] or 0 for r in page_rows])
    assert printed["totals"]["calls"] == page_totals["calls"]
    assert printed["organization"] == "Northwind Mobile"
    assert printed["totals"]["unpriced_calls"] > 0  # the fine-tuned model, reported apart
    tuned = next(r for r in printed["rows"] if r["model"].startswith("ft:"))
    assert tuned["cost_usd"] is None  # every call of it unpriced: unknown, not $0
    text = subprocess.run(command, env=cli_env, capture_output=True, text=True, timeout=120).stdout
    assert "unpriced" in next(line for line in text.splitlines() if line.startswith("ft:"))


def test_doctor_finds_and_rebuilds_a_stale_rollup(demo_copy):
    from workbench.ops import doctor

    store, vecs = home.open_store(demo_copy), home.open_vectors(demo_copy)
    with store.transaction() as con:  # a write that bypassed the rollups (e.g. a hand-made SQL insert)
        con.execute("INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type, total_tokens,"
                    " created_at) SELECT org_id, id, 'openai', 'gpt-4o', 'chat', 1000,"
                    " TIMESTAMP '2026-11-19 10:00' FROM users WHERE username = 'mike'")
    found = doctor.check(demo_copy, store, vecs)
    assert found.stale_rollup_days == ["2026-11-19"] and not found.healthy
    doctor.repair(demo_copy, store, vecs, None, found)
    with store.connect() as con:
        assert rollup.differences(con) == []


def test_doctor_deleting_calls_of_a_missing_user_leaves_every_rollup_equal_to_the_calls(demo_copy):
    from workbench.ops import doctor

    store, vecs = home.open_store(demo_copy), home.open_vectors(demo_copy)
    with store.transaction() as con:  # calls, rolled up, of a user that a hand-made SQL delete removed
        org = con.execute("SELECT org_id FROM users WHERE username = 'mike'").fetchone()[0]
        first = con.execute("INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type,"
                            " total_tokens, created_at) SELECT ?, 99999, 'openai', 'gpt-4o', 'chat', 1000,"
                            " TIMESTAMP '2026-11-19 10:00' + to_minutes(i) FROM range(3) t(i) RETURNING id",
                            [org]).fetchall()
        rollup.add(con, f"id IN ({', '.join(str(i) for (i,) in first)})")
    with store.connect() as con:
        assert rollup.differences(con) == []
    found = doctor.check(demo_copy, store, vecs)
    assert found.dangling_links["llm_calls.user_id"] == 3 and not found.stale_rollup_days
    doctor.repair(demo_copy, store, vecs, None, found)
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM llm_calls WHERE user_id = 99999").fetchone() == (0,)
        assert rollup.differences(con) == []  # usage_model_daily has no user to cascade by


def test_an_upgraded_database_gets_its_history_priced_and_rolled_up(tmp_path):
    import shutil

    import duckdb

    from workbench import db

    before = tmp_path / "sql"
    before.mkdir()
    for path in sorted(db.SQL_DIR.glob("00[1-7]_*.sql")):  # the schema before issue 6
        shutil.copy(path, before)
    con = duckdb.connect(str(tmp_path / "old.duckdb"))
    db.migrate(con, before)
    org_id = organisations.create_organization(con, "Old Co")
    user_id = users.insert_user(con, org_id, "old", "old@x.test", "x", "manager")
    con.execute("INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type, prompt_tokens,"
                " completion_tokens, total_tokens, cost_usd, latency_ms, created_at) VALUES"
                " (?, ?, 'openai', 'gpt-4o-mini', 'chat', 1000, 100, 1100, 99.0, 800,"
                " TIMESTAMP '2026-11-19 10:00'),"
                " (?, ?, 'acme', 'secret', 'chat', 10, 10, 20, NULL, 900, TIMESTAMP '2026-11-19 11:00')",
                [org_id, user_id, org_id, user_id])
    assert "010_usage_backfill.sql" in db.migrate(con)
    assert rollup.differences(con) == []
    cost, unpriced = con.execute("SELECT sum(cost_usd), sum(unpriced_calls) FROM usage_daily").fetchall()[0]
    assert cost == pytest.approx((1000 * 0.15 + 100 * 0.60) / 1e6) and unpriced == 1  # repriced, not $99
