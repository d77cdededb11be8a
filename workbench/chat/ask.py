"""The chat: one question through the four agents of workbench.chat.steps (research, analyzer,
grounding, explainability), each logged to `agent_logs` and metered to `llm_calls`.

The database is held only to read the conversation and, at the end, to write the question, the
answer, the logs and the metering rows in one transaction; retrieval and generation run without
it. A failing step is logged as failed and the answer degrades visibly: a provider that fails
falls back to the extractive answer, and says so."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from workbench.accounts.context import Context
from workbench.chat import analytics as analytics_agent
from workbench.chat import conversations, prompts, providers
from workbench.chat import steps as agents
from workbench.chat.providers import NOT_FOUND
from workbench.chat.steps import LOW_CONFIDENCE, Step
from workbench.db import Store, atomic, fetch_one
from workbench.errors import InvalidInput, NotFound
from workbench.search.embed import Embedder
from workbench.search.vectors import VectorStore
from workbench.settings import Settings
from workbench.usage import metering

MAX_QUESTION_CHARS = 4000
EXPLAIN_LEVELS = ("basic", "detailed", "debug")


@dataclass
class Answer:
    conversation_uuid: str
    message_uuid: str
    question: str
    content: str
    sources: list[dict]
    confidence: float
    low_confidence: bool
    grounding: dict | None
    reasoning_chain: list[dict]
    agents: list[str]
    degraded: bool  # a step failed and the answer says so
    provider: str
    model: str
    tokens: int
    cost_usd: float | None
    steps: list[Step] = field(repr=False, default_factory=list)
    table: dict | None = None  # the analytics agent's result: sql, columns, rows, chart

    def to_dict(self) -> dict:
        out = {k: v for k, v in self.__dict__.items() if k != "steps"}
        out["agent_logs"] = [
            {
                "agent": s.agent,
                "status": s.status,
                "seconds": round(s.seconds, 3),
                "tokens": s.tokens,
                "error": s.error,
            }
            for s in self.steps
        ]
        return out


def check_question(question: str) -> str:
    question = (question or "").strip()
    if not question:
        raise InvalidInput("Type a question first.")
    if len(question) > MAX_QUESTION_CHARS:
        raise InvalidInput(
            f"Your question is {len(question):,} characters; the limit is {MAX_QUESTION_CHARS:,}. "
            "Upload long text as a document and ask about it instead."
        )
    return question


def ask(
    ctx: Context,
    settings: Settings,
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    question: str,
    *,
    conversation_uuid: str | None = None,
    agent_type: str | None = None,
    provider_name: str | None = None,
    model: str | None = None,
    provider: providers.Provider | None = None,
    document_uuids: list[str] | None = None,
    on_delta: providers.Delta | None = None,
    on_step: Callable[[str], None] | None = None,
    secrets: Mapping[str, str] | None = None,
) -> Answer:
    """Answer `question` in a conversation of `ctx` (a new one when none is given). The provider
    is `provider` when given (tests pass a scripted one), else `provider_name`/`model`, else the
    conversation's, else the settings'."""
    ctx.require("chat:use")
    question = check_question(question)
    created = None
    if conversation_uuid is None:
        with store.connect() as con, atomic(con):
            conv = conversations.create_conversation(
                ctx,
                con,
                agent_type=agent_type or "rag",
                document_uuids=document_uuids,
                provider=provider_name,
                model=model,
            )
        conversation_uuid = created = conv["uuid"]
    options = _Options(
        agent_type,
        provider_name,
        model,
        provider,
        document_uuids,
        on_delta,
        on_step or (lambda _text: None),
        secrets,
    )
    try:
        return _answer(ctx, settings, store, vectors, embedder, question, conversation_uuid, options)
    except BaseException:
        if created:  # a failed first question leaves no empty conversation behind
            with store.connect() as con, atomic(con):
                conversations.delete_conversation(ctx, con, created)
        raise


@dataclass(frozen=True)
class _Options:
    """How one question is to be answered (see `ask`)."""

    agent_type: str | None
    provider_name: str | None
    model: str | None
    provider: providers.Provider | None
    document_uuids: list[str] | None
    on_delta: providers.Delta | None
    say: Callable[[str], None]
    secrets: Mapping[str, str] | None


def _answer(
    ctx, settings, store, vectors, embedder, question, conversation_uuid, options: _Options
) -> Answer:
    agent_type, provider_name, model, provider = (
        options.agent_type,
        options.provider_name,
        options.model,
        options.provider,
    )
    document_uuids, on_delta, say, secrets = (
        options.document_uuids,
        options.on_delta,
        options.say,
        options.secrets,
    )
    with store.connect() as con:
        conv = conversations.get_conversation(ctx, con, conversation_uuid)
        agent_type = agent_type or conv["agent_type"]
        if agent_type not in prompts.AGENT_TYPES:
            raise InvalidInput(f"Agent must be one of {', '.join(prompts.AGENT_TYPES)}.")
        scope = document_uuids if document_uuids is not None else conv["selected_document_ids"]
        # only the documents agent is scoped; a scope keeps the documents that still exist
        scope = conversations.still_readable(ctx, con, scope) if agent_type == "rag" and scope else None
        level = _level(con, ctx)
        stage_rows = prompts.stages(ctx, con)
        stage = _stage(stage_rows, agent_type)
        # with several stages a model may pick one (seed 003); each with its description and templates
        choices = {s["name"]: (s["description"], prompts.prompting_for(ctx, con, s)) for s in stage_rows}
        prompting = choices[stage["name"]][1] if stage else None
        history = _history(con, conv["id"])
        if agent_type == "analytics":
            say("Choosing a query")
            try:
                result = analytics_agent.run(ctx, con, embedder, question)
            except Exception as exc:  # noqa: BLE001 - a failed query degrades the answer, never the chat
                result = analytics_agent.failed(f"{type(exc).__name__}: {exc}")
    count = embedder.count_tokens
    if provider is None:
        name, chosen = provider_name or conv["llm_provider"], model or conv["llm_model"]
        try:
            provider = providers.make(settings, name or None, chosen or None, secrets, count, embedder)
        except providers.ProviderError as exc:  # not configured: the analyzer logs it and falls back
            provider = providers.Unavailable(name or settings.llm_provider, chosen or "", str(exc))
    if agent_type == "analytics":
        steps, passages, completion, modelled = [], [], None, None
        writer = provider if not isinstance(provider, providers.Extractive | providers.Unavailable) else None
        if writer is not None:
            say("Writing SQL")
            steps, modelled = agents.model_sql(ctx, store, writer, question)
        if modelled is not None:
            result = modelled
        else:
            failure = next((s.error for s in steps if s.error), None)
            steps += agents.analytics_steps(result)
            if failure:
                result.text += (
                    f"\n\n(The model's SQL could not be used: {failure} "
                    "This answer comes from the query catalogue.)"
                )
        content, sources, table = result.text, result.sources, result.table
        if on_delta:
            on_delta(content)
    else:
        say("Searching your documents")
        research, hits = agents.research(ctx, vectors, embedder, question, agent_type, scope, conv["id"])
        passages = agents.passages_from(question, hits)
        research.output["relevant"] = len(passages)
        say("Writing the answer")
        analyzer, completion = agents.analyze(
            ctx,
            provider,
            question,
            passages,
            prompting,
            history,
            on_delta,
            embedder,
            choices if len(choices) > 1 else None,
        )
        steps = [research, analyzer]
        content = completion.text if completion else analyzer.output.get("text", NOT_FOUND)
        sources, table = agents.sources_of(passages, content), None
    say("Checking the answer against the sources")
    checked = agents.ground(content, passages, table, result.facts if agent_type == "analytics" else None)
    steps.append(checked)
    if agent_type == "analytics":
        score = checked.output.get("score", 0.0) if table else 0.0
        confidence = round(0.5 * min(1.0, result.match / 0.6) + 0.5 * score, 3) if table else 0.1
    else:
        confidence = agents.confidence_of(content, passages, checked)
    degraded = any(s.status != "success" for s in steps)
    explain = agents.explain(steps, level, confidence)
    steps.append(explain)
    if completion:
        provider_name, model_name = completion.provider, completion.model
    elif agent_type == "analytics" and modelled is not None:
        provider_name, model_name = writer.name, writer.model
    else:
        provider_name = "local" if agent_type == "analytics" else "extractive"
        model_name = "catalogue-sql" if agent_type == "analytics" else providers.Extractive.model
    say("Saving")
    with store.connect() as con, atomic(con):
        ids = _save(
            con,
            ctx,
            conv,
            question,
            content,
            sources,
            confidence,
            checked.output,
            explain.output["chain"],
            steps,
            count,
        )
        conversations.touch(con, conv["id"], question)
        cost = con.execute(  # one unpriced call makes the answer unpriced, never $0
            "SELECT CASE WHEN count(*) FILTER (WHERE cost_usd IS NULL) > 0 THEN NULL ELSE sum(cost_usd) END"
            " FROM llm_calls WHERE message_id = ?",
            [ids[1]],
        ).fetchone()[0]
    return Answer(
        conv["uuid"],
        ids[2],
        question,
        content,
        sources,
        confidence,
        confidence < LOW_CONFIDENCE,
        checked.output if checked.status == "success" else None,
        explain.output["chain"],
        [s.agent for s in steps],
        degraded,
        provider_name,
        model_name,
        sum(s.tokens for s in steps),
        cost,
        steps,
        table,
    )


def _stage(stage_rows: list[dict], agent_type: str) -> dict | None:
    """The stage whose response template fits the agent (code or documents); else the first."""
    if not stage_rows:
        return None
    wanted = "code" if agent_type == "code" else "document"
    return next((s for s in stage_rows if wanted in s["name"].lower()), stage_rows[0])


def _level(con, ctx: Context) -> str:
    row = fetch_one(con, "SELECT explainability_level FROM users WHERE id = ?", [ctx.user_id])
    level = (row or {}).get("explainability_level", "detailed")
    return level if level in EXPLAIN_LEVELS else "detailed"


def _history(con, conversation_id: int, turns: int = 6) -> str:
    rows = con.execute(
        "SELECT role, content FROM messages WHERE conversation_id = ?"
        " ORDER BY created_at DESC, id DESC LIMIT ?",
        [conversation_id, turns],
    ).fetchall()
    return "\n".join(f"{role}: {content[:500]}" for role, content in reversed(rows))


def _save(con, ctx, conv, question, content, sources, confidence, evidence, chain, steps, count_tokens):
    """Question, answer, agent logs and metering rows: one transaction."""
    if not con.execute("SELECT 1 FROM conversations WHERE id = ?", [conv["id"]]).fetchone():
        raise NotFound("The conversation was deleted while the answer was being written; nothing was saved.")
    user_msg = con.execute(
        "INSERT INTO messages (conversation_id, user_id, role, content, token_count)"
        " VALUES (?, ?, 'user', ?, ?) RETURNING id",
        [conv["id"], ctx.user_id, question, sum(count_tokens([question]))],
    ).fetchone()[0]
    calls = [c for s in steps for c in s.calls]
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
        for s in sources
        if s.get("chunk_id")
    ]
    row = con.execute(
        "INSERT INTO messages (conversation_id, role, content, token_count, retrieved_documents,"
        " confidence_score, low_confidence_warning, reasoning_chain, sources, grounding_evidence,"
        " agents_involved)"
        " VALUES (?, 'assistant', ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id, uuid::VARCHAR",
        [
            conv["id"],
            content,
            completion_tokens,
            json.dumps(retrieved),
            confidence,
            confidence < LOW_CONFIDENCE,
            json.dumps(chain, default=str),
            json.dumps(sources, default=str),
            json.dumps(evidence, default=str),
            json.dumps([s.agent for s in steps]),
        ],
    ).fetchone()
    for s in steps:
        log_id = con.execute(
            "INSERT INTO agent_logs (message_id, agent_name, agent_type, action, input_data, output_data,"
            " execution_time, tokens_used, status, error_message, reasoning, confidence)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING id",
            [
                row[0],
                s.agent,
                s.kind,
                s.action,
                json.dumps(s.input, default=str),
                json.dumps(s.output, default=str),
                s.seconds,
                s.tokens,
                s.status,
                s.error,
                s.reasoning,
                s.confidence,
            ],
        ).fetchone()[0]
        for call in s.calls:
            metering.record(
                con,
                call,
                org_id=ctx.org_id,
                user_id=ctx.user_id,
                project_id=conv["project_id"],
                conversation_id=conv["id"],
                message_id=row[0],
                agent_log_id=log_id,
            )
    return user_msg, row[0], row[1]
