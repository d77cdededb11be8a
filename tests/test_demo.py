"""The demo tells a story on every page, deterministically, and its bulk path scales."""

import json

import pytest

from tests.conftest import DEMO_TODAY
from workbench import home
from workbench.accounts import cascade as relations
from workbench.ops import demo
from workbench.ops.demo import people, usage
from workbench.settings import Settings


def test_demo_meets_the_volumes_the_issue_asks_for(demo_store):
    with demo_store.connect() as con:
        counts = demo.counts(con)
        assert counts["organizations"] == 2 and counts["users"] >= 12
        assert counts["calls"] >= 300 and counts["qa_pairs"] >= 100 and counts["documents"] >= 20
        assert counts["conversations"] > 20 and counts["messages"] > 40
        roles = {r[0] for r in con.execute(
            "SELECT DISTINCT r.name FROM user_roles ur JOIN roles r ON r.id = ur.role_id")
            .fetchall()}
        assert roles == {"admin", "data_scientist", "analyst", "manager", "viewer"}
        intents = con.execute("SELECT count(DISTINCT metadata->>'intent') FROM calls").fetchone()
        assert intents[0] >= 8
        per_call = con.execute("SELECT min(n) FROM (SELECT count(*) n FROM utterances"
                               " GROUP BY call_id)").fetchone()[0]
        assert per_call >= 6
        assert relations.orphans(con) == {}


def test_llm_calls_span_180_days_with_weekly_seasonality_and_growth(demo_store):
    with demo_store.connect() as con:
        days, providers, models, ops = con.execute(
            "SELECT count(DISTINCT created_at::DATE), count(DISTINCT provider),"
            " count(DISTINCT model), count(DISTINCT operation_type) FROM llm_calls").fetchone()
        assert days >= 180 and providers >= 4 and models >= 6 and ops >= 4
        weekday, weekend = con.execute(
            "SELECT avg(n) FILTER (WHERE dow BETWEEN 1 AND 5), avg(n) FILTER (WHERE dow IN (0, 6))"
            " FROM (SELECT created_at::DATE d, dayofweek(d) dow, count(*) n FROM llm_calls"
            " GROUP BY d)").fetchone()
        assert weekday > 1.5 * weekend
        first, last = con.execute(
            "SELECT count(*) FILTER (WHERE created_at < ? - INTERVAL 150 DAY),"
            " count(*) FILTER (WHERE created_at >= ? - INTERVAL 30 DAY) FROM llm_calls",
            [DEMO_TODAY, DEMO_TODAY]).fetchone()
        assert last > 1.3 * first
        unpriced = con.execute("SELECT count(*) FROM llm_calls WHERE cost_usd IS NULL").fetchone()
        assert unpriced[0] > 0  # a model without a known price stays unpriced, not $0


def test_fading_users_go_quiet_at_the_end(demo_store):
    with demo_store.connect() as con:
        rows = dict(con.execute(
            "SELECT u.username, count(*) FILTER (WHERE c.created_at >= ? - INTERVAL 20 DAY)"
            " FROM users u JOIN llm_calls c ON c.user_id = u.id GROUP BY 1",
            [DEMO_TODAY]).fetchall())
    staff = {u[1] for u in people.USERS}
    assert all(rows[name] == 0 for name in people.FADING)
    assert all(rows[name] > 0 for name in staff - people.FADING)
    # members (the churn model's population): some have left, most are still active
    members = [n for name, n in rows.items() if name not in staff]
    assert len(members) > 300 and 0.1 < sum(n == 0 for n in members) / len(members) < 0.6


def test_sample_documents_are_real_prose(demo_home):
    manifest = json.loads((demo_home.samples_dir / "documents" / "manifest.json").read_text())
    assert len(manifest) >= 20
    assert {m["doc_type"] for m in manifest} == {"policy", "product", "tech_manual"}
    for entry in manifest:
        text = (demo_home.samples_dir / "documents" / entry["file"]).read_text()
        assert len(text.split()) >= 300, entry["file"]


def test_same_seed_same_data(tmp_path):
    digests = []
    for name in ("a", "b"):
        cfg = Settings(home=tmp_path / name)
        home.init(cfg)
        store = home.open_store(cfg)
        demo.load(cfg, store, today=DEMO_TODAY)
        with store.connect() as con:
            digests.append(con.execute(
                "SELECT (SELECT sum(hash(external_id || transcript)) FROM calls),"
                " (SELECT sum(hash(user_id::VARCHAR || model || total_tokens::VARCHAR"
                " || created_at::VARCHAR)) FROM llm_calls)").fetchone())
    assert digests[0] == digests[1]


def test_demo_refuses_a_database_with_data(demo_copy):
    from workbench.errors import InvalidInput
    with pytest.raises(InvalidInput, match="empty"):
        demo.load(demo_copy, home.open_store(demo_copy), today=DEMO_TODAY)


def test_scale_writes_rows_through_the_bulk_path(demo_copy):
    store = home.open_store(demo_copy)
    with store.connect() as con:
        before = con.execute("SELECT count(*) FROM llm_calls").fetchone()[0]
        written = usage.write_scale(con, 250_000, seed=1, fading_usernames=people.FADING,
                                    end=DEMO_TODAY, chunk=100_000)
        after, orgs = con.execute("SELECT count(*), count(DISTINCT org_id) FROM llm_calls"
                                  ).fetchone()
    assert written == 250_000 and after == before + 250_000 and orgs == 2
