"""Chat conversations and their messages (seeds 001-004). The chat pipeline comes later."""

from __future__ import annotations

import duckdb

from workbench import relations
from workbench.auth import Context
from workbench.db import fetch_dicts, fetch_one
from workbench.errors import NotFound


def list_conversations(ctx: Context, con: duckdb.DuckDBPyConnection, limit: int = 100) -> list[dict]:
    """The acting user's conversations, newest first."""
    ctx.require("chat:use")
    return fetch_dicts(con, "SELECT c.uuid::VARCHAR AS uuid, c.title, c.agent_type, c.status,"
                            " c.updated_at, count(m.id) AS messages FROM conversations c"
                            " LEFT JOIN messages m ON m.conversation_id = c.id"
                            " WHERE c.org_id = ? AND c.user_id = ? GROUP BY ALL"
                            " ORDER BY c.updated_at DESC LIMIT ?",
                       [ctx.org_id, ctx.user_id, limit])


def delete_conversation(ctx: Context, con: duckdb.DuckDBPyConnection,
                        conversation_uuid: str) -> dict[str, int]:
    """Delete a conversation with its messages, agent logs and chat uploads; metering rows stay
    and lose their link."""
    ctx.require("chat:use")
    row = fetch_one(con, "SELECT id, org_id, user_id FROM conversations WHERE uuid::VARCHAR = ?",
                    [conversation_uuid])
    if row is None or row["org_id"] != ctx.org_id or (
            row["user_id"] != ctx.user_id and not ctx.can("admin:full")):
        raise NotFound(f"No conversation {conversation_uuid}.")
    return relations.delete_cascade(con, "conversations", "id = ?", [row["id"]])
