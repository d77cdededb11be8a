"""Metering: one `llm_calls` row per model call (chat, analysis, grounding, explanation,
embedding), priced from the catalogue at the time of the call."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb

from workbench.accounts.context import Context
from workbench.db import atomic
from workbench.usage import prices, rollup


@dataclass(frozen=True)
class Call:
    """One metered call, before it is linked to its message and agent log."""

    provider: str
    model: str
    operation: str  # chat / embedding / analysis / grounding / explanation
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cached_tokens: int = 0
    embedding_tokens: int = 0
    estimated: bool = False
    latency_ms: int = 0
    status: str = "ok"  # ok / error / timeout


def record(
    con: duckdb.DuckDBPyConnection,
    call: Call,
    *,
    org_id: int,
    user_id: int,
    project_id: int | None = None,
    conversation_id: int | None = None,
    message_id: int | None = None,
    agent_log_id: int | None = None,
    at: datetime | None = None,
    settle: bool = True,
) -> int:
    """Insert the llm_calls row of `call`, priced from the catalogue (NULL cost when the model is
    unpriced), add it to the rollups, and return its id. With `settle=False` the pricing and the
    rollups wait for the caller's `settle_calls` of several ids, in the same transaction."""
    at = at or datetime.now()
    total = call.prompt_tokens + call.completion_tokens + call.embedding_tokens
    with atomic(con):
        call_id = con.execute(
            "INSERT INTO llm_calls (org_id, user_id, project_id, conversation_id, message_id, agent_log_id,"
            " provider, model, operation_type, prompt_tokens, completion_tokens, cached_tokens,"
            " embedding_tokens, total_tokens, tokens_estimated, latency_ms, status, created_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [org_id, user_id, project_id, conversation_id, message_id, agent_log_id, call.provider,
             call.model, call.operation, call.prompt_tokens, call.completion_tokens, call.cached_tokens,
             call.embedding_tokens, total, call.estimated, call.latency_ms, call.status, at],
        ).fetchone()[0]
        if settle:
            settle_calls(con, [call_id])
    return call_id


def settle_calls(con: duckdb.DuckDBPyConnection, call_ids: list[int]) -> None:
    """Price these llm_calls rows, just inserted, from the catalogue and add them to the rollups:
    a chat turn's calls together, one statement per rollup instead of one per call and rollup."""
    if not call_ids:
        return
    # the range lets PostgreSQL answer from its index (the team profile); the list is exact
    where = "id BETWEEN ? AND ? AND id IN (SELECT unnest(?::BIGINT[]))"
    params = [min(call_ids), max(call_ids), list(call_ids)]
    with atomic(con):
        prices.reprice(con, where, params)
        rollup.add(con, where, params)


def message_tokens(ctx: Context, con: duckdb.DuckDBPyConnection, message_uuid: str) -> dict[str, int]:
    """The prompt and completion tokens metered for one of the acting user's chat messages (every
    step of its answer), as OpenAI's `usage` counts them."""
    row = con.execute("SELECT coalesce(sum(c.prompt_tokens), 0), coalesce(sum(c.completion_tokens), 0)"
                      " FROM llm_calls c JOIN messages m ON m.id = c.message_id"
                      " WHERE m.uuid::VARCHAR = ? AND c.org_id = ? AND c.user_id = ?",
                      [message_uuid, ctx.org_id, ctx.user_id]).fetchone()
    return {"prompt_tokens": int(row[0]), "completion_tokens": int(row[1]),
            "total_tokens": int(row[0]) + int(row[1])}
