"""The analytics agent: answers questions about the workbench's own data (usage, calls,
conversations, documents) by choosing one query from a catalogue of named, parameterised,
tenant-scoped queries, matched to the question by meaning (embeddings) and words.

Every query filters on the acting user's organisation and needs the permission it names. With an
OpenAI-compatible model configured, the model writes the SQL instead and it runs in
`workbench.sql_console.sandbox` (read-only, the tenant's rows only, no external access); if that fails, the
catalogue answers and the answer says so."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field

import duckdb
import numpy as np

from workbench.accounts.context import Context
from workbench.search.embed import Embedder
from workbench.text import content_words

MIN_MATCH = 0.25
MAX_STORED_ROWS = 500


@dataclass(frozen=True)
class Query:
    name: str
    description: str  # what it answers; matched against the question
    permission: str
    sql: str  # ? placeholders: org_id, the user's id (when `own`), days (when `period`), then limit
    chart: str  # line / bar
    unit: str = ""  # "$" for money
    period: bool = True
    own: bool = False  # also filtered to what the user may read (documents.VISIBLE)


# Usage queries read the daily rollups (fast at ten million calls); a group whose calls are all
# unpriced has an unknown cost, never $0.
_PRICED_COST = ("CASE WHEN sum(calls) = sum(unpriced_calls) THEN NULL ELSE round(sum(cost_usd), 4) END"
                " AS cost_usd")

CATALOGUE = [
    Query(
        "tokens_per_day",
        "Tokens per day: how many tokens were used each day, token usage over time, daily trend",
        "usage:read",
        "SELECT day, sum(total_tokens)::BIGINT AS tokens FROM usage_daily"
        " WHERE org_id = ? AND day >= current_date - ?::INTEGER + 1 GROUP BY ALL ORDER BY day",
        "line",
    ),
    Query(
        "cost_per_day",
        "Cost per day: how much money was spent each day, daily spend trend, dollars over time",
        "usage:read",
        f"SELECT day, {_PRICED_COST}, sum(unpriced_calls)::BIGINT AS unpriced_calls FROM usage_daily"
        " WHERE org_id = ? AND day >= current_date - ?::INTEGER + 1 GROUP BY ALL ORDER BY day",
        "line",
        "$",
    ),
    Query(
        "cost_by_model",
        "Cost by model: spend and calls by provider and model, which model costs the most",
        "usage:read",
        f"SELECT provider || ' ' || model AS model, {_PRICED_COST}, sum(calls)::BIGINT AS calls,"
        " sum(unpriced_calls)::BIGINT AS unpriced_calls FROM usage_daily"
        " WHERE org_id = ? AND day >= current_date - ?::INTEGER + 1 GROUP BY ALL"
        " ORDER BY cost_usd DESC NULLS LAST LIMIT ?",
        "bar",
        "$",
    ),
    Query(
        "latency_by_model",
        "Latency by model: how slow or fast each model answers, p50 and p95 response time",
        "usage:read",
        "SELECT provider || ' ' || model AS model, round(quantile_cont(latency_ms, 0.5)) AS p50_ms,"
        " round(quantile_cont(latency_ms, 0.95)) AS p95_ms, count(*) AS calls FROM llm_calls"
        " WHERE org_id = ? AND created_at >= current_date - ?::INTEGER + 1 AND latency_ms IS NOT NULL"
        " GROUP BY ALL ORDER BY p95_ms DESC LIMIT ?",
        "bar",
    ),
    Query(
        "top_users_by_tokens",
        "Top users by tokens: which users use the most tokens and cost the most, heaviest users",
        "usage:read",
        "SELECT u.username AS user, sum(c.total_tokens)::BIGINT AS tokens,"
        " round(sum(c.cost_usd), 4) AS cost_usd FROM usage_daily c JOIN users u ON u.id = c.user_id"
        " WHERE c.org_id = ? AND c.day >= current_date - ?::INTEGER + 1 GROUP BY ALL"
        " ORDER BY tokens DESC LIMIT ?",
        "bar",
    ),
    Query(
        "calls_per_day",
        "Calls per day: call-centre call volume, how many phone calls came in each day",
        "calls:read",
        "SELECT c.started_at::DATE AS day, count(*) AS calls FROM calls c"
        " JOIN projects p ON p.id = c.project_id WHERE p.org_id = ?"
        " AND c.started_at >= current_date - ?::INTEGER + 1 GROUP BY ALL ORDER BY day",
        "line",
    ),
    Query(
        "calls_by_project",
        "Calls by project: calls and utterances per project, which project has the most calls",
        "calls:read",
        "SELECT p.name AS project, count(DISTINCT c.id) AS calls, count(u.id) AS utterances"
        " FROM projects p JOIN calls c ON c.project_id = p.id LEFT JOIN utterances u ON u.call_id = c.id"
        " WHERE p.org_id = ? GROUP BY ALL ORDER BY calls DESC LIMIT ?",
        "bar",
        period=False,
    ),
    Query(
        "conversations_per_day",
        "Conversations per day: chat conversations started each day, how much the assistant is used",
        "usage:read",
        "SELECT created_at::DATE AS day, count(*) AS conversations FROM conversations"
        " WHERE org_id = ? AND created_at >= current_date - ?::INTEGER + 1 GROUP BY ALL ORDER BY day",
        "line",
    ),
    Query(
        "low_confidence_answers",
        "Low-confidence answers: share of chat answers with low confidence per day, answer quality",
        "usage:read",
        "SELECT m.created_at::DATE AS day, count(*) AS answers,"
        " round(avg(m.low_confidence_warning::INTEGER), 3) AS low_confidence_share,"
        " round(avg(m.confidence_score), 3) AS mean_confidence FROM messages m"
        " JOIN conversations c ON c.id = m.conversation_id WHERE c.org_id = ? AND m.role = 'assistant'"
        " AND m.created_at >= current_date - ?::INTEGER + 1 GROUP BY ALL ORDER BY day",
        "line",
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
    ),
]


@dataclass
class Result:
    text: str
    query: Query | None
    params: dict
    table: dict | None  # {"sql", "columns", "rows", "chart": {"kind", "x", "y"}}
    sources: list[dict]
    match: float
    candidates: list[tuple[str, float]]
    seconds: float
    embedding_tokens: int = 0
    embedding_ms: int = 0
    facts: set[str] = field(default_factory=set)
    error: str | None = None


def failed(error: str) -> Result:
    """The result of a query that could not run: the answer says so."""
    return Result(f"The analytics query failed: {error}", None, {}, None, [], 0.0, [], 0.0, error=error)


_DESCRIBED: dict[str, np.ndarray] = {}


def _catalogue_vectors(embedder: Embedder) -> tuple[list[str], np.ndarray]:
    """The catalogue's texts and their vectors, embedded once per process and model."""
    texts = [f"{q.name.replace('_', ' ')}: {q.description}" for q in CATALOGUE]
    if embedder.model_name not in _DESCRIBED:
        _DESCRIBED[embedder.model_name] = embedder.encode(texts)
    return texts, _DESCRIBED[embedder.model_name]


def run(ctx: Context, con: duckdb.DuckDBPyConnection, embedder: Embedder, question: str) -> Result:
    """Choose the best catalogue query the user may run, run it for their organisation, describe it."""
    began = time.perf_counter()
    t0 = time.perf_counter()
    texts, described = _catalogue_vectors(embedder)
    asked_vector = embedder.encode([question])[0]
    ms = round((time.perf_counter() - t0) * 1000)
    tokens = sum(embedder.count_tokens([question]))
    asked = content_words(question)
    scores = []
    for query, text, vector in zip(CATALOGUE, texts, described, strict=True):
        meaning = float(np.dot(asked_vector, vector))
        words = len(asked & content_words(text))
        scores.append((0.6 * meaning + 0.4 * min(1.0, words / max(1, min(len(asked), 3))), query))
    scores.sort(key=lambda s: -s[0])
    candidates = [(q.name, round(s, 3)) for s, q in scores[:3]]
    best_score, query = scores[0]
    allowed = [q for q in CATALOGUE if ctx.can(q.permission)]
    if best_score >= MIN_MATCH and not ctx.can(query.permission):
        text = (
            f"That question is about {query.description.split(':')[0].lower()}, which needs the "
            f"{query.permission} permission; your role does not have it."
        )
        return Result(
            text, None, {}, None, [], best_score, candidates, time.perf_counter() - began, tokens, ms
        )
    if best_score < MIN_MATCH:
        names = (
            "; ".join(q.description.split(":")[0].lower() for q in allowed) or "nothing your role may read"
        )
        return Result(
            f"I can answer questions about: {names}. Try asking one of those.",
            None,
            {},
            None,
            [],
            best_score,
            candidates,
            time.perf_counter() - began,
            tokens,
            ms,
        )
    params = _params(question, query)
    args = (
        [ctx.org_id]
        + ([ctx.user_id] if query.own else [])
        + ([params["days"]] if query.period else [])
        + ([params["limit"]] if query.sql.rstrip().endswith("LIMIT ?") else [])
    )
    cursor = con.execute(query.sql, args)
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    shown = _shown_sql(query.sql, args)
    table = {
        "name": query.name,
        "sql": shown,
        "columns": columns,
        "rows": rows,
        "chart": {"kind": query.chart, "x": columns[0], "y": columns[1]},
    }
    text, facts = describe(query, params, columns, rows)
    source = {
        "number": 1,
        "id": query.name,
        "title": query.description.split(":")[0],
        "filename": None,
        "page_number": None,
        "location": None,
        "relevance_score": round(best_score, 3),
        "cited": True,
        "cited_text": shown,
        "kind": "query",
        "table": {**table, "rows": rows[:MAX_STORED_ROWS]},  # kept with the answer, so history can redraw it
    }
    return Result(
        text,
        query,
        params,
        table,
        [source],
        best_score,
        candidates,
        time.perf_counter() - began,
        tokens,
        ms,
        facts,
    )


def _params(question: str, query: Query) -> dict:
    text = question.lower()
    days = 30
    if m := re.search(r"(?:last|past|previous)\s+(\d{1,4})\s*(day|week|month|year)s?", text):
        days = int(m.group(1)) * {"day": 1, "week": 7, "month": 30, "year": 365}[m.group(2)]
    elif m := re.search(r"(?:last|past|this)\s+(day|week|month|quarter|year)", text):
        days = {"day": 1, "week": 7, "month": 30, "quarter": 91, "year": 365}[m.group(1)]
    limit = int(m.group(1)) if (m := re.search(r"top\s+(\d{1,3})", text)) else 10
    return {"days": max(1, min(days, 3660)), "limit": max(1, min(limit, 100))}


def _shown_sql(sql: str, args: list) -> str:
    """The SQL as run, with its integer parameters written in (they are all integers)."""
    parts = sql.split("?")
    return "".join(
        p + (str(int(a)) if i < len(args) else "")
        for i, (p, a) in enumerate(zip(parts, args + [None], strict=False))
    )


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "unpriced" if unit == "$" else "n/a"
    if isinstance(value, float):
        return f"${value:,.2f}" if unit == "$" else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def describe(query: Query, params: dict, columns: list[str], rows: list[dict]) -> tuple[str, set[str]]:
    """A short, deterministic description of the result; `facts` are the numbers it states."""
    period = f" over the last {params['days']} days" if query.period else ""
    title = query.description.split(":")[0]
    if not rows:
        return f"{title}{period}: no data for your organisation.", set()
    x, y = columns[0], columns[1]
    unit = query.unit if y.startswith("cost") else ""
    values = [r[y] for r in rows if r[y] is not None]
    facts: set[str] = {str(params["days"]), _fmt(len(rows))}
    if query.chart == "line" and values:
        total = sum(values)
        peak = max(rows, key=lambda r: r[y] if r[y] is not None else float("-inf"))
        last = rows[-1]
        figures = [_fmt(total, unit), _fmt(peak[y], unit), str(peak[x]), _fmt(last[y], unit), str(last[x])]
        facts.update(figures)
        label = "" if unit else " " + y.replace("_", " ")  # "$8.44 in total", "1,234 tokens in total"
        text = (
            f"{title}{period}: {figures[0]}{label} in total over {len(rows)} days; the peak "
            f"was {figures[2]} with {figures[1]}, and the latest day ({figures[4]}) had {figures[3]}."
        )
    else:
        top = rows[:3]
        named = [f"{r[x]} ({_fmt(r[y], unit)})" for r in top]
        facts.update(_fmt(r[y], unit) for r in top)
        text = (
            f"{title}{period}: "
            + ", then ".join(named)
            + (f"; {len(rows)} rows in all." if len(rows) > 3 else ".")
        )
    return text + " [1]", facts


def ground(content: str, table: dict | None, facts: set[str] | None = None) -> dict:
    """Every number the answer states must come from the query result (or its period)."""
    if table is None:
        return {
            "score": 0.0,
            "verified_claims": [],
            "unverified_claims": [],
            "evidence": [],
            "method": "query-result-v1",
        }
    cells = (
        {_fmt(v, "$") for r in table["rows"] for v in r.values()}
        | {_fmt(v) for r in table["rows"] for v in r.values()}
        | {str(v) for r in table["rows"] for v in r.values()}
    )
    known = cells | (facts or set())
    text = content.replace(" [1]", "")
    labels = {str(v) for r in table["rows"] for v in r.values() if isinstance(v, str)}
    for label in sorted(labels, key=len, reverse=True):  # "gpt-4o-mini" names a row; its 4 is no claim
        text = text.replace(label, " ")
    numbers = re.findall(r"\$?\d+(?:,\d{3})*(?:\.\d+)?(?:-\d{2}-\d{2})?", text)
    verified = [n for n in numbers if n in known]
    unverified = [n for n in numbers if n not in known]
    return {
        "score": round(len(verified) / len(numbers), 3) if numbers else 1.0,
        "verified_claims": verified,
        "unverified_claims": unverified,
        "evidence": [f"{n} read from the result of {table['name']}" for n in verified],
        "method": "query-result-v1",
    }


# --- SQL written by a model -----------------------------------------------------------------
SQL_SYSTEM = (
    "You write one DuckDB SELECT statement that answers the user's question from the tables listed. "
    "Use only those tables and columns. Dates are TIMESTAMP columns; use current_date for today. "
    "Aggregate rather than listing raw rows, and put a date or label first and a number second. "
    "Reply with the SQL in a ```sql block and nothing else. Never write anything but a SELECT."
)


def write_sql(provider, question: str, schema: str):
    """Ask the model for SQL over `schema`; returns (sql, completion). Raises ProviderError."""
    from workbench.chat.providers import ProviderError, Request

    request = Request(
        question,
        [],
        SQL_SYSTEM,
        f"Tables:\n{schema}\n\nQuestion: {question}",
        max_tokens=400,
        temperature=0.0,
    )
    completion = provider.generate(request)
    found = re.search(r"```(?:sql)?\s*(.+?)```", completion.text, re.DOTALL | re.IGNORECASE)
    sql = (found.group(1) if found else completion.text).strip()
    if not re.match(r"(?is)^\s*(with|select)\b", sql):
        raise ProviderError("The model did not answer with a SELECT statement.")
    return sql, completion


def from_sql(result, match: float = 1.0) -> Result:
    """A Result for the rows of a sandboxed query, described like a catalogue query's."""
    columns, rows = result.columns, result.rows
    numeric = [
        c for c in columns[1:] if rows and all(isinstance(r[c], int | float) or r[c] is None for r in rows)
    ]
    y = numeric[0] if numeric else (columns[1] if len(columns) > 1 else columns[0])
    dated = bool(rows) and hasattr(rows[0][columns[0]], "year")
    query = Query(
        "model_sql",
        "Query written by the model: " + result.sql[:80],
        "",
        result.sql,
        "line" if dated else "bar",
        "$" if "cost" in y.lower() else "",
        period=False,
    )
    table = {
        "name": "model_sql",
        "sql": result.sql,
        "columns": columns,
        "rows": rows,
        "chart": {"kind": query.chart, "x": columns[0], "y": y},
    }
    if numeric:
        text, facts = describe(query, {"days": 0, "limit": len(rows)}, [columns[0], y], rows)
        text = text.replace("Query written by the model", "The model's query")
    else:
        text, facts = f"The model's query returned {len(rows)} rows. [1]", {_fmt(len(rows))}
    source = {
        "number": 1,
        "id": "model_sql",
        "title": "SQL written by the model",
        "filename": None,
        "page_number": None,
        "location": None,
        "relevance_score": 1.0,
        "cited": True,
        "cited_text": result.sql,
        "kind": "query",
        "table": {**table, "rows": rows[:MAX_STORED_ROWS]},
    }
    return Result(
        text,
        query,
        {"tables": result.tables, "truncated": result.truncated},
        table,
        [source],
        match,
        [],
        result.seconds,
        facts=facts,
    )
