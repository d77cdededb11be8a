"""The analytics agent's named queries: what each answers (its description and example questions,
which the question is matched against), the permission it needs, and its SQL.

Every query filters on the acting user's organisation: `org_id = ?` on the usage tables, or the
call's project's `org_id = ?` for calls. The placeholders are, in order: the organisation's id,
the user's id (when `own`: documents the user may read), the period's first day and the day after
its last (when `period`), then the number of rows (when the SQL ends in `LIMIT ?`)."""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Query:
    name: str
    description: str  # "Title: what it answers"; the title heads the answer
    permission: str
    sql: str
    chart: str  # line / bar
    unit: str = ""  # "$" for money
    period: bool = True  # takes [start, end) dates; False: it covers all time
    own: bool = False  # also filtered to what the user may read (documents.VISIBLE)
    needs: tuple[str, ...] = ()  # the concepts (see matching.CONCEPT_WORDS) a question must name
    also: tuple[str, ...] = ()  # concepts it answers too (a breakdown, a count, a total)
    examples: tuple[str, ...] = ()  # questions it answers; the first is offered as a suggestion
    limit: int = 10  # rows when the question does not say "top N"

    @property
    def title(self) -> str:
        return self.description.split(":")[0]


# Usage queries read the daily rollups (fast at ten million calls); a group whose calls are all
# unpriced has an unknown cost, never $0.
_PRICED_COST = (
    "CASE WHEN sum(calls) = sum(unpriced_calls) THEN NULL ELSE round(sum(cost_usd), 4) END AS cost_usd"
)
_USAGE_DAYS = " WHERE d.org_id = ? AND d.day >= ? AND d.day < ?"
_CALLS = " FROM calls c JOIN projects p ON p.id = c.project_id WHERE p.org_id = ?"
_CALL_DAYS = _CALLS + " AND c.started_at >= ? AND c.started_at < ?"
_INTENT = "coalesce(c.intent, '(not yet clustered)')"
# per intent, with a first row over all the calls ("All calls")
_INTENT_OR_ALL = f"CASE WHEN grouping(c.intent) = 1 THEN 'All calls' ELSE {_INTENT} END AS intent"
_BY_INTENT_AND_ALL = " GROUP BY GROUPING SETS ((), (c.intent)) HAVING count(*) > 0"

CATALOGUE = [
    Query(
        "tokens_per_day",
        "Tokens per day: how many tokens were used each day, token usage over time, daily trend",
        "usage:read",
        "SELECT day, sum(total_tokens)::BIGINT AS tokens FROM usage_daily d"
        + _USAGE_DAYS
        + " GROUP BY ALL ORDER BY day",
        "line",
        needs=("token",),
        also=("day", "count", "total"),
        examples=("How many tokens did we use per day last week?", "What is our token usage this month?"),
    ),
    Query(
        "cost_per_day",
        "Cost per day: how much money was spent each day, daily spend trend, dollars over time",
        "usage:read",
        f"SELECT day, {_PRICED_COST}, sum(unpriced_calls)::BIGINT AS unpriced_calls FROM usage_daily d"
        + _USAGE_DAYS
        + " GROUP BY ALL ORDER BY day",
        "line",
        "$",
        needs=("cost",),
        also=("day", "total", "model"),
        examples=("How much did we spend on LLM calls last month?", "What was our daily spend this week?"),
    ),
    Query(
        "cost_by_model",
        "Cost by model: spend and calls by provider and model, which model costs the most",
        "usage:read",
        f"SELECT provider || ' ' || model AS model, {_PRICED_COST}, sum(calls)::BIGINT AS calls,"
        " sum(unpriced_calls)::BIGINT AS unpriced_calls FROM usage_daily d"
        + _USAGE_DAYS
        + " GROUP BY ALL ORDER BY cost_usd DESC NULLS LAST LIMIT ?",
        "bar",
        "$",
        needs=("model",),
        also=("cost", "top", "total", "count", "llm_call"),
        examples=("What did each model cost last month?", "Which model costs the most?"),
    ),
    Query(
        "latency_by_model",
        "Latency by model: how slow or fast each model answers, p50 and p95 response time",
        "usage:read",
        "SELECT provider || ' ' || model AS model, round(quantile_cont(latency_ms, 0.95)) AS p95_ms,"
        " round(quantile_cont(latency_ms, 0.5)) AS p50_ms, count(*) AS calls FROM llm_calls"
        " WHERE org_id = ? AND created_at >= ? AND created_at < ? AND latency_ms IS NOT NULL"
        " GROUP BY ALL ORDER BY p95_ms DESC LIMIT ?",
        "bar",
        needs=("latency",),
        also=("model", "top", "average", "llm_call"),
        examples=("Which model is the slowest?", "What is the p95 latency per model this week?"),
    ),
    Query(
        "top_users_by_tokens",
        "Top users by tokens: which users use the most tokens, heaviest users",
        "usage:read",
        "SELECT coalesce(u.username, '(deleted user)') AS user, sum(d.total_tokens)::BIGINT AS tokens,"
        " round(sum(d.cost_usd), 4) AS cost_usd FROM usage_daily d LEFT JOIN users u ON u.id = d.user_id"
        + _USAGE_DAYS
        + " GROUP BY ALL ORDER BY tokens DESC LIMIT ?",
        "bar",
        needs=("token", "user"),
        also=("top", "count", "total"),
        examples=("Which users used the most tokens last month?", "Who are our heaviest users?"),
    ),
    Query(
        "cost_by_user",
        "LLM cost by user: spend and LLM calls per user, who costs the most",
        "usage:read",
        f"SELECT coalesce(u.username, '(deleted user)') AS user, {_PRICED_COST},"
        " sum(d.calls)::BIGINT AS calls, sum(d.unpriced_calls)::BIGINT AS unpriced_calls"
        " FROM usage_daily d LEFT JOIN users u ON u.id = d.user_id"
        + _USAGE_DAYS
        + " GROUP BY ALL ORDER BY cost_usd DESC NULLS LAST LIMIT ?",
        "bar",
        "$",
        needs=("cost", "user"),
        also=("top", "total", "llm_call"),
        examples=("What did each user cost last month?", "Who spent the most on LLM calls this month?"),
    ),
    Query(
        "cost_by_project",
        "LLM cost by project: spend and LLM calls per project, which project costs the most",
        "usage:read",
        f"SELECT coalesce(p.name, '(no project)') AS project, {_PRICED_COST},"
        " sum(d.calls)::BIGINT AS calls, sum(d.unpriced_calls)::BIGINT AS unpriced_calls"
        " FROM usage_daily d LEFT JOIN projects p ON p.id = d.project_id"
        + _USAGE_DAYS
        + " GROUP BY ALL ORDER BY cost_usd DESC NULLS LAST LIMIT ?",
        "bar",
        "$",
        needs=("cost", "project"),
        also=("top", "total", "llm_call"),
        examples=("What did each project cost last month?", "Which project spends the most?"),
    ),
    Query(
        "calls_per_day",
        "Calls per day: call-centre call volume, how many phone calls came in each day",
        "calls:read",
        "SELECT c.started_at::DATE AS day, count(*) AS calls" + _CALL_DAYS + " GROUP BY ALL ORDER BY day",
        "line",
        needs=("call",),
        also=("day", "count", "total"),
        examples=("How many calls did we get per day last week?", "What was our call volume this month?"),
    ),
    Query(
        "calls_per_intent",
        "Calls per intent: how many calls came in for each intent (topic, reason for calling)",
        "calls:read",
        f"SELECT {_INTENT} AS intent, count(*) AS calls"
        + _CALL_DAYS
        + " GROUP BY ALL ORDER BY calls DESC, intent LIMIT ?",
        "bar",
        needs=("intent",),
        also=("call", "count", "top", "total"),
        examples=("How many calls per intent last month?", "What are the most common reasons for calling?"),
        limit=50,
    ),
    Query(
        "sentiment_by_intent",
        "Customer sentiment by intent: the customers' mean sentiment (-1 to 1) over all calls and per "
        "intent, lowest first",
        "calls:read",
        f"SELECT {_INTENT_OR_ALL}, round(avg(c.sentiment), 3) AS mean_sentiment, count(*) AS calls"
        + _CALL_DAYS
        + " AND c.sentiment IS NOT NULL"
        + _BY_INTENT_AND_ALL
        + " ORDER BY grouping(c.intent) DESC, mean_sentiment, intent LIMIT ?",
        "bar",
        needs=("sentiment",),
        also=("intent", "call", "average", "top"),
        examples=(
            "What is the customer sentiment by intent last month?",
            "Which topics make customers unhappy?",
        ),
        limit=50,
    ),
    Query(
        "resolution_rate",
        "Resolution rate: the share of calls resolved, over all calls and per intent (calls whose "
        "closing turns say neither are left out)",
        "calls:read",
        f"SELECT {_INTENT_OR_ALL}, round(100 * avg(c.resolved::INTEGER), 1) AS resolved_pct,"
        " count(c.resolved) AS calls_with_outcome, count(*) AS calls"
        + _CALL_DAYS
        + _BY_INTENT_AND_ALL
        + " ORDER BY grouping(c.intent) DESC, calls_with_outcome DESC, calls DESC, intent LIMIT ?",
        "bar",
        needs=("resolved",),
        also=("rate", "intent", "call", "average"),
        examples=("What is our resolution rate this month?", "What share of calls were resolved per intent?"),
        limit=50,
    ),
    Query(
        "handle_time",
        "Average handle time: the mean call duration in minutes, over all calls and per intent",
        "calls:read",
        f"SELECT {_INTENT_OR_ALL}, round(avg(c.duration_seconds) / 60, 2) AS mean_minutes,"
        " count(c.duration_seconds) AS timed_calls"
        + _CALL_DAYS
        + " AND c.duration_seconds IS NOT NULL"
        + _BY_INTENT_AND_ALL
        + " ORDER BY grouping(c.intent) DESC, mean_minutes DESC, intent LIMIT ?",
        "bar",
        needs=("duration",),
        also=("average", "call", "intent", "top"),
        examples=("What is our average handle time last month?", "How long do calls take per intent?"),
        limit=50,
    ),
    Query(
        "top_unresolved_topics",
        "Top unresolved topics: the intents with the most unresolved calls",
        "calls:read",
        f"SELECT {_INTENT} AS intent, count(*) FILTER (WHERE c.resolved = false) AS unresolved_calls,"
        " count(*) AS calls, round(100 * count(*) FILTER (WHERE c.resolved = false) / count(*), 1)"
        " AS unresolved_pct"
        + _CALL_DAYS
        + " GROUP BY ALL HAVING count(*) FILTER (WHERE c.resolved = false) > 0"
        " ORDER BY unresolved_calls DESC, intent LIMIT ?",
        "bar",
        needs=("unresolved",),
        also=("intent", "call", "top", "count"),
        examples=(
            "What are the top unresolved topics this month?",
            "Which intents go unresolved most often?",
        ),
    ),
    Query(
        "calls_by_project",
        "Calls by project: calls and utterances per project, which project has the most calls",
        "calls:read",
        "SELECT p.name AS project, count(DISTINCT c.id) AS calls, count(u.id) AS utterances"
        " FROM projects p JOIN calls c ON c.project_id = p.id LEFT JOIN utterances u ON u.call_id = c.id"
        " WHERE p.org_id = ? AND c.started_at >= ? AND c.started_at < ?"
        " GROUP BY ALL ORDER BY calls DESC LIMIT ?",
        "bar",
        needs=("call", "project"),
        also=("count", "top", "total"),
        examples=("How many calls did each project get last month?", "Which project has the most calls?"),
    ),
    Query(
        "conversations_per_day",
        "Conversations per day: chat conversations started each day, how much the assistant is used",
        "usage:read",
        "SELECT created_at::DATE AS day, count(*) AS conversations FROM conversations"
        " WHERE org_id = ? AND created_at >= ? AND created_at < ? GROUP BY ALL ORDER BY day",
        "line",
        needs=("conversation",),
        also=("day", "count", "total"),
        examples=("How many chat conversations were started per day this week?",),
    ),
    Query(
        "low_confidence_answers",
        "Low-confidence answers: share of chat answers with low confidence per day, answer quality",
        "usage:read",
        "SELECT m.created_at::DATE AS day, count(*) AS answers,"
        " round(avg(m.low_confidence_warning::INTEGER), 3) AS low_confidence_share,"
        " round(avg(m.confidence_score), 3) AS mean_confidence FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id WHERE c.org_id = ? AND m.role = 'assistant'"
        " AND m.created_at >= ? AND m.created_at < ? GROUP BY ALL ORDER BY day",
        "line",
        needs=("confidence",),
        also=("day", "rate", "count", "conversation", "average"),
        examples=("How many chat answers had low confidence last week?",),
    ),
    Query(
        "documents_by_status",
        "Documents by status: documents by processing status and type, how many are indexed",
        "documents:read",
        "SELECT processing_status AS status, coalesce(doc_type, 'unspecified') AS doc_type,"
        " count(*) AS documents, sum(num_chunks) AS chunks FROM documents d"
        " WHERE d.org_id = ? AND (d.scope IN ('global', 'project') OR d.uploaded_by_id = ?)"
        " AND conversation_id IS NULL"
        " GROUP BY ALL ORDER BY documents DESC LIMIT ?",
        "bar",
        period=False,
        own=True,
        needs=("document",),
        also=("status", "count", "total"),
        examples=("How many documents are indexed, by status?",),
    ),
]


# Column names in words, for answers and table headers; a name not listed is tidied (column_words).
COLUMN_WORDS = {
    "day": "day",
    "tokens": "tokens",
    "cost_usd": "cost (USD)",
    "unpriced_calls": "unpriced LLM calls",
    "model": "model",
    "calls": "calls",
    "p50_ms": "median latency (ms)",
    "p95_ms": "95th percentile latency (ms)",
    "user": "user",
    "project": "project",
    "utterances": "utterances",
    "conversations": "conversations",
    "answers": "answers",
    "low_confidence_share": "share of low-confidence answers",
    "mean_confidence": "mean confidence",
    "status": "status",
    "doc_type": "document type",
    "documents": "documents",
    "chunks": "chunks",
    "intent": "intent",
    "mean_sentiment": "mean customer sentiment (-1 to 1)",
    "resolved_pct": "resolved (%)",
    "calls_with_outcome": "calls with a known outcome",
    "mean_minutes": "mean handle time (minutes)",
    "timed_calls": "timed calls",
    "unresolved_calls": "unresolved calls",
    "unresolved_pct": "unresolved (%)",
}
_AGGREGATES = {
    "count_star": "number of rows",
    "count": "number of",
    "sum": "total",
    "avg": "average",
    "mean": "average",
    "min": "lowest",
    "max": "highest",
    "median": "median",
}


def column_words(name: str) -> str:
    """A column's name in words: "cost_usd" -> "cost (USD)", "count_star()" -> "number of rows",
    "sum(total_tokens)" -> "total total tokens" tidied to "total tokens"."""
    if name in COLUMN_WORDS:
        return COLUMN_WORDS[name]
    if found := re.fullmatch(r"\s*(\w+)\s*\((.*)\)\s*", name):
        func, inner = found.group(1).lower(), found.group(2).strip().strip('"')
        if func == "count_star" or (func == "count" and inner in ("", "*")):
            return "number of rows"
        words = f"{_AGGREGATES.get(func, func)} {column_words(inner) if inner else ''}".strip()
        return re.sub(r"\b(\w+) \1\b", r"\1", words)  # "total total tokens" -> "total tokens"
    return re.sub(r"\s+", " ", name.replace("_", " ")).strip() or name
