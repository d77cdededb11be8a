"""Call analytics, computed once when calls are written: VADER sentiment per utterance (an
offline lexicon, no model) and per call the turns, words per role, talk ratio (the agent's share
of the words), duration, the customer's mean sentiment and a resolution signal read from the
closing turns."""

from __future__ import annotations

import re
from functools import cache

import duckdb
import pyarrow as pa

RESOLVED = re.compile(
    r"\b(that (fixed|solved|sorted) it|(it'?s|that'?s|all) (working|sorted|fixed|resolved)|problem solved|"
    r"works now|that helps|perfect, thank|great, thank|thanks, that'?s (all|everything))\b",
    re.IGNORECASE,
)
UNRESOLVED = re.compile(
    r"\b(escalat\w*|call (you )?back|still (not|isn'?t|doesn'?t|won'?t)|not (fixed|resolved|working)|"
    r"open a (ticket|case)|cancel my|speak to (a|your) (manager|supervisor))\b",
    re.IGNORECASE,
)
CLOSING_TURNS = 4


@cache
def _analyzer():
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    return SentimentIntensityAnalyzer()


def sentiment(text: str) -> float:
    """VADER's compound score, -1 (negative) to 1 (positive)."""
    return round(_analyzer().polarity_scores(text or "")["compound"], 4)


def resolution(closing: list[str]) -> bool | None:
    """True/False when the last turns say the problem was (not) solved; None when they say neither.
    An unresolved signal wins: "still not working... thanks" is not resolved."""
    text = " ".join(closing)
    if UNRESOLVED.search(text):
        return False
    return True if RESOLVED.search(text) else None


def refresh(con: duckdb.DuckDBPyConnection, call_ids: list[int]) -> int:
    """Recompute the metrics of these calls from their utterances (inside the caller's transaction)."""
    if not call_ids:
        return 0
    rows = con.execute(
        "SELECT id, call_id, role, content, start_seconds, end_seconds FROM utterances"
        " WHERE call_id IN (SELECT unnest(?)) ORDER BY call_id, utterance_index",
        [call_ids],
    ).fetchall()
    scores, by_call = [], {}
    for uid, call_id, role, content, start, end in rows:
        score = sentiment(content)
        scores.append({"id": uid, "sentiment": score})
        by_call.setdefault(call_id, []).append((role, content or "", start, end, score))
    metrics = [_metrics(call_id, turns) for call_id, turns in by_call.items()]
    if scores:
        con.register("new_sentiment", pa.Table.from_pylist(scores))
        con.register("new_metrics", pa.Table.from_pylist(metrics, schema=METRICS))
        try:
            con.execute(
                "UPDATE utterances SET sentiment = n.sentiment FROM new_sentiment n"
                " WHERE utterances.id = n.id"
            )
            con.execute(
                "UPDATE calls SET turns = m.turns, agent_words = m.agent_words,"
                " customer_words = m.customer_words, talk_ratio = m.talk_ratio,"
                " duration_seconds = m.duration_seconds, sentiment = m.sentiment, resolved = m.resolved"
                " FROM new_metrics m WHERE calls.id = m.id"
            )
        finally:
            con.unregister("new_sentiment")
            con.unregister("new_metrics")
    return len(metrics)


METRICS = pa.schema(
    [
        ("id", pa.int32()),
        ("turns", pa.int32()),
        ("agent_words", pa.int32()),
        ("customer_words", pa.int32()),
        ("talk_ratio", pa.float64()),
        ("duration_seconds", pa.float64()),
        ("sentiment", pa.float64()),
        ("resolved", pa.bool_()),
    ]
)


def _metrics(call_id: int, turns: list[tuple]) -> dict:
    words = {"agent": 0, "customer": 0}
    for role, content, *_rest in turns:
        if role in words:
            words[role] += len(content.split())
    spoken = words["agent"] + words["customer"]
    starts = [t[2] for t in turns if t[2] is not None]
    ends = [t[3] if t[3] is not None else t[2] for t in turns if t[2] is not None or t[3] is not None]
    customer = [t[4] for t in turns if t[0] == "customer"]
    return {
        "id": call_id,
        "turns": len(turns),
        "agent_words": words["agent"],
        "customer_words": words["customer"],
        "talk_ratio": round(words["agent"] / spoken, 4) if spoken else None,
        "duration_seconds": round(max(ends) - min(starts), 2) if starts and ends else None,
        "sentiment": round(sum(customer) / len(customer), 4) if customer else None,
        "resolved": resolution([t[1] for t in turns[-CLOSING_TURNS:]]),
    }
