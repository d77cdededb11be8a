"""Browsing calls for analysts: one set of filters (project, dates, intents, sentiment, text) shared
by the calls table, the charts above it and the CSV export; one call with its utterances."""

from __future__ import annotations

import html
from dataclasses import dataclass
from datetime import date, timedelta

import duckdb

from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.db import fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotFound

# the customer's mean VADER score: the usual cut-offs of the lexicon's authors
SENTIMENTS = {"negative": (-1.0, -0.05), "neutral": (-0.05, 0.05), "positive": (0.05, 1.01)}


@dataclass(frozen=True)
class Filters:
    """What the Calls page narrows the calls to; every field optional."""

    project: str | None = None
    since: date | None = None
    until: date | None = None  # inclusive
    intents: tuple[str, ...] = ()
    sentiment: str | None = None  # negative / neutral / positive
    text: str | None = None  # words in the transcript
    day: date | None = None  # one day (a click on the volume chart)
    week: date | None = None  # the week starting that Monday (a click on the sentiment trend)
    talk_ratio: tuple[float, float] | None = None  # [low, high) (a click on the histogram)


def _where(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> tuple[str, list]:
    if f.sentiment is not None and f.sentiment not in SENTIMENTS:
        raise InvalidInput(f"Sentiment must be one of {', '.join(SENTIMENTS)}.")
    if f.since and f.until and f.since > f.until:
        raise InvalidInput("The start date is after the end date.")
    project_id = projects.project_id_of(ctx, con, f.project)
    parts, params = ["p.org_id = ?"], [ctx.org_id]
    optional = [
        (project_id is not None, "p.id = ?", [project_id]),
        (f.since is not None, "c.started_at >= ?", [f.since]),
        (f.until is not None, "c.started_at < ?", [f.until and f.until + timedelta(days=1)]),
        (f.day is not None, "c.started_at::DATE = ?", [f.day]),
        (f.week is not None, "date_trunc('week', c.started_at)::DATE = ?", [f.week]),
        (bool(f.intents), "c.intent IN (SELECT unnest(?))", [list(f.intents)]),
        (
            f.sentiment is not None,
            "c.sentiment >= ? AND c.sentiment < ?",
            list(SENTIMENTS.get(f.sentiment, ())),
        ),
        (f.talk_ratio is not None, "c.talk_ratio >= ? AND c.talk_ratio < ?", list(f.talk_ratio or ())),
    ]
    for wanted, sql, values in optional:
        if wanted:
            parts.append(sql)
            params += values
    for word in (f.text or "").lower().split():
        parts.append("contains(lower(c.transcript), ?)")
        params.append(word)
    return " AND ".join(parts), params


_FROM = " FROM calls c JOIN projects p ON p.id = c.project_id WHERE "


def find_calls(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, limit: int = 2000) -> list[dict]:
    """The filtered calls, newest first, with their analytics."""
    ctx.require("calls:read")
    where, params = _where(ctx, con, f)
    return fetch_dicts(
        con,
        "SELECT c.uuid::VARCHAR AS uuid, p.name AS project, c.external_id, c.started_at, c.intent,"
        " c.intent_source, c.turns, c.duration_seconds, round(c.talk_ratio, 3) AS talk_ratio,"
        " round(c.sentiment, 3) AS sentiment, c.resolved, c.agent_words, c.customer_words,"
        " c.embedded_at IS NOT NULL AS searchable"
        + _FROM
        + where
        + " ORDER BY c.started_at DESC, c.id DESC LIMIT ?",
        params + [limit],
    )


def count_calls(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> int:
    ctx.require("calls:read")
    where, params = _where(ctx, con, f)
    return con.execute("SELECT count(*)" + _FROM + where, params).fetchone()[0]


def call_charts(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> dict[str, list[dict]]:
    """The Calls page's charts over the filtered calls: volume by day, intents, the weekly customer
    sentiment, and talk ratio in tenths."""
    ctx.require("calls:read")
    where, params = _where(ctx, con, f)
    queries = {
        "by_day": "SELECT c.started_at::DATE AS day, count(*) AS calls"
        + _FROM
        + where
        + " GROUP BY 1 ORDER BY 1",
        "by_intent": "SELECT coalesce(c.intent, '(not yet clustered)') AS intent, count(*) AS calls"
        + _FROM
        + where
        + " GROUP BY 1 ORDER BY 2 DESC, 1",
        "sentiment": "SELECT date_trunc('week', c.started_at)::DATE AS week, round(avg(c.sentiment), 3)"
        " AS sentiment, count(*) AS calls" + _FROM + where + " GROUP BY 1 ORDER BY 1",
        "talk_ratio": "SELECT least(floor(c.talk_ratio * 10), 9) / 10 AS low, count(*) AS calls"
        + _FROM
        + where
        + " AND c.talk_ratio IS NOT NULL GROUP BY 1 ORDER BY 1",
    }
    return {name: fetch_dicts(con, sql, params) for name, sql in queries.items()}


def call_id_of(ctx: Context, con: duckdb.DuckDBPyConnection, call_uuid: str) -> int:
    """The id of a call of the user's organisation, by UUID."""
    row = fetch_one(
        con, "SELECT c.id" + _FROM + "c.uuid::VARCHAR = ? AND p.org_id = ?", [str(call_uuid), ctx.org_id]
    )
    if row is None:
        raise NotFound(f"No call {call_uuid}.")
    return row["id"]


def get_call(ctx: Context, con: duckdb.DuckDBPyConnection, call_uuid: str) -> dict:
    """One call of the organisation with its utterances in order."""
    ctx.require("calls:read")
    call = fetch_one(
        con,
        "SELECT c.id, c.uuid::VARCHAR AS uuid, p.name AS project, c.external_id, c.started_at, c.intent,"
        " c.intent_source, c.turns, c.duration_seconds, c.talk_ratio, c.sentiment, c.resolved,"
        " c.metadata" + _FROM + "c.uuid::VARCHAR = ? AND p.org_id = ?",
        [str(call_uuid), ctx.org_id],
    )
    if call is None:
        raise NotFound(f"No call {call_uuid}.")
    call["utterances"] = fetch_dicts(
        con,
        "SELECT id, role, content, utterance_index, start_seconds, end_seconds, sentiment FROM utterances"
        " WHERE call_id = ? ORDER BY utterance_index, id",
        [call.pop("id")],
    )
    return call


_BUBBLES_CSS = """
body{font-family:'Source Sans Pro',sans-serif;margin:0}
.t{height:%dpx;overflow-y:auto;padding:8px;background:#fafafa;border:1px solid #e6e6e6;border-radius:8px}
.u{max-width:75%%;margin:6px 0;padding:8px 12px;border-radius:14px;font-size:15px;line-height:1.35}
.agent{background:#eef1f5;margin-right:auto}.customer{background:#dbeafe;margin-left:auto}
.system,.unknown{background:#f5f0e6;margin:6px auto}
.who{font-size:12px;color:#667;margin-bottom:2px}.focus{outline:3px solid #f59e0b}
mark{background:#fde68a;padding:0 1px}
"""


def transcript_html(
    utterances: list[dict], focus_id: int | None = None, terms: list[str] | None = None, height: int = 420
) -> str:
    """A call as chat bubbles (agent left, customer right), the focused utterance marked and scrolled
    into view. Every text is escaped: the result is safe to render."""
    from workbench.calls.search import highlight

    bubbles = []
    for u in utterances:
        when = f" · {u['start_seconds']:.0f}s" if u.get("start_seconds") is not None else ""
        mood = f" · sentiment {u['sentiment']:+.2f}" if u.get("sentiment") is not None else ""
        focus = u["id"] == focus_id
        bubbles.append(
            f'<div class="u {html.escape(u["role"] or "unknown")}{" focus" if focus else ""}"'
            f'{" id=focus" if focus else ""} data-index="{int(u["utterance_index"] or 0)}">'
            f'<div class="who">{html.escape((u["role"] or "unknown").capitalize())} #{u["utterance_index"]}'
            f"{when}{mood}</div>{highlight(u['content'] or '', terms or [])}</div>"
        )
    return (
        f"<style>{_BUBBLES_CSS % height}</style><div class='t'>{''.join(bubbles)}</div>"
        "<script>const f=document.getElementById('focus');if(f){f.scrollIntoView({block:'center'})}</script>"
    )
