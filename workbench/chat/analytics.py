"""The analytics agent: answers questions about the workbench's own data (usage, calls,
conversations, documents) with one of its named queries (`queries.CATALOGUE`), or says that none
fits.

Each query is scored against the question (`matching.scored_queries`: the concepts the question
names against those the query answers, and a little embedding similarity). Below MIN_MATCH no SQL
runs and the answer offers the closest queries as example questions; the score is the agent's
confidence in its choice. The period the question names (`periods.parse`) becomes the query's
dates, and the answer always says which days it covered.

Every query filters on the acting user's organisation and needs the permission it names. With an
OpenAI-compatible model configured, the model writes the SQL instead and it runs in
`workbench.sql_console.sandbox` (read-only, the tenant's rows only, no external access); if that
fails, the catalogue answers and the answer says so."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field
from datetime import date

import duckdb

from workbench.accounts.context import Context
from workbench.chat import periods
from workbench.chat.matching import scored_queries
from workbench.chat.periods import Period
from workbench.chat.queries import CATALOGUE, Query, column_words
from workbench.search.embed import Embedder

__all__ = [
    "CATALOGUE",
    "MIN_MATCH",
    "Query",
    "Result",
    "describe",
    "failed",
    "ground",
    "run",
    "scored_queries",
]

# Below this no query runs. Chosen on the labelled questions of tests/test_analytics_agent.py: the
# best score of a question no query answers is 0.46 with the hash test embedder and 0.50 with
# MiniLM ("How many tokens did our marketing team burn?"); the lowest of one a query answers is
# 0.57 and 0.60 ("Roughly how many tokens did we burn?"). 0.54 is the middle of the gap both leave.
MIN_MATCH = 0.54
MAX_STORED_ROWS = 500


@dataclass
class Result:
    text: str
    query: Query | None
    params: dict
    table: dict | None  # {"sql", "columns", "labels", "rows", "chart": {"kind", "x", "y"}}
    sources: list[dict]
    match: float  # how well the chosen query fits the question, 0-1: the agent's confidence
    candidates: list[tuple[str, float]]
    seconds: float
    embedding_tokens: int = 0
    embedding_ms: int = 0
    facts: set[str] = field(default_factory=set)
    error: str | None = None


def failed(error: str) -> Result:
    """The result of a query that could not run: the answer says so."""
    return Result(f"The analytics query failed: {error}", None, {}, None, [], 0.0, [], 0.0, error=error)


# --- answering ---------------------------------------------------------------------------------


def run(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    embedder: Embedder,
    question: str,
    *,
    today: date | None = None,
) -> Result:
    """Choose the named query that fits the question, run it for the user's organisation over the
    period the question names, describe it; or, when none fits well enough, run nothing and say so."""
    began = time.perf_counter()
    period = periods.parse(question, today or date.today())
    topic = periods.without_period(question, period)
    t0 = time.perf_counter()
    asked_vector = embedder.encode([topic])[0]
    ms = round((time.perf_counter() - t0) * 1000)
    tokens = sum(embedder.count_tokens([topic]))
    scores = scored_queries(topic, asked_vector, embedder)
    candidates = [(q.name, s) for s, q in scores[:3]]
    best_score, query = scores[0]

    def answer_without_query(text: str) -> Result:
        return Result(
            text, None, {}, None, [], best_score, candidates, time.perf_counter() - began, tokens, ms
        )

    if best_score < MIN_MATCH:
        return answer_without_query(_no_match(ctx, scores))
    if not ctx.can(query.permission):
        return answer_without_query(
            f"That question is about {query.title.lower()}, which needs the {query.permission} "
            "permission; your role does not have it."
        )
    limit = int(m.group(1)) if (m := re.search(r"\btop\s+(\d{1,3})\b", topic.lower())) else query.limit
    limit = max(1, min(limit, 100))
    args = (
        [ctx.org_id]
        + ([ctx.user_id] if query.own else [])
        + ([period.start, period.end] if query.period else [])
        + ([limit] if query.sql.rstrip().endswith("LIMIT ?") else [])
    )
    cursor = con.execute(query.sql, args)
    columns = [d[0] for d in cursor.description]
    rows = [dict(zip(columns, r, strict=True)) for r in cursor.fetchall()]
    shown = _shown_sql(query.sql, args)
    table = {
        "name": query.name,
        "sql": shown,
        "columns": columns,
        "labels": {c: column_words(c) for c in columns},
        "rows": rows,
        "chart": {"kind": query.chart, "x": columns[0], "y": _axes(columns, rows)[1]},
    }
    text, facts = describe(query, {}, columns, rows, period)
    params = {
        "period": period.words() if query.period else None,
        "start": period.start.isoformat() if query.period else None,
        "end": period.end.isoformat() if query.period else None,
        "days": period.days if query.period else None,
        "limit": limit,
    }
    source = {
        "number": 1,
        "id": query.name,
        "title": query.title,
        "filename": None,
        "page_number": None,
        "location": None,
        "relevance_score": best_score,
        "cited": True,
        "cited_text": shown,
        "kind": "query",
        "table": {**table, "rows": rows[:MAX_STORED_ROWS]},  # kept with the answer, so history can redraw it
    }
    seconds = time.perf_counter() - began
    return Result(text, query, params, table, [source], best_score, candidates, seconds, tokens, ms, facts)


def _no_match(ctx: Context, scores: list[tuple[float, Query]]) -> str:
    """The answer when no query fits: the closest ones the user may run, as example questions."""
    closest = [q for _, q in scores if ctx.can(q.permission) and q.examples][:3]
    if not closest:
        return (
            "That question does not match any of my named queries well enough, so I ran no query; "
            "and your role may not read the data they answer from."
        )
    offered = "; ".join(f"“{q.examples[0]}” ({q.title.lower()})" for q in closest)
    return (
        "That question does not match any of my named queries well enough, so I ran no query rather "
        f"than answer a different question. The closest ones I can answer: {offered}. Ask one of "
        "those, or name what to count (calls, intents, sentiment, resolution, handle time, tokens, "
        "cost by model, user or project) and a period."
    )


def _shown_sql(sql: str, args: list) -> str:
    """The SQL as run, with its parameters written in (integers and dates only)."""
    parts = sql.split("?")
    return "".join(
        p + (_literal(a) if i < len(args) else "")
        for i, (p, a) in enumerate(zip(parts, args + [None], strict=False))
    )


def _literal(value) -> str:
    return f"DATE '{value.isoformat()}'" if isinstance(value, date) else str(int(value))


def _fmt(value, unit: str = "") -> str:
    if value is None:
        return "unpriced" if unit == "$" else "n/a"
    if isinstance(value, float):
        return f"${value:,.2f}" if unit == "$" else f"{value:,.2f}".rstrip("0").rstrip(".")
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


# a number an answer states: "$8.44", "1,234", "-0.06", "2026-11-20"; the 31 of "1-31 October" is no minus
NUMBER = re.compile(r"(?<![\w.])-?\$?\d+(?:,\d{3})*(?:\.\d+)?(?:-\d{2}-\d{2})?")


def describe(
    query: Query, params: dict, columns: list[str], rows: list[dict], period: Period | None = None
) -> tuple[str, set[str]]:
    """A short, deterministic description of the result, saying which days it covers (or that the
    query cannot be limited to the period asked); `facts` are the numbers it states."""
    head, note = query.title, ""
    if period is not None and query.period:
        head += f", {period.words()}"
    elif period is not None and period.asked:
        note = f" This query cannot be limited to a period, so it covers all time, not {period.words()}."
    facts = set(NUMBER.findall(head + note))
    if not rows:
        return f"{head}: no data for your organisation.{note}", facts
    labels, y = _axes(columns, rows)
    x = columns[0]
    unit = query.unit if y.startswith("cost") else ""
    values = [r[y] for r in rows if r[y] is not None]
    facts.add(_fmt(len(rows)))
    facts.update(NUMBER.findall(column_words(y)))  # "(-1 to 1)"
    if query.chart == "line" and values:
        total = sum(values)
        peak = max(rows, key=lambda r: r[y] if r[y] is not None else float("-inf"))
        last = rows[-1]
        figures = [_fmt(total, unit), _fmt(peak[y], unit), str(peak[x]), _fmt(last[y], unit), str(last[x])]
        facts.update(figures)
        label = "" if unit else " " + column_words(y)  # "$8.44 in total", "1,234 tokens in total"
        text = (
            f"{head}: {figures[0]}{label} in total over {len(rows)} days; the peak "
            f"was {figures[2]} with {figures[1]}, and the latest day ({figures[4]}) had {figures[3]}."
        )
    else:
        top = rows[:3]
        percent = "%" if y.endswith("_pct") else ""
        named = [
            f"{' / '.join(str(r[c]) for c in labels)} ({_fmt(r[y], unit)}{'' if r[y] is None else percent})"
            for r in top
        ]
        facts.update(_fmt(r[y], unit) for r in top)
        text = (
            f"{head} \u2014 {column_words(y)}: "
            + ", then ".join(named)
            + (f"; {len(rows)} rows in all." if len(rows) > 3 else ".")
        )
    return text + note + " [1]", facts


def _axes(columns: list[str], rows: list[dict]) -> tuple[list[str], str]:
    """The columns that name a row (those before the first number) and the first number's column."""
    numeric = [c for c in columns[1:] if all(isinstance(r[c], int | float) or r[c] is None for r in rows)]
    y = numeric[0] if numeric else columns[min(1, len(columns) - 1)]
    return columns[: max(1, columns.index(y))], y


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
    numbers = NUMBER.findall(text)
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
        "labels": {c: column_words(c) for c in columns},
        "rows": rows,
        "chart": {"kind": query.chart, "x": columns[0], "y": y},
    }
    if numeric:
        text, facts = describe(query, {"limit": len(rows)}, [columns[0], y], rows)
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
