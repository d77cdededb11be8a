"""One turn of the chat as it passes between the steps of `ask` (loaded, drafted, checked), and
its saving: the question, the answer, the step logs and the metering rows, in the caller's
transaction."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field

import duckdb

from workbench.accounts.context import Context
from workbench.chat import conversations, prompts
from workbench.chat.providers import Passage
from workbench.chat.relevance import Ranking
from workbench.chat.steps import LOW_CONFIDENCE, Step
from workbench.errors import NotFound
from workbench.usage import metering


@dataclass(frozen=True)
class Turn:
    """The conversation as loaded for one question."""

    question: str
    conversation: dict  # the conversations row
    agent_type: str  # rag, code or analytics
    scope: list[str] | None  # the documents the rag agent may cite; None for all
    level: str  # the user's explainability level
    stages: dict[str, tuple[str, prompts.Prompting]]  # name: (description, templates), seed 003
    prompting: prompts.Prompting | None  # the stage that fits the agent
    history: str  # the last turns, for the prompt


@dataclass(frozen=True)
class Draft:
    """An answer before it is checked: its text, what it rests on, the steps that wrote it and
    the provider and model it is credited to."""

    text: str
    sources: list[dict]  # seed 004's sources: the passages given to the model, or the query run
    steps: list[Step]  # research and analyzer
    provider: str
    model: str
    passages: list[Passage] = field(default_factory=list)  # what an answer from documents cites
    table: dict | None = None  # the analytics agent's result: sql, columns, rows, chart
    facts: set[str] | None = None  # the numbers an analytics answer states; None from documents
    match: float = 0.0  # how well the analytics query fits the question
    ranking: Ranking | None = None  # the passages' sentences scored against the question


@dataclass(frozen=True)
class Checked:
    """The draft's grounding, the confidence it earns and the reasoning chain explaining it."""

    grounding: Step
    confidence: float
    chain: list[dict]
    steps: list[Step]  # every step of the answer in order: the draft's, grounding, explanation


@dataclass(frozen=True)
class Saved:
    message_uuid: str
    cost_usd: float | None  # None when a call is unpriced, never $0


def save(
    con: duckdb.DuckDBPyConnection,
    ctx: Context,
    turn: Turn,
    draft: Draft,
    checked: Checked,
    count_tokens: Callable[[list[str]], list[int]],
) -> Saved:
    """Question, answer, step logs and metering rows: one transaction (the caller's)."""
    conv = turn.conversation
    if not con.execute("SELECT 1 FROM conversations WHERE id = ?", [conv["id"]]).fetchone():
        raise NotFound("The conversation was deleted while the answer was being written; nothing was saved.")
    con.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, token_count)"
        " VALUES (?, ?, 'user', ?, ?)",
        [conv["id"], ctx.user_id, turn.question, sum(count_tokens([turn.question]))],
    )
    message_id, message_uuid = save_answer(con, conv["id"], draft, checked)
    call_ids = [i for step in checked.steps for i in save_step(con, ctx, conv, message_id, step)]
    metering.settle_calls(con, call_ids)  # priced and rolled up together
    conversations.touch(con, conv["id"], turn.question)
    cost = con.execute(  # one unpriced call makes the answer unpriced, never $0
        "SELECT CASE WHEN count(*) FILTER (WHERE cost_usd IS NULL) > 0 THEN NULL ELSE sum(cost_usd) END"
        " FROM llm_calls WHERE message_id = ?",
        [message_id],
    ).fetchone()[0]
    return Saved(message_uuid, cost)


def save_answer(con: duckdb.DuckDBPyConnection, conversation_id: int, draft: Draft, checked: Checked):
    """The assistant's message; returns its id and uuid."""
    calls = [c for s in checked.steps for c in s.calls]
    answering = "chat" if any(c.operation == "chat" for c in calls) else "analysis"  # what wrote the text
    completion_tokens = sum(c.completion_tokens for c in calls if c.operation == answering)
    retrieved = [
        {
            "document_id": s["id"],
            "chunk_id": s["chunk_id"],
            "content": s["cited_text"],
            "similarity_score": s["similarity"],
            "page_number": s["page_number"],
        }
        for s in draft.sources
        if s.get("chunk_id")
    ]
    return con.execute(
        "INSERT INTO messages (conversation_id, role, content, token_count, retrieved_documents,"
        " confidence_score, low_confidence_warning, reasoning_chain, sources, grounding_evidence,"
        " agents_involved)"
        " VALUES (?, 'assistant', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, uuid::VARCHAR",
        [
            conversation_id,
            draft.text,
            completion_tokens,
            json.dumps(retrieved),
            checked.confidence,
            checked.confidence < LOW_CONFIDENCE,
            json.dumps(checked.chain, default=str),
            json.dumps(draft.sources, default=str),
            json.dumps(checked.grounding.output, default=str),
            json.dumps([s.agent for s in checked.steps]),
        ],
    ).fetchone()


def save_step(con: duckdb.DuckDBPyConnection, ctx: Context, conv: dict, message_id: int,
              step: Step) -> list[int]:
    """The step's agent_logs row and a metering row for each model call it made, returning their
    ids: the caller prices them and adds them to the rollups (metering.settle_calls)."""
    log_id = con.execute(
        "INSERT INTO agent_logs (message_id, agent_name, agent_type, action, input_data, output_data,"
        " execution_time, tokens_used, status, error_message, reasoning, confidence)"
        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
        [
            message_id,
            step.agent,
            step.kind,
            step.action,
            json.dumps(step.input, default=str),
            json.dumps(step.output, default=str),
            step.seconds,
            step.tokens,
            step.status,
            step.error,
            step.reasoning,
            step.confidence,
        ],
    ).fetchone()[0]
    return [
        metering.record(
            con,
            call,
            org_id=ctx.org_id,
            user_id=ctx.user_id,
            project_id=conv["project_id"],
            conversation_id=conv["id"],
            message_id=message_id,
            agent_log_id=log_id,
            settle=False,
        )
        for call in step.calls
    ]
