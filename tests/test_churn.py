"""Churn from the workbench's own data: no feature reads anything after the cutoff, and scoring with
the production model writes each user's risk and reasons to analytics_results."""

from __future__ import annotations

import json
from datetime import timedelta
from pathlib import Path

import duckdb
import numpy as np
import polars as pl
import pyarrow as pa
import pytest
from polars.testing import assert_frame_equal

from tests.conftest import DEMO_TODAY, ctx_of
from workbench import home
from workbench.errors import InvalidInput
from workbench.models import promotion, results
from workbench.models.churn import features as churn_features
from workbench.models.churn import service as churn_service

CUTOFF = DEMO_TODAY - timedelta(days=45)


def features_at(store, ctx, cutoff=CUTOFF) -> pl.DataFrame:
    with store.connect() as con:
        return churn_features.population(ctx, con, cutoff, horizon_days=30)[0]


def test_no_feature_reads_data_after_the_cutoff(demo_copy):
    """The features are the same when the time after the cutoff is full of new activity (calls,
    conversations, poor answers) and when it is erased; only the label changes. `plan` is the one
    exception, and the known limit: the workbench keeps no plan history, so it is today's plan."""
    store = home.open_store(demo_copy)
    dan = ctx_of(store, "dan")
    features = ["user_id", *[f for f in churn_features.FEATURES if f != "plan"]]
    original = features_at(store, dan)
    assert original.height >= 250 and set(churn_features.FEATURES) <= set(original.columns)
    with store.connect() as con:  # a burst of activity by everybody just after the cutoff
        con.execute(
            "INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type, prompt_tokens,"
            " completion_tokens, total_tokens, cost_usd, latency_ms, created_at)"
            " SELECT org_id, id, 'openai', 'gpt-4o', 'chat', 90000, 9000, 99000, 5.0, 100000,"
            " ? + INTERVAL 1 SECOND FROM users",
            [CUTOFF],
        )
        con.execute(
            "INSERT INTO conversations (org_id, user_id, title, created_at)"
            " SELECT org_id, id, 'later', ? + INTERVAL 2 SECOND FROM users",
            [CUTOFF],
        )
        changed = con.execute(
            "UPDATE messages SET confidence_score = 0.01, low_confidence_warning = true"
            " WHERE created_at >= ?",
            [CUTOFF],
        ).fetchall()
        assert changed[0][0] > 0
    busy = features_at(store, dan)
    with store.connect() as con:  # and now the future erased
        con.execute("DELETE FROM llm_calls WHERE created_at >= ?", [CUTOFF])
        con.execute(
            "DELETE FROM messages WHERE conversation_id IN"
            " (SELECT id FROM conversations WHERE created_at >= ?) OR created_at >= ?",
            [CUTOFF, CUTOFF],
        )
        con.execute("DELETE FROM conversations WHERE created_at >= ?", [CUTOFF])
    erased = features_at(store, dan)
    # the same features; sums of money may differ in their last bits, as the rows lie differently
    assert_frame_equal(busy.select(features), original.select(features), check_exact=False, rel_tol=1e-9)
    assert_frame_equal(erased.select(features), original.select(features), check_exact=False, rel_tol=1e-9)
    assert busy["churned"].sum() == 0 and erased["churned"].sum() > original["churned"].sum()


def test_messages_before_the_cutoff_count_and_after_do_not(demo_copy):
    store = home.open_store(demo_copy)
    dan = ctx_of(store, "dan")
    someone = features_at(store, dan).filter(pl.col("mean_confidence").is_not_null())["username"][0]
    before = features_at(store, dan).filter(pl.col("username") == someone)
    with store.connect() as con:
        con.execute("UPDATE messages SET confidence_score = 0.0 WHERE created_at >= ?", [CUTOFF])
    after = features_at(store, dan).filter(pl.col("username") == someone)
    assert before.height == 1 and before["mean_confidence"].to_list() == after["mean_confidence"].to_list()


def test_the_model_is_for_active_customers_and_says_who_it_leaves_out(demo_copy):
    """Users at risk were led by users gone for 41-82 days (100% risk, nothing to act on) and by
    staff. A churn model learns from and scores customers active in its horizon before the cutoff;
    the others are counted, not scored."""
    store = home.open_store(demo_copy)
    dan = ctx_of(store, "dan")
    with store.connect() as con:
        gone = con.execute("INSERT INTO users (org_id, username, email, password_hash) VALUES (?, 'gone',"
                           " 'gone@example.test', 'x') RETURNING id", [dan.org_id]).fetchall()[0][0]
        for user_id, days in ((gone, 45), (dan.user_id, 1)):  # a customer gone 45 days; staff busy
            con.execute("INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type,"
                        " prompt_tokens, completion_tokens, total_tokens, created_at)"
                        " VALUES (?, ?, 'openai', 'gpt-4o', 'chat', 10, 10, 20, ?)",
                        [dan.org_id, user_id, CUTOFF - timedelta(days=days)])
        frame, excluded = churn_features.population(dan, con, CUTOFF, horizon_days=30)
        staff = {r[0] for r in con.execute(
            "SELECT u.username FROM users u JOIN user_roles ur ON ur.user_id = u.id JOIN roles r"
            " ON r.id = ur.role_id WHERE u.org_id = ? AND r.name <> 'viewer'", [dan.org_id]).fetchall()}
    names = set(frame["username"])
    assert "gone" not in names and "dan" in staff and not names & staff
    assert frame["recency_days"].max() < 30 and frame.height >= 200
    assert excluded["staff"] >= 1 and excluded["left"] >= 1
    labelled = features_at(store, dan)
    assert set(labelled["username"]) == names  # training learns from the same people it scores


def populate(con, org_id: int, n: int = 240, seed: int = 3) -> None:
    """n members of an organisation whose LLM calls fade out before they leave (a third leave)."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        user_id = con.execute(
            "INSERT INTO users (org_id, username, email, password_hash, plan) VALUES (?, ?, ?, 'x', ?)"
            " RETURNING id",
            [org_id, f"member{i}", f"member{i}@example.test", rng.choice(["free", "pro"])],
        ).fetchall()[0][0]
        leaves = CUTOFF + timedelta(days=int(rng.integers(-10, 25))) if rng.random() < 0.35 else None
        rate = rng.uniform(0.4, 1.5)
        for day in range(90):
            at = CUTOFF - timedelta(days=60) + timedelta(days=day, hours=10)
            fading = leaves is not None and (leaves - at).days < 21
            if (leaves is None or at < leaves) and rng.random() < rate * (0.3 if fading else 1.0) / 1.5:
                rows.append((org_id, user_id, at, int(rng.integers(100, 3000))))
    calls = pa.Table.from_pylist(
        [dict(zip(("org_id", "user_id", "ts", "tokens"), r, strict=True)) for r in rows]
    )
    con.register("member_calls", calls)
    con.execute(
        "INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type, prompt_tokens,"
        " completion_tokens, total_tokens, latency_ms, created_at) SELECT org_id, user_id, 'openai',"
        " 'gpt-4o-mini', 'chat', tokens, 0, tokens, 500, ts FROM member_calls"
    )
    con.unregister("member_calls")


def test_scoring_writes_each_users_risk_and_reasons(demo_copy):
    wb = home.Workbench(demo_copy)
    store = wb.store
    dan, alice, hannah = ctx_of(store, "dan"), ctx_of(store, "alice"), ctx_of(store, "hannah")
    with store.connect() as con:
        populate(con, dan.org_id)
    with pytest.raises(InvalidInput, match="no production version"):
        churn_service.score(dan, wb, cutoff=CUTOFF)
    trained = churn_service.train(dan, wb, cutoff=CUTOFF)
    assert trained["metrics"]["roc_auc"] > 0.8, trained["metrics"]
    with store.connect() as con:
        promotion.promote(alice, con, demo_copy, "churn", trained["version"])
    result = churn_service.score(dan, wb, cutoff=CUTOFF)
    with store.connect() as con:
        rows = con.execute(
            "SELECT org_id, result_type, meta, model_artifact_id FROM analytics_results WHERE batch_id = ?",
            [result["batch_id"]],
        ).fetchall()
    with pytest.raises(InvalidInput, match="no production version"):  # another tenant's model
        churn_service.score(hannah, wb, cutoff=CUTOFF)
    preds = [r for r in rows if r[1] == "churn_pred"]
    charts = [r for r in rows if r[1] == "viz_image"]
    assert result["scored"] == len(preds) > 200 and {r[0] for r in rows} == {dan.org_id}
    assert result["excluded"]["staff"] >= 4 and "dan" not in {json.loads(r[2])["username"] for r in preds}
    # scoring keeps the churn definition the model was trained with
    assert trained["params"]["horizon_days"] == result["horizon_days"] == 30
    assert len(charts) == 1 and Path(result["chart"]).read_bytes().startswith(b"\x89PNG")
    metas = [json.loads(r[2]) for r in preds]
    assert all(0 <= m["risk"] <= 1 for m in metas)
    risky = max(metas, key=lambda m: m["risk"])
    assert risky["reasons"] and "typical" in risky["reasons"][0] and risky["version"] == trained["version"]
    assert not any("_" in reason.split(" (")[0] for m in metas for reason in m["reasons"])  # in words


def test_a_batch_that_cannot_be_written_leaves_no_rows_and_no_chart(demo_copy):
    """Churn and forecast scores are written by `results.save_batch`: all the rows and the chart,
    or none of them (here the second row is not JSON)."""
    store = home.open_store(demo_copy)
    dan = ctx_of(store, "dan")
    count = "SELECT count(*) FROM analytics_results"
    with store.connect() as con:
        before = con.execute(count).fetchone()[0]
    with store.connect() as con, pytest.raises(duckdb.Error):
        results.save_batch(dan, con, demo_copy, result_type="churn_pred", metas=['{"risk": 0.5}', "not json"],
                           model_artifact_id=1, chart_png=b"\x89PNG", chart_prefix="churn-risk",
                           chart_meta={"chart": "distribution of churn risk"})
    with store.connect() as con:
        assert con.execute(count).fetchone()[0] == before
    assert not list(home.results_dir(demo_copy, dan.org_id).glob("*.png"))
