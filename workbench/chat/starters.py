"""Questions to start a chat with: a few about the user's own documents (a topic phrase each one
was indexed with) and a few the Analytics assistant answers, among the queries the user may run."""

from __future__ import annotations

import json

import duckdb

from workbench.accounts.context import Context
from workbench.chat.queries import CATALOGUE
from workbench.documents.records import VISIBLE


def starters(ctx: Context, con: duckdb.DuckDBPyConnection, documents: int = 3, data: int = 3) -> list[dict]:
    """Up to `documents` questions about the newest readable documents with a telling topic, then up
    to `data` questions the Analytics assistant answers: each {"question", "agent_type"}."""
    out = []
    if ctx.can("documents:read"):
        rows = con.execute(
            f"SELECT coalesce(d.title, d.filename), d.auto_topics, lower(d.content) FROM documents d"
            f" WHERE {VISIBLE} AND d.conversation_id IS NULL AND d.processing_status = 'completed'"
            " AND d.auto_topics IS NOT NULL ORDER BY d.uploaded_at DESC, d.title LIMIT 12",
            [ctx.org_id, ctx.user_id],
        ).fetchall()
        used: set[str] = set()
        for title, topics, content in rows:
            topic = next((t for t in json.loads(topics) or []
                          if t not in used and _telling(t, title, content, rows)), None)
            if topic and len(out) < documents:
                used.add(topic)
                out.append({"question": f"What does {title} say about {topic}?", "agent_type": "rag"})
    allowed = [q for q in CATALOGUE if q.examples and ctx.can(q.permission)]
    # one per kind of data first (calls, usage, documents), then the rest in catalogue order
    kinds = {q.permission: q for q in reversed(allowed)}
    ordered = list(dict.fromkeys([*kinds.values(), *allowed]))
    out += [{"question": q.examples[0], "agent_type": "analytics"} for q in ordered[:data]]
    return out


def _telling(topic: str, title: str, content: str | None, rows: list) -> bool:
    """A topic worth asking about: two words or more, said as such in the document, not in its title,
    and not in most of the others (the organisation's own name is in all of them)."""
    if len(topic.split()) < 2 or not content or topic not in content or topic in title.lower():
        return False
    return sum(topic in (other or "") for _t, _k, other in rows) <= max(1, len(rows) // 2)
