"""The chat: one question through four steps, each logged to `agent_logs` and metered to
`llm_calls` (the steps are in workbench.chat.steps):

    load     the conversation, its agent (rag, code or analytics), scope, prompts and provider
    draft    an answer from the documents, or from the data for the analytics agent
    check    ground the draft's claims in its sources, score it, explain how it was reached
    save     the question, the answer, the step logs and the metering rows

The database is held only to load and, at the end, to save in one transaction; retrieval and
generation run without it. A failing step is logged as failed and the answer degrades visibly: a
provider that fails falls back to the extractive answer, and says so."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import duckdb

from workbench.accounts.context import Context
from workbench.chat import analytics, conversations, prompts, providers, steps
from workbench.chat.providers import NOT_FOUND
from workbench.chat.steps import LOW_CONFIDENCE, Step
from workbench.chat.turns import Checked, Draft, Saved, Turn, save
from workbench.db import Store, atomic, fetch_one
from workbench.errors import InvalidInput
from workbench.search.embed import Embedder
from workbench.search.vectors import VectorStore
from workbench.settings import Settings

if TYPE_CHECKING:
    from workbench.home import Workbench

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
    agents: list[str]  # each step's agent name, as agent_logs and messages.agents_involved record it
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
    wb: Workbench,
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
    """Answer `question` in a conversation of `ctx` (a new one when none is given), from `wb`'s
    store and vectors with its embedder. The provider is `provider` when given (tests pass a
    scripted one), else `provider_name`/`model`, else the conversation's, else `wb`'s settings'."""
    ctx.require("chat:use")
    question = check_question(question)
    store = wb.store
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
    asked = _Asked(
        question=question,
        conversation_uuid=conversation_uuid,
        agent_type=agent_type,
        provider_name=provider_name,
        model=model,
        provider=provider,
        document_uuids=document_uuids,
        on_delta=on_delta,
        say=on_step or (lambda _text: None),
        secrets=secrets,
    )
    try:
        return _answer(ctx, wb, asked)
    except BaseException:
        if created:  # a failed first question leaves no empty conversation behind
            with store.connect() as con, atomic(con):
                conversations.delete_conversation(ctx, con, created)
        raise


# --- what passes between the steps ---------------------------------------------------------


@dataclass(frozen=True)
class _Asked:
    """The question and how it is to be answered (see `ask`)."""

    question: str
    conversation_uuid: str
    agent_type: str | None
    provider_name: str | None
    model: str | None
    provider: providers.Provider | None
    document_uuids: list[str] | None
    on_delta: providers.Delta | None
    say: Callable[[str], None]  # names the step under way (the page's status line)
    secrets: Mapping[str, str] | None


# --- the steps -----------------------------------------------------------------------------


def _answer(ctx: Context, wb: Workbench, asked: _Asked) -> Answer:
    """Load, draft, check, save: the steps of the module's docstring."""
    store, embedder = wb.store, wb.embedder
    with store.connect() as con:
        turn = _load(ctx, con, asked)
        # the analytics agent's catalogue query reads the database too, so it runs while it is open
        catalogue = _run_catalogue(ctx, con, embedder, asked) if turn.agent_type == "analytics" else None
    provider = _provider(wb.settings, turn.conversation, asked, embedder)
    if catalogue is None:
        draft = _draft_from_documents(ctx, wb.vectors, embedder, provider, turn, asked)
    else:
        draft = _draft_from_data(ctx, store, provider, turn, catalogue, asked)
    checked = _check(draft, turn.level, asked.say)
    asked.say("Saving")
    with store.connect() as con, atomic(con):
        saved = save(con, ctx, turn, draft, checked, embedder.count_tokens)
    return _answer_of(turn, draft, checked, saved)


def _load(ctx: Context, con: duckdb.DuckDBPyConnection, asked: _Asked) -> Turn:
    """The conversation, its agent and scope, the user's explainability level, the prompt stages
    and the recent history."""
    conv = conversations.get_conversation(ctx, con, asked.conversation_uuid)
    agent_type = asked.agent_type or conv["agent_type"]
    if agent_type not in prompts.AGENT_TYPES:
        raise InvalidInput(f"Agent must be one of {', '.join(prompts.AGENT_TYPES)}.")
    scope = asked.document_uuids if asked.document_uuids is not None else conv["selected_document_ids"]
    # only the documents agent is scoped; a scope keeps the documents that still exist
    scope = conversations.still_readable(ctx, con, scope) if agent_type == "rag" and scope else None
    level = _level(con, ctx)
    stage_rows = prompts.stages(ctx, con)
    stage = _stage(stage_rows, agent_type)
    # with several stages a model may pick one (seed 003); each with its description and templates
    stages = {s["name"]: (s["description"], prompts.prompting_for(ctx, con, s)) for s in stage_rows}
    prompting = stages[stage["name"]][1] if stage else None
    history = _history(con, conv["id"])
    return Turn(asked.question, conv, agent_type, scope, level, stages, prompting, history)


def _run_catalogue(
    ctx: Context, con: duckdb.DuckDBPyConnection, embedder: Embedder, asked: _Asked
) -> analytics.Result:
    """The analytics agent's answer from its query catalogue."""
    asked.say("Choosing a query")
    try:
        return analytics.run(ctx, con, embedder, asked.question)
    except Exception as exc:  # noqa: BLE001 - a failed query degrades the answer, never the chat
        return analytics.failed(f"{type(exc).__name__}: {exc}")


def _provider(settings: Settings, conv: dict, asked: _Asked, embedder: Embedder) -> providers.Provider:
    """The provider asked for, else the conversation's, else the settings'."""
    if asked.provider is not None:
        return asked.provider
    name, model = asked.provider_name or conv["llm_provider"], asked.model or conv["llm_model"]
    try:
        return providers.make(
            settings, name or None, model or None, asked.secrets, embedder.count_tokens, embedder
        )
    except providers.ProviderError as exc:  # not configured: the analyzer logs it and falls back
        return providers.Unavailable(name or settings.llm_provider, model or "", str(exc))


def _draft_from_documents(
    ctx: Context,
    vectors: VectorStore,
    embedder: Embedder,
    provider: providers.Provider,
    turn: Turn,
    asked: _Asked,
) -> Draft:
    """The rag and code agents: retrieve passages, then the provider answers from them."""
    asked.say("Searching your documents")
    research, hits = steps.research(
        ctx, vectors, embedder, turn.question, turn.agent_type, turn.scope, turn.conversation["id"]
    )
    passages = steps.passages_from(turn.question, hits)
    research.output["relevant"] = len(passages)
    asked.say("Writing the answer")
    stages = turn.stages if len(turn.stages) > 1 else None  # a model picks a stage only given a choice
    analyzer, completion, ranking = steps.analyze(
        ctx, provider, turn.question, passages, turn.prompting, turn.history, asked.on_delta, embedder, stages
    )
    if completion is None:  # no passage was relevant: the not-found answer, written by no model
        text, by = analyzer.output.get("text", NOT_FOUND), ("extractive", providers.Extractive.model)
    else:
        text, by = completion.text, (completion.provider, completion.model)
    return Draft(text, steps.sources_of(passages, text), [research, analyzer], *by, passages=passages,
                 ranking=ranking)


def _draft_from_data(
    ctx: Context,
    store: Store,
    provider: providers.Provider,
    turn: Turn,
    catalogue: analytics.Result,
    asked: _Asked,
) -> Draft:
    """The analytics agent: a configured model writes SQL that runs in the sandbox; without one,
    or when its SQL fails, the catalogue's query answers (and says why)."""
    ran, modelled = [], None
    if steps.is_model(provider):
        asked.say("Writing SQL")
        ran, modelled = steps.model_sql(ctx, store, provider, turn.question)
    if modelled is not None:
        result, text, by = modelled, modelled.text, (provider.name, provider.model)
    else:
        failure = next((s.error for s in ran if s.error), None)
        ran += steps.analytics_steps(catalogue)
        result, text, by = catalogue, catalogue.text, ("local", "catalogue-sql")
        if failure:
            text += (
                f"\n\n(The model's SQL could not be used: {failure} "
                "This answer comes from the query catalogue.)"
            )
    if asked.on_delta:
        asked.on_delta(text)
    return Draft(text, result.sources, ran, *by, table=result.table, facts=result.facts, match=result.match)


def _check(draft: Draft, level: str, say: Callable[[str], None]) -> Checked:
    """Ground the draft's claims in its sources, score it, and explain how it was reached."""
    say("Checking the answer against the sources")
    grounding = steps.ground(draft.text, draft.passages, draft.table, draft.facts, draft.ranking)
    confidence = _confidence(draft, grounding)
    ran = [*draft.steps, grounding]
    explanation = steps.explain(ran, level, confidence)
    return Checked(grounding, confidence, explanation.output["chain"], [*ran, explanation])


def _confidence(draft: Draft, grounding: Step) -> float:
    """0-1; below LOW_CONFIDENCE the answer carries a warning."""
    if draft.facts is None:  # an answer from documents
        return steps.confidence_of(draft.text, draft.passages, grounding, draft.ranking)
    if draft.table is None:  # no query ran
        return 0.1
    score = grounding.output.get("score", 0.0)
    return round(draft.match * score, 3)  # how well the question matched the query, if the answer holds


def _answer_of(turn: Turn, draft: Draft, checked: Checked, saved: Saved) -> Answer:
    return Answer(
        conversation_uuid=turn.conversation["uuid"],
        message_uuid=saved.message_uuid,
        question=turn.question,
        content=draft.text,
        sources=draft.sources,
        confidence=checked.confidence,
        low_confidence=checked.confidence < LOW_CONFIDENCE,
        grounding=checked.grounding.output if checked.grounding.status == "success" else None,
        reasoning_chain=checked.chain,
        agents=[s.agent for s in checked.steps],
        degraded=any(s.status != "success" for s in checked.steps),
        provider=draft.provider,
        model=draft.model,
        tokens=sum(s.tokens for s in checked.steps),
        cost_usd=saved.cost_usd,
        steps=checked.steps,
        table=draft.table,
    )


# --- loading and saving --------------------------------------------------------------------


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


