"""Seed 004's schema (users, roles, permissions, user_roles, role_permissions, documents,
document_chunks, conversations, messages, agent_logs, token_usage): check a legacy database's
rows, then write them into the workbench. token_usage becomes llm_calls, the metering table."""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

from workbench.accounts import users
from workbench.ops.legacy.writer import (
    Writer,
    as_json,
    check_links,
    checked_upload,
    convert,
    flag,
    integer,
    legacy_upload,
    listing,
    number,
    text,
    uuid_text,
    when,
    write_documents,
    write_users,
)
from workbench.settings import Settings
from workbench.usage import prices, rollup

NAME = "seed 004"
SOURCE = "seed004"
# Each table's columns the importer reads (the seed lists more), the legacy key first.
TABLES = {
    "users": {
        "id": integer,
        "username": text,
        "email": text,
        "hashed_password": text,
        "full_name": text,
        "is_active": flag,
        "created_at": when,
        "updated_at": when,
        "explainability_level": text,
    },
    "roles": {"id": integer, "name": text},
    "permissions": {"id": integer, "name": text},
    "user_roles": {"user_id": integer, "role_id": integer},
    "role_permissions": {"role_id": integer, "permission_id": integer},
    "documents": {
        "id": integer,
        "uuid": uuid_text,
        "filename": text,
        "file_path": text,
        "title": text,
        "description": text,
        "category": text,
        "tags": as_json,
        "scope": text,
        "auto_summary": text,
        "auto_keywords": as_json,
        "auto_topics": as_json,
        "content_type": text,
        "uploaded_at": when,
        "uploaded_by_id": integer,
    },
    "document_chunks": {"id": integer, "document_id": integer, "content": text, "chunk_index": integer},
    "conversations": {
        "id": integer,
        "uuid": uuid_text,
        "title": text,
        "user_id": integer,
        "llm_provider": text,
        "llm_model": text,
        "selected_document_ids": as_json,
        "created_at": when,
        "updated_at": when,
    },
    "messages": {
        "id": integer,
        "uuid": uuid_text,
        "conversation_id": integer,
        "role": text,
        "content": text,
        "retrieved_documents": as_json,
        "confidence_score": number,
        "low_confidence_warning": flag,
        "reasoning_chain": as_json,
        "sources": as_json,
        "grounding_evidence": as_json,
        "agents_involved": as_json,
        "created_at": when,
    },
    "agent_logs": {
        "id": integer,
        "uuid": uuid_text,
        "message_id": integer,
        "agent_name": text,
        "agent_type": text,
        "action": text,
        "input_data": as_json,
        "output_data": as_json,
        "execution_time": number,
        "tokens_used": integer,
        "status": text,
        "error_message": text,
        "reasoning": text,
        "confidence": number,
        "created_at": when,
    },
    "token_usage": {
        "id": integer,
        "uuid": uuid_text,
        "user_id": integer,
        "conversation_id": integer,
        "message_id": integer,
        "agent_log_id": integer,
        "provider": text,
        "model": text,
        "operation_type": text,
        "prompt_tokens": integer,
        "completion_tokens": integer,
        "total_tokens": integer,
        "embedding_tokens": integer,
        "estimated_cost": number,
        "currency": text,
        "created_at": when,
    },
}
REQUIRED = {
    "users": ("id", "username", "email", "hashed_password"),
    "roles": ("id", "name"),
    "permissions": ("id",),
    "user_roles": ("user_id", "role_id"),
    "role_permissions": ("role_id", "permission_id"),
    "documents": ("id", "filename"),
    "document_chunks": ("id", "document_id"),
    "conversations": ("id", "user_id"),
    "messages": ("id", "conversation_id", "role"),
    "agent_logs": ("id", "agent_name"),
    "token_usage": ("id", "user_id", "provider", "model", "operation_type"),
}
LINKS = [  # (table, column, parent table)
    ("user_roles", "user_id", "users"),
    ("user_roles", "role_id", "roles"),
    ("role_permissions", "role_id", "roles"),
    ("role_permissions", "permission_id", "permissions"),
    ("documents", "uploaded_by_id", "users"),
    ("document_chunks", "document_id", "documents"),
    ("conversations", "user_id", "users"),
    ("messages", "conversation_id", "conversations"),
    ("agent_logs", "message_id", "messages"),
    ("token_usage", "user_id", "users"),
    ("token_usage", "conversation_id", "conversations"),
    ("token_usage", "message_id", "messages"),
    ("token_usage", "agent_log_id", "agent_logs"),
]
LEVELS = ("basic", "detailed", "debug")


def prepare(rows: dict[str, list[dict]], folder: Path, settings: Settings) -> tuple[dict, list[str]]:
    """Typed rows with their links checked and each document's text found, and every problem
    found (none when the database can be imported)."""
    problems: list[str] = []
    data = {t: convert(t, rows[t], TABLES[t], REQUIRED[t], problems) for t in TABLES}
    for table, column, parent in LINKS:
        check_links(table, data[table], column, parent, data[parent], problems)
    chunks = defaultdict(list)
    for c in sorted(
        data["document_chunks"], key=lambda c: (c["chunk_index"] is None, c["chunk_index"] or 0, c["id"])
    ):
        chunks[c["document_id"]].append(c["content"] or "")
    for doc in data["documents"]:
        _find_text(doc, chunks[doc["id"]], folder, settings)
    return data, problems


def _find_text(doc: dict, chunks: list[str], folder: Path, settings: Settings) -> None:
    """The document's file when it is beside the database, else the text the legacy system
    indexed (its chunks, joined) as a .txt file; else the reason there is neither."""
    doc["upload"], doc["why_not"], doc["from_chunks"] = None, "", False
    try:
        doc["upload"] = legacy_upload(settings, folder, doc["filename"], doc["file_path"])
        return
    except ValueError as no_file:
        doc["why_not"] = f"{no_file}, and it has no chunks"
    body = "\n\n".join(chunks).strip()
    if body:
        name = f"{Path(doc['filename']).stem or 'document'}.txt"
        try:
            doc["upload"], doc["from_chunks"] = checked_upload(settings, name, body.encode()), True
        except ValueError as bad_text:
            doc["why_not"] = str(bad_text)


def write(w: Writer, data: dict) -> None:
    """Write the checked rows in dependency order."""
    roles_of = _roles(w, data)
    created = write_users(
        w,
        [
            {
                "_legacy": u["id"],
                "username": u["username"],
                "email": u["email"],
                "password_hash": u["hashed_password"],
                "full_name": u["full_name"],
                "roles": roles_of[u["id"]],
                "created_at": u["created_at"],
                "updated_at": u["updated_at"],
                "is_active": True if u["is_active"] is None else u["is_active"],
                "explainability_level": u["explainability_level"]
                if u["explainability_level"] in LEVELS
                else None,
            }
            for u in data["users"]
        ],
        NAME,
    )
    w.tally("user_roles", len(data["user_roles"]), sum(g["user_id"] in created for g in data["user_roles"]))
    _documents(w, data)
    _conversations(w, data["conversations"])
    _messages(w, data["messages"], data["conversations"])
    _agent_logs(w, data["agent_logs"])
    _token_usage(w, data["token_usage"])


def _roles(w: Writer, data: dict) -> dict[int, list[str]]:
    """Each legacy user's workbench roles: by name, unknown ones as viewer, viewer when none
    (seed 004 gives new users viewer). Legacy permissions are not copied: each workbench role
    carries its own."""
    names = {r["id"]: r["name"].strip().lower().replace(" ", "_").replace("-", "_") for r in data["roles"]}
    granted, unknown = defaultdict(set), set()
    for grant in data["user_roles"]:
        name = names[grant["role_id"]]
        granted[grant["user_id"]].add(name if name in users.ROLES else "viewer")
        if name not in users.ROLES:
            unknown.add(name)
    for table in ("roles", "permissions", "role_permissions"):
        w.tally(table, len(data[table]), 0)
    w.note(
        "Legacy roles map by name onto the workbench's (admin, data_scientist, analyst, "
        "manager, viewer); permissions and role_permissions are not copied, as each workbench "
        "role has its own."
    )
    if unknown:
        w.note(f"Legacy roles with no workbench match became viewer: {listing(sorted(unknown))}.")
    return {u["id"]: [r for r in users.ROLES if r in granted[u["id"]]] or ["viewer"] for u in data["users"]}


def _documents(w: Writer, data: dict) -> None:
    """Documents keep their metadata and UUID and wait as 'pending' for the ingest pipeline,
    which chunks and embeds their file, or the legacy chunks' text when the file is gone."""
    people, rows = w.ids["users"], data["documents"]
    found = [d for d in rows if d["upload"] is not None]
    write_documents(
        w,
        [
            {
                "_legacy": d["id"],
                "_upload": d["upload"],
                "uuid": d["uuid"],
                "org_id": w.ctx.org_id,
                "project_id": None,
                "uploaded_by_id": people.get(d["uploaded_by_id"], w.ctx.user_id),
                "title": d["title"] or d["filename"],
                "description": d["description"],
                "category": d["category"],
                "tags": d["tags"],
                "scope": d["scope"] if d["scope"] in ("user", "global") else "user",
                "auto_summary": d["auto_summary"],
                "auto_keywords": d["auto_keywords"],
                "auto_topics": d["auto_topics"],
                "content_type": d["content_type"],
                "uploaded_at": d["uploaded_at"] or w.now,
            }
            for d in found
        ],
        None,
        read=len(rows),
    )
    w.tally("document_chunks", len(data["document_chunks"]), 0)
    rebuilt = sum(d["from_chunks"] for d in found)
    if data["document_chunks"]:
        w.note("Legacy chunks are not copied: the workbench chunks and embeds each document again.")
    if rebuilt:
        w.note(f"Documents whose file was not found keep their chunks' text as a .txt file ({rebuilt}).")
    missing = [f"{d['filename']} ({d['why_not']})" for d in rows if d["upload"] is None]
    if missing:
        w.note(f"Documents without a file or text were skipped: {listing(missing)}.")


def _conversations(w: Writer, rows: list[dict]) -> None:
    people = w.ids["users"]
    new = w.place(
        "conversations",
        "conversations",
        [
            {
                "_legacy": c["id"],
                "uuid": c["uuid"],
                "org_id": w.ctx.org_id,
                "user_id": people[c["user_id"]],
                "title": c["title"],
                "llm_provider": c["llm_provider"],
                "llm_model": c["llm_model"],
                "selected_document_ids": c["selected_document_ids"],
                "created_at": c["created_at"] or w.now,
                "updated_at": c["updated_at"] or c["created_at"] or w.now,
            }
            for c in rows
        ],
    )
    w.fresh_uuids("conversations", new)
    w.insert("conversations", new)


def _messages(w: Writer, rows: list[dict], conversations: list[dict]) -> None:
    """Messages; a user's message is authored by the conversation's owner."""
    owner = {c["id"]: w.ids["users"][c["user_id"]] for c in conversations}
    new = w.place(
        "messages",
        "messages",
        [
            {
                "_legacy": m["id"],
                "uuid": m["uuid"],
                "conversation_id": w.ids["conversations"][m["conversation_id"]],
                "user_id": owner[m["conversation_id"]] if m["role"] == "user" else None,
                "role": m["role"],
                "content": m["content"] or "",
                "retrieved_documents": m["retrieved_documents"],
                "confidence_score": m["confidence_score"],
                "low_confidence_warning": bool(m["low_confidence_warning"]),
                "reasoning_chain": m["reasoning_chain"],
                "sources": m["sources"],
                "grounding_evidence": m["grounding_evidence"],
                "agents_involved": m["agents_involved"],
                "created_at": m["created_at"] or w.now,
                "updated_at": m["created_at"] or w.now,
            }
            for m in rows
        ],
    )
    w.fresh_uuids("messages", new)
    w.insert("messages", new)


def _agent_logs(w: Writer, rows: list[dict]) -> None:
    """Agent steps; the workbench keeps a step only with the message it belongs to."""
    linked = [a for a in rows if a["message_id"] is not None]
    new = w.place(
        "agent_logs",
        "agent_logs",
        [
            {
                "_legacy": a["id"],
                "uuid": a["uuid"],
                "message_id": w.ids["messages"][a["message_id"]],
                **{
                    k: a[k]
                    for k in (
                        "agent_name",
                        "agent_type",
                        "action",
                        "input_data",
                        "output_data",
                        "execution_time",
                        "tokens_used",
                        "status",
                        "error_message",
                        "reasoning",
                        "confidence",
                    )
                },
                "created_at": a["created_at"] or w.now,
            }
            for a in linked
        ],
        read=len(rows),
    )
    w.fresh_uuids("agent_logs", new)
    w.insert("agent_logs", new)
    if len(linked) < len(rows):
        w.note(f"Agent logs without a message were skipped ({len(rows) - len(linked)}).")


def _reported(t: dict) -> bool:
    return t["estimated_cost"] is not None and (t["currency"] or "USD").upper() == "USD"


def _token_usage(w: Writer, rows: list[dict]) -> None:
    """token_usage rows become llm_calls with their links; the legacy cost is kept as it was."""
    ids = w.ids
    new = w.place(
        "token_usage",
        "llm_calls",
        [
            {
                "_legacy": t["id"],
                "uuid": t["uuid"],
                "org_id": w.ctx.org_id,
                "user_id": ids["users"][t["user_id"]],
                "conversation_id": ids["conversations"].get(t["conversation_id"]),
                "message_id": ids["messages"].get(t["message_id"]),
                "agent_log_id": ids["agent_logs"].get(t["agent_log_id"]),
                "provider": t["provider"],
                "model": t["model"],
                "operation_type": t["operation_type"],
                "prompt_tokens": t["prompt_tokens"] or 0,
                "completion_tokens": t["completion_tokens"] or 0,
                "embedding_tokens": t["embedding_tokens"] or 0,
                "total_tokens": t["total_tokens"] or 0,
                # the legacy system's cost in USD is kept as reported; without one (or in another
                # currency) the call is priced from the catalogue like any other
                "cost_usd": t["estimated_cost"] if _reported(t) else None,
                "cost_source": "reported" if _reported(t) else "catalogue",
                "currency": "USD",
                "created_at": t["created_at"] or w.now,
            }
            for t in rows
        ],
    )
    w.fresh_uuids("llm_calls", new)
    w.insert("llm_calls", new)
    if new:
        mine = "uuid IN (SELECT unnest(?::UUID[]))"
        prices.reprice(w.con, mine, [[r["uuid"] for r in new]])
        rollup.add(w.con, mine, [[r["uuid"] for r in new]])
    if rows:
        w.note("token_usage rows became llm_calls, the workbench's metering table.")
