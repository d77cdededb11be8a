"""Churn features from the workbench's own data: each user's activity before a cutoff, and the label
"no activity in the N days after the cutoff". Every feature reads rows strictly before the cutoff
(`created_at < cutoff`); only the label reads the window after it. A user's activity is any LLM
call, chat message, conversation or document upload of theirs."""

from __future__ import annotations

from datetime import datetime, timedelta

import duckdb
import polars as pl

from workbench.accounts.context import Context

NUMERIC = [
    "recency_days",
    "active_days",
    "active_days_14",
    "active_days_trend",
    "sessions",
    "messages",
    "tokens",
    "tokens_trend",
    "cost_usd",
    "mean_latency_ms",
    "documents",
    "mean_confidence",
    "low_confidence_rate",
    "tenure_days",
]
CATEGORICAL = ["plan"]
# The features in words, for the reasons and charts a user reads.
NAMES = {
    "recency_days": "days since last activity", "active_days": "active days (90 d)",
    "active_days_14": "active days (14 d)", "active_days_trend": "change in active days (14 d)",
    "sessions": "conversations", "messages": "questions asked", "tokens": "tokens used",
    "tokens_trend": "change in tokens (30 d)", "cost_usd": "cost (USD)",
    "mean_latency_ms": "mean latency (ms)",
    "documents": "documents uploaded", "mean_confidence": "mean answer confidence",
    "low_confidence_rate": "share of low-confidence answers", "tenure_days": "days as a user", "plan": "plan",
}
FEATURES = NUMERIC + CATEGORICAL
TARGET = "churned"

# One activity stream per user: (user_id, ts, tokens, cost, latency_ms, kind).
_ACTIVITY = """
    SELECT user_id, created_at AS ts, total_tokens AS tokens, coalesce(cost_usd, 0) AS cost, latency_ms,
           'call' AS kind
    FROM llm_calls WHERE org_id = $org AND user_id IS NOT NULL
    UNION ALL
    SELECT m.user_id, m.created_at, 0, 0, NULL, 'message' FROM messages m
    JOIN conversations c ON c.id = m.conversation_id WHERE c.org_id = $org AND m.role = 'user'
    UNION ALL
    SELECT user_id, created_at, 0, 0, NULL, 'conversation' FROM conversations WHERE org_id = $org
    UNION ALL
    SELECT uploaded_by_id, uploaded_at, 0, 0, NULL, 'document' FROM documents
    WHERE org_id = $org AND uploaded_by_id IS NOT NULL
"""

_FEATURES = f"""
WITH activity AS ({_ACTIVITY}),
before AS (SELECT * FROM activity WHERE ts < $cutoff AND ts >= $cutoff - to_days($lookback)),
-- tenure counts from the first activity ever seen before the cutoff (imported users may be
-- created after their history)
seen AS (SELECT user_id, min(ts) AS first_seen FROM activity WHERE ts < $cutoff GROUP BY user_id),
answers AS (
    SELECT c.user_id, avg(m.confidence_score) AS mean_confidence,
           avg(CASE WHEN m.low_confidence_warning THEN 1.0 ELSE 0.0 END) AS low_confidence_rate
    FROM messages m JOIN conversations c ON c.id = m.conversation_id
    WHERE c.org_id = $org AND m.role = 'assistant' AND m.created_at < $cutoff
      AND m.created_at >= $cutoff - to_days($lookback)
    GROUP BY c.user_id
),
agg AS (
    SELECT user_id,
           date_diff('day', max(ts), $cutoff) AS recency_days,
           count(DISTINCT ts::DATE) AS active_days,
           count(DISTINCT ts::DATE) FILTER (WHERE ts >= $cutoff - INTERVAL 14 DAY) AS active_days_14,
           count(DISTINCT ts::DATE) FILTER (WHERE ts >= $cutoff - INTERVAL 28 DAY
                                              AND ts < $cutoff - INTERVAL 14 DAY) AS active_days_prev_14,
           count(*) FILTER (WHERE kind = 'conversation') AS sessions,
           count(*) FILTER (WHERE kind = 'message') AS messages,
           sum(tokens) AS tokens,
           sum(tokens) FILTER (WHERE ts >= $cutoff - INTERVAL 30 DAY) AS tokens_30,
           sum(tokens) FILTER (WHERE ts >= $cutoff - INTERVAL 60 DAY
                                 AND ts < $cutoff - INTERVAL 30 DAY) AS tokens_prev_30,
           sum(cost) AS cost_usd,
           avg(latency_ms) AS mean_latency_ms,
           count(*) FILTER (WHERE kind = 'document') AS documents
    FROM before GROUP BY user_id
),
label AS (
    SELECT DISTINCT user_id FROM activity
    WHERE ts >= $cutoff AND ts < $cutoff + to_days($horizon)
),
staff AS (  -- people who work in the workbench (any role but viewer), not the product's customers
    SELECT DISTINCT ur.user_id FROM user_roles ur JOIN roles r ON r.id = ur.role_id WHERE r.name <> 'viewer'
)
SELECT u.id AS user_id, u.username,
       coalesce(a.recency_days, $lookback)::DOUBLE AS recency_days,
       coalesce(a.active_days, 0)::DOUBLE AS active_days,
       coalesce(a.active_days_14, 0)::DOUBLE AS active_days_14,
       (coalesce(a.active_days_14, 0) - coalesce(a.active_days_prev_14, 0))::DOUBLE AS active_days_trend,
       coalesce(a.sessions, 0)::DOUBLE AS sessions,
       coalesce(a.messages, 0)::DOUBLE AS messages,
       coalesce(a.tokens, 0)::DOUBLE AS tokens,
       ((coalesce(a.tokens_30, 0) + 1.0) / (coalesce(a.tokens_prev_30, 0) + 1.0))::DOUBLE AS tokens_trend,
       coalesce(a.cost_usd, 0)::DOUBLE AS cost_usd,
       a.mean_latency_ms::DOUBLE AS mean_latency_ms,
       coalesce(a.documents, 0)::DOUBLE AS documents,
       n.mean_confidence::DOUBLE AS mean_confidence,
       n.low_confidence_rate::DOUBLE AS low_confidence_rate,
       date_diff('day', least(u.created_at, s.first_seen), $cutoff)::DOUBLE AS tenure_days,
       u.plan,
       (l.user_id IS NULL)::INTEGER AS churned,
       a.recency_days >= $horizon AS already_left,
       st.user_id IS NOT NULL AS staff
FROM users u
LEFT JOIN agg a ON a.user_id = u.id
LEFT JOIN answers n ON n.user_id = u.id
LEFT JOIN seen s ON s.user_id = u.id
LEFT JOIN label l ON l.user_id = u.id
LEFT JOIN staff st ON st.user_id = u.id
WHERE u.org_id = $org AND a.user_id IS NOT NULL  -- active before the cutoff, so they existed
ORDER BY u.id
"""


def population(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    cutoff: datetime,
    *,
    horizon_days: int = 30,
    lookback_days: int = 90,
    labelled: bool = True,
) -> tuple[pl.DataFrame, dict]:
    """The users a churn model learns from and scores, with their features: active in the
    `horizon_days` before `cutoff` (one silent longer has already left, by the model's own
    definition: scoring them would only say so at 100%) and not staff (a role beyond viewer: they
    use the workbench for work, they are not its customers). Returns the frame and who was left out,
    {"left": n, "staff": n}, among the users active in the `lookback_days` before `cutoff`."""
    ctx.require("models:read")
    params = {"org": ctx.org_id, "cutoff": cutoff, "horizon": horizon_days, "lookback": lookback_days}
    frame = pl.from_arrow(con.sql(_FEATURES, params=params).to_arrow_table())
    excluded = {"staff": int(frame["staff"].sum()),
                "left": int((frame["already_left"] & ~frame["staff"]).sum())}
    frame = frame.filter(~pl.col("already_left") & ~pl.col("staff")).drop("already_left", "staff")
    return (frame if labelled else frame.drop(TARGET)), excluded


def default_cutoff(con: duckdb.DuckDBPyConnection, ctx: Context, horizon_days: int = 30) -> datetime:
    """The latest cutoff whose label window has fully passed: the last activity minus the horizon."""
    ctx.require("models:read")
    row = con.execute(f"SELECT max(ts) FROM ({_ACTIVITY})", {"org": ctx.org_id}).fetchall()[0]
    last = row[0] or datetime.now()
    return datetime.combine(last.date(), datetime.min.time()) - timedelta(days=horizon_days)
