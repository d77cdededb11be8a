"""Chat conversations and their messages (seeds 001-004): create, list, rename, delete, export.
The question-answer pipeline is in workbench.chat.ask."""

from __future__ import annotations

import json
import uuid as uuidlib

import duckdb

from workbench import markup
from workbench.accounts import cascade as relations
from workbench.accounts.context import Context
from workbench.chat.prompts import AGENT_TYPES
from workbench.chat.providers import PROVIDERS
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotFound

TITLE_CHARS = 60
MESSAGE_FIELDS = (
    "uuid",
    "role",
    "content",
    "token_count",
    "confidence_score",
    "low_confidence_warning",
    "sources",
    "grounding_evidence",
    "reasoning_chain",
    "agents_involved",
    "created_at",
)


def list_conversations(ctx: Context, con: duckdb.DuckDBPyConnection, limit: int = 100) -> list[dict]:
    """The acting user's conversations, newest first."""
    ctx.require("chat:use")
    return fetch_dicts(
        con,
        "SELECT c.uuid::VARCHAR AS uuid, c.title, c.agent_type, c.status,"
        " c.updated_at, count(m.id) AS messages FROM conversations c"
        " LEFT JOIN messages m ON m.conversation_id = c.id"
        " WHERE c.org_id = ? AND c.user_id = ? GROUP BY c.id, c.uuid, c.title, c.agent_type, c.status,"
        " c.updated_at ORDER BY c.updated_at DESC, c.id DESC LIMIT ?",
        [ctx.org_id, ctx.user_id, limit],
    )


def create_conversation(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    agent_type: str = "rag",
    title: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    document_uuids: list[str] | None = None,
) -> dict:
    """A new, empty conversation of the acting user. `document_uuids` scopes its search to those
    documents (each must be readable by the user); None means everything they may read."""
    ctx.require("chat:use")
    _check_agent(agent_type)
    _check_provider(provider)
    selected = _readable_documents(ctx, con, document_uuids) if document_uuids is not None else None
    row = con.execute(
        "INSERT INTO conversations (org_id, user_id, title, agent_type, llm_provider, llm_model,"
        " selected_document_ids) VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            ctx.org_id,
            ctx.user_id,
            (title or "").strip()[:200] or None,
            agent_type,
            provider,
            model,
            None if selected is None else json.dumps(selected),
        ],
    ).fetchone()
    return get_conversation(ctx, con, _uuid_of(con, row[0]))


def get_conversation(ctx: Context, con: duckdb.DuckDBPyConnection, conversation_uuid: str) -> dict:
    """One of the acting user's conversations (NotFound for anyone else's)."""
    ctx.require("chat:use")
    row = fetch_one(
        con,
        "SELECT id, uuid::VARCHAR AS uuid, org_id, user_id, project_id, title, agent_type,"
        " llm_provider, llm_model, selected_document_ids, stage_id, status, created_at,"
        " updated_at FROM conversations WHERE uuid::VARCHAR = ?",
        [str(conversation_uuid)],
    )
    if row is None or row["org_id"] != ctx.org_id or row["user_id"] != ctx.user_id:
        raise NotFound(f"No conversation {conversation_uuid}.")
    selected = row["selected_document_ids"]
    row["selected_document_ids"] = json.loads(selected) if selected else None
    return row


def update_conversation(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    conversation_uuid: str,
    *,
    title: str | None = None,
    agent_type: str | None = None,
    provider: str | None = None,
    model: str | None = None,
    document_uuids: list[str] | None | type(...) = ...,
) -> dict:
    """Rename a conversation or change its agent, provider, model or document scope."""
    conv = get_conversation(ctx, con, conversation_uuid)
    changes: dict[str, object] = {}
    if title is not None:
        if not title.strip():
            raise InvalidInput("A title cannot be empty.")
        changes["title"] = title.strip()[:200]
    if agent_type is not None:
        _check_agent(agent_type)
        changes["agent_type"] = agent_type
    if provider is not None:
        _check_provider(provider)
        changes["llm_provider"] = provider
    if model is not None:
        changes["llm_model"] = model or None
    if document_uuids is not ...:
        chosen = None if document_uuids is None else _readable_documents(ctx, con, document_uuids)
        changes["selected_document_ids"] = None if chosen is None else json.dumps(chosen)
    if changes:
        sets = ", ".join(f"{column} = ?" for column in changes)
        con.execute(
            f"UPDATE conversations SET {sets}, updated_at = current_localtimestamp() WHERE id = ?",
            [*changes.values(), conv["id"]],
        )
    return get_conversation(ctx, con, conversation_uuid)


def delete_conversation(
    ctx: Context, con: duckdb.DuckDBPyConnection, conversation_uuid: str, *, settings=None, vectors=None
) -> dict[str, int]:
    """Delete a conversation with its messages, agent logs and chat uploads (their vectors and
    files too, when given the store and settings); metering rows stay and lose their link."""
    ctx.require("chat:use")
    row = fetch_one(
        con, "SELECT id, org_id, user_id FROM conversations WHERE uuid::VARCHAR = ?", [conversation_uuid]
    )
    if (
        row is None
        or row["org_id"] != ctx.org_id
        or (row["user_id"] != ctx.user_id and not ctx.can("admin:full"))
    ):
        raise NotFound(f"No conversation {conversation_uuid}.")
    uploads = fetch_dicts(con, "SELECT id, file_path FROM documents WHERE conversation_id = ?", [row["id"]])
    with atomic(con):  # rows first (the cascade takes chat uploads and their chunks) ...
        deleted = relations.delete_cascade(con, "conversations", "id = ?", [row["id"]])
    for upload in uploads:  # ... then what a rollback could not bring back: vectors and files
        if vectors is not None:
            vectors.delete(f"document_id = {int(upload['id'])}")
        if settings is not None and upload["file_path"]:
            (settings.home / upload["file_path"]).unlink(missing_ok=True)
    return deleted


def messages(ctx: Context, con: duckdb.DuckDBPyConnection, conversation_uuid: str) -> list[dict]:
    """The conversation's messages, oldest first, JSON fields decoded."""
    conv = get_conversation(ctx, con, conversation_uuid)
    rows = fetch_dicts(
        con,
        f"SELECT {', '.join(MESSAGE_FIELDS)} FROM messages WHERE conversation_id = ? ORDER BY created_at, id",
        [conv["id"]],
    )
    for row in rows:
        row["uuid"] = str(row["uuid"])
        for field in ("sources", "grounding_evidence", "reasoning_chain", "agents_involved"):
            row[field] = json.loads(row[field]) if row[field] else None
    return rows


def export(
    ctx: Context, con: duckdb.DuckDBPyConnection, conversation_uuid: str, fmt: str = "markdown"
) -> str:
    """The conversation as Markdown (readable, with sources) or JSON (everything)."""
    conv = get_conversation(ctx, con, conversation_uuid)
    rows = messages(ctx, con, conversation_uuid)
    if fmt == "json":
        head = {
            k: conv[k]
            for k in (
                "uuid",
                "title",
                "agent_type",
                "llm_provider",
                "llm_model",
                "selected_document_ids",
                "created_at",
            )
        }
        return json.dumps({"conversation": head, "messages": rows}, default=str, indent=2)
    if fmt != "markdown":
        raise InvalidInput("Export format must be markdown or json.")
    # read as Markdown: images from documents or the model stay text, as in the app (markup.inert)
    lines = [
        f"# {markup.inert(conv['title'] or 'Untitled conversation')}",
        "",
        f"*{conv['agent_type']} agent, started {conv['created_at']:%Y-%m-%d %H:%M}*",
        "",
    ]
    for row in rows:
        who = "You" if row["role"] == "user" else "Assistant"
        lines += [f"**{who}** ({row['created_at']:%H:%M}):", "", markup.inert(row["content"]), ""]
        if row["role"] == "assistant" and row["confidence_score"] is not None:
            warn = " (low confidence)" if row["low_confidence_warning"] else ""
            lines += [f"Confidence {row['confidence_score']:.2f}{warn}", ""]
        for number, source in enumerate(row["sources"] or [], start=1):
            where = source.get("location") or (
                f"page {source['page_number']}" if source.get("page_number") else ""
            )
            title = source.get("title") or source.get("filename") or source.get("name", "")
            lines.append(
                markup.inert(
                    f"{number}. {title}{', ' + where if where else ''}: "
                    f'"{(source.get("cited_text") or "")[:300]}"'
                )
            )
        if row["sources"]:
            lines.append("")
    return "\n".join(lines)


def auto_title(question: str) -> str:
    """A title from the first question: its first line, cut at a word boundary."""
    line = " ".join(question.split())
    if len(line) <= TITLE_CHARS:
        return line
    return line[:TITLE_CHARS].rsplit(" ", 1)[0].rstrip(",;:") + "..."


def _check_agent(agent_type: str) -> None:
    if agent_type not in AGENT_TYPES:
        raise InvalidInput(f"Agent must be one of {', '.join(AGENT_TYPES)}.")


def _check_provider(provider: str | None) -> None:
    if provider is not None and provider not in PROVIDERS:
        raise InvalidInput(f"Provider must be one of {', '.join(PROVIDERS)}.")


def _readable_documents(ctx: Context, con: duckdb.DuckDBPyConnection, document_uuids: list[str]) -> list[str]:
    """The ids as given, each checked to be a document the user may read."""
    wanted = []
    for value in document_uuids:
        try:
            wanted.append(str(uuidlib.UUID(str(value))))
        except ValueError:
            raise InvalidInput(f"Not a document id: {value!r}") from None
    if not wanted:
        return []
    found = set(still_readable(ctx, con, wanted))
    missing = [u for u in wanted if u not in found]
    if missing:
        raise NotFound(f"No document {missing[0]} that you may read.")
    return wanted


def still_readable(ctx: Context, con: duckdb.DuckDBPyConnection, document_uuids: list[str]) -> list[str]:
    """The documents of a chat's scope the user may still read (a new version replaces an old one)."""
    from workbench.documents.records import VISIBLE

    rows = con.execute(
        f"SELECT d.uuid::VARCHAR FROM documents d WHERE {VISIBLE} AND d.uuid::VARCHAR IN (SELECT unnest(?))",
        [ctx.org_id, ctx.user_id, [str(u) for u in document_uuids]],
    ).fetchall()
    return [r[0] for r in rows]


def _uuid_of(con: duckdb.DuckDBPyConnection, conversation_id: int) -> str:
    row = con.execute("SELECT uuid::VARCHAR FROM conversations WHERE id = ?", [conversation_id]).fetchone()
    return row[0]


def touch(con: duckdb.DuckDBPyConnection, conversation_id: int, question: str) -> None:
    """After a question: bump updated_at, and title an untitled conversation from it."""
    with atomic(con):
        con.execute(
            "UPDATE conversations SET title = coalesce(title, ?),"
            " updated_at = current_localtimestamp() WHERE id = ?",
            [auto_title(question), conversation_id],
        )
