"""The steps of one answer. Each returns a `Step`: what its `agent_logs` row records and the
model calls it made (metered by the caller, in the same transaction as the answer). A step's
`agent` is the name its agent_logs row gives it (seed 004); the agents a user chooses between
(rag, code, analytics: seed 003) are the conversation's `agent_type`. Whichever agent answers,
its steps carry these names:

    ResearchAgent        hybrid retrieval, scoped to the conversation and tenant-safe; for the
                         analytics agent, choosing (or having the model write) the query
    AnalyzerAgent        writes the answer through the chosen provider, citing [1], [2]; for the
                         analytics agent, runs the query
    GroundingAgent       checks each claim of the answer against the retrieved text
    ExplainabilityAgent  the reasoning chain, at the user's explainability level

A failing step is marked failed and the answer degrades visibly instead of crashing the chat."""

from __future__ import annotations

import re
import time
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

from workbench.accounts import organisations
from workbench.chat import analytics as analytics_agent
from workbench.chat import grounding, injection, prompts, providers, relevance
from workbench.chat.providers import NOT_FOUND, Passage
from workbench.errors import WorkbenchError
from workbench.search.embed import Embedder
from workbench.search.vectors import Hit, search
from workbench.text import content_words, sentences
from workbench.usage import metering

if TYPE_CHECKING:
    from workbench.home import Workbench

# Seed 004 warns below 0.30. Confidence is now the estimated chance that the answer is right
# (calibrated on bench/answer_eval.py), and the warning marks what is more likely wrong than right.
LOW_CONFIDENCE = 0.50
MIN_RELEVANCE = 0.30  # a passage below this (similarity and word coverage alike) is not evidence
PARAPHRASE = 0.5  # cosine above which a chunk counts even without a shared word
PASSAGES = 6


@dataclass
class Step:
    """One step of an answer: what its agent_logs row records, and the model calls it made."""

    agent: str  # agent_logs.agent_name: ResearchAgent, AnalyzerAgent, GroundingAgent, ...
    kind: str  # agent_logs.agent_type (not the conversation's): research / analyzer / grounding / ...
    action: str
    input: dict = field(default_factory=dict)
    output: dict = field(default_factory=dict)
    seconds: float = 0.0
    status: str = "success"  # success / failed / timeout
    error: str | None = None
    reasoning: str = ""
    confidence: float | None = None
    calls: list[metering.Call] = field(default_factory=list)

    @property
    def tokens(self) -> int:
        return sum(c.prompt_tokens + c.completion_tokens + c.embedding_tokens for c in self.calls)


class Timed:
    """Wraps the embedder to meter the question's embedding (tokens and latency)."""

    def __init__(self, embedder: Embedder) -> None:
        self.embedder, self.model_name, self.ms, self.tokens = embedder, embedder.model_name, 0, 0

    def encode(self, texts):
        began = time.perf_counter()
        out = self.embedder.encode(texts)
        self.ms += round((time.perf_counter() - began) * 1000)
        self.tokens += sum(self.embedder.count_tokens(list(texts)))
        return out

    def count_tokens(self, texts):
        return self.embedder.count_tokens(texts)


def research(ctx, vectors, embedder, question, agent_type, scope, conversation_id) -> tuple[Step, list[Hit]]:
    timed = Timed(embedder)
    kind = "code" if agent_type == "code" else "documents"
    step = Step(
        "ResearchAgent",
        "research",
        "retrieve_documents",
        input={
            "question": question,
            "k": PASSAGES * 2,
            "kind": kind,
            "selected_documents": scope,
            "mode": "hybrid",
        },
    )
    began = time.perf_counter()
    hits: list[Hit] = []
    try:
        hits = search(
            ctx,
            vectors,
            timed,
            question,
            k=PASSAGES * 2,
            document_uuids=scope,
            conversation_id=conversation_id,
            kind=kind,
        )
        step.output = {"hits": len(hits), "chunks": [h.chunk_id for h in hits]}
        step.reasoning = (
            f"Hybrid search (vector + full text) over {kind} the user may read"
            + (f", limited to {len(scope)} selected documents" if scope is not None else "")
            + f": {len(hits)} candidate chunks."
        )
        step.confidence = max((h.similarity for h in hits), default=0.0)
    except Exception as exc:  # noqa: BLE001 - a failed search degrades the answer, never the chat
        step.status = "failed"
        step.error = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
        step.reasoning = "Retrieval failed; the answer has no sources."
    step.seconds = time.perf_counter() - began
    if timed.tokens:
        step.calls.append(
            metering.Call(
                "local", embedder.model_name, "embedding", embedding_tokens=timed.tokens, latency_ms=timed.ms
            )
        )
    return step, hits


def metered_search(ctx, wb: Workbench, query: str, **options) -> list[Hit]:
    """`vectors.search` over `wb`'s vectors for the Documents page and the CLI, with its query
    embedding (by `wb`'s embedder) metered in `wb`'s store."""
    embedder, store = wb.embedder, wb.store
    timed = Timed(embedder)
    hits = search(ctx, wb.vectors, timed, query, **options)
    if timed.tokens:
        call = metering.Call(
            "local", embedder.model_name, "embedding", embedding_tokens=timed.tokens, latency_ms=timed.ms
        )
        with store.connect() as con:
            metering.record(con, call, org_id=ctx.org_id, user_id=ctx.user_id)
    return hits


def analytics_steps(result: analytics_agent.Result) -> list[Step]:
    """The analytics agent's two steps: choosing the query (research) and running it (analyzer)."""
    choose = Step(
        "ResearchAgent",
        "research",
        "match_query",
        input={"candidates": result.candidates},
        output={"query": result.query.name if result.query else None, "match": round(result.match, 3)},
        reasoning=(
            f"The question matches the catalogue query {result.query.name!r} (score {result.match:.2f})."
            if result.query
            else "No catalogue query matches the question well enough."
        ),
        confidence=result.match,
    )
    if result.embedding_tokens:
        choose.calls.append(
            metering.Call(
                "local",
                "catalogue-match",
                "embedding",
                embedding_tokens=result.embedding_tokens,
                latency_ms=result.embedding_ms,
            )
        )
    rows = len(result.table["rows"]) if result.table else 0
    run = Step(
        "AnalyzerAgent",
        "analyzer",
        "run_query",
        input={"params": result.params, "model": "catalogue-sql"},
        output={"sql": result.table["sql"] if result.table else None, "rows": rows},
        seconds=result.seconds,
        reasoning=f"Ran the query for your organisation: {rows} rows."
        if not result.error
        else "The query failed; the answer says so.",
        status="failed" if result.error else "success",
        error=result.error,
    )
    run.calls.append(
        metering.Call("local", "catalogue-sql", "analysis", latency_ms=round(result.seconds * 1000))
    )
    return [choose, run]


def model_sql(ctx, store, provider, question: str):
    """With a model configured, the analytics agent lets it write SQL and runs that in the sandbox.
    Returns the steps and the result, or None for the result when either step failed."""
    from workbench.sql_console import sandbox

    with store.connect() as con:  # the views the role may read, as the model's schema
        schema = sandbox.schema_text(ctx, con)
    write = Step(
        "ResearchAgent",
        "research",
        "write_sql",
        input={"provider": provider.name, "model": provider.model, "schema": schema},
    )
    began = time.perf_counter()
    try:
        sql, completion = analytics_agent.write_sql(provider, question, schema)
    except providers.ProviderError as exc:
        write.status, write.error = ("timeout" if exc.status == "timeout" else "failed"), str(exc)
        write.seconds = time.perf_counter() - began
        write.reasoning = "The model could not write SQL; the query catalogue answers instead."
        write.calls.append(_failed(provider, "analysis", began, exc))
        return [write], None
    write.seconds = time.perf_counter() - began
    write.output = {"sql": sql}
    write.reasoning = (
        f"{completion.provider}/{completion.model} wrote the SQL from the tables your role may read."
    )
    write.calls.append(_completed(completion, "analysis"))
    run = Step("AnalyzerAgent", "analyzer", "run_query", input={"sql": sql, "model": "sql-sandbox"})
    began = time.perf_counter()
    try:
        boxed = sandbox.run(ctx, store, sql)  # the file is held only while rows are copied
    except WorkbenchError as exc:
        run.status, run.error = "failed", str(exc)
        run.seconds = time.perf_counter() - began
        run.reasoning = "The model's SQL did not run; the query catalogue answers instead."
        return [write, run], None
    run.seconds = time.perf_counter() - began
    run.output = {"rows": len(boxed.rows), "tables": boxed.tables, "truncated": boxed.truncated}
    run.reasoning = (
        f"Ran the model's SQL read-only over your organisation's {', '.join(boxed.tables) or 'data'}:"
        f" {len(boxed.rows)} rows."
    )
    run.calls.append(metering.Call("local", "sql-sandbox", "analysis", latency_ms=round(run.seconds * 1000)))
    return [write, run], analytics_agent.from_sql(boxed)


def passages_from(question: str, hits: list[Hit]) -> list[Passage]:
    """The relevant hits, numbered for citation. Relevance is the better of the cosine similarity
    and the share of the question's words the chunk contains; a chunk sharing no word with the
    question must be clearly similar in meaning (a paraphrase) to count."""
    asked = content_words(question)
    kept = []
    for hit in hits:
        coverage = len(asked & content_words(hit.text)) / len(asked) if asked else 0.0
        relevance = max(hit.similarity, coverage)
        if relevance >= MIN_RELEVANCE and (coverage > 0 or hit.similarity >= PARAPHRASE):
            kept.append((hit, relevance))
    kept = kept[:PASSAGES]
    out = []
    for number, (hit, relevance) in enumerate(kept, start=1):
        location = f"{hit.filename}:{hit.start_line}-{hit.end_line}" if hit.start_line else None
        suspicious = injection.looks_like_injection(hit.text)
        text = hit.text if not suspicious else defuse(hit.text)
        out.append(
            Source(
                number,
                hit.title,
                text,
                hit.page_number,
                location,
                hit=hit,
                relevance=relevance,
                suspicious=suspicious,
            )
        )
    return out


@dataclass(frozen=True)
class Source(Passage):
    hit: Hit | None = None
    relevance: float = 0.0
    suspicious: bool = False


WITHHELD = "(passage withheld: it contained instructions to the assistant)"


def defuse(text: str) -> str:
    """Drop the sentences of a passage that address the model instead of the reader; withhold it all
    when what is left still does (an instruction spread over several sentences)."""
    kept = " ".join(s for s in sentences(text) if not injection.looks_like_injection(s))
    return kept if kept and not injection.looks_like_injection(kept) else WITHHELD


def _completed(completion: providers.Completion, operation: str) -> metering.Call:
    """The metering record of a finished model call."""
    return metering.Call(
        completion.provider,
        completion.model,
        operation,
        prompt_tokens=completion.prompt_tokens,
        completion_tokens=completion.completion_tokens,
        cached_tokens=completion.cached_tokens,
        embedding_tokens=completion.embedding_tokens,
        estimated=completion.tokens_estimated,
        latency_ms=completion.latency_ms,
    )


def _failed(provider, operation: str, began: float, exc: providers.ProviderError, prompt_tokens: int = 0):
    """The metering record of a model call that failed: its status, time and estimated prompt."""
    return metering.Call(
        provider.name,
        provider.model,
        operation,
        prompt_tokens=prompt_tokens,
        estimated=True,
        latency_ms=round((time.perf_counter() - began) * 1000),
        status="timeout" if exc.status == "timeout" else "error",
    )


def select_stage(step: Step, provider, question: str, history: str, stages: dict, prompting):
    """Seed 003's stage selection: the stage-selection template asks the model which stage fits;
    its answer picks the stage whose templates write the answer. Any failure keeps `prompting`."""
    listed = "\n".join(f"- {name}: {description}" for name, (description, _p) in stages.items())
    values = {"history": history or "(none)", "stages": listed, "question": question}
    request = providers.Request(
        question,
        [],
        "You route a conversation to one stage. Reply with its name only.",
        prompts.render(prompting.selection, values),
        max_tokens=20,
        temperature=0.0,
    )
    began = time.perf_counter()
    try:
        completion = provider.generate(request)
    except providers.ProviderError as exc:
        step.calls.append(_failed(provider, "analysis", began, exc))
        step.input["stage_selection"] = f"failed ({exc}); kept {prompting.stage}"
        return prompting
    step.calls.append(_completed(completion, "analysis"))
    reply = completion.text.strip().lower()
    chosen = next((name for name in sorted(stages, key=len, reverse=True) if name.lower() in reply), None)
    step.input["stage_selection"] = (
        f"model chose {chosen}" if chosen else f"no stage named; kept {prompting.stage}"
    )
    return stages[chosen][1] if chosen else prompting


def is_model(provider) -> bool:
    """A provider that runs a language model (not the extractive composer, not a broken config)."""
    return not isinstance(provider, providers.Extractive | providers.Unavailable)


def analyze(ctx, provider, question, passages, prompting, history, on_delta, embedder, stages=None):
    step = Step(
        "AnalyzerAgent",
        "analyzer",
        "generate_answer",
        input={"provider": provider.name, "model": provider.model, "passages": len(passages)},
    )
    began = time.perf_counter()
    if not passages:
        step.output = {"text": NOT_FOUND}
        step.reasoning = "No retrieved passage is relevant enough, so the answer says so instead of guessing."
        step.confidence = 0.0
        step.seconds = time.perf_counter() - began
        if on_delta:
            on_delta(NOT_FOUND)
        return step, None, None
    if stages and prompting and is_model(provider):
        prompting = select_stage(step, provider, question, history, stages, prompting)
    # the passages' sentences scored against the question: the extractive answer, grounding and
    # confidence read them
    ranking = relevance.rank(question, passages, embedder)
    if ranking.embedding_tokens:
        step.calls.append(metering.Call("local", embedder.model_name, "embedding",
                                        embedding_tokens=ranking.embedding_tokens,
                                        latency_ms=ranking.embedding_ms))
    request = replace(request_for(question, passages, prompting, history, ctx), ranking=ranking)
    step.input.update(
        {"system": request.system, "prompt": request.prompt, "stage": prompting.stage if prompting else None}
    )
    completion = None
    try:
        completion = provider.generate(request, on_delta)
    except providers.ProviderError as exc:
        step.status = "timeout" if exc.status == "timeout" else "failed"
        step.error = str(exc)
        prompt_tokens = sum(embedder.count_tokens([request.system + "\n" + request.prompt]))
        step.calls.append(_failed(provider, "chat", began, exc, prompt_tokens))
        fallback = providers.Extractive(embedder=embedder)
        completion = fallback.generate(request, on_delta)
        note = f"\n\n(The {provider.name} model failed: {exc} This answer was composed from the sources.)"
        if on_delta:
            on_delta(note)
        completion = providers.Completion(
            completion.text + note,
            completion.provider,
            completion.model,
            completion.prompt_tokens,
            completion.completion_tokens,
            True,
            completion.latency_ms,
            completion.embedding_tokens,
        )
    step.seconds = time.perf_counter() - began
    step.calls.append(_completed(completion, "chat"))
    step.output = {"text": completion.text, "provider": completion.provider, "model": completion.model}
    cited = sorted({int(n) for n in grounding._CITE.findall(completion.text)})
    step.reasoning = (
        f"{completion.provider}/{completion.model} wrote the answer from {len(passages)} passages"
        f" and cited {', '.join(f'[{n}]' for n in cited) or 'none'}."
    )
    return step, completion, ranking


def _attr(value: str) -> str:
    """A title or location as a tag attribute: no quotes, brackets or line breaks (in any form)."""
    return re.sub(r'["<>\n\r\t]', " ", injection.plain(value))


def request_for(question, passages, prompting, history, ctx) -> providers.Request:
    blocks = []
    for p in passages:
        where = p.location or (f"page {p.page_number}" if p.page_number else "")
        attrs = f'n="{p.number}" title="{_attr(p.title)}"' + (f' at="{_attr(where)}"' if where else "")
        # a passage cannot close its own tag (or open another) and speak outside it
        blocks.append(f"<source {attrs}>\n{injection.quote_source(p.text)}\n</source>")
    values = {
        "sources": "\n\n".join(blocks),
        "question": question,
        "business_name": ctx.org_name,
        "history": history or "(none)",
        "extraction": prompting.extraction if prompting else "",
    }
    system = prompts.render(prompting.system if prompting else organisations.GUARD, values)
    prompt = prompts.render(prompting.response if prompting else "{sources}\n\nQuestion: {question}", values)
    return providers.Request(question, list(passages), system, prompt)


def ground(content, passages, table, facts, ranking=None) -> Step:
    step = Step("GroundingAgent", "grounding", "verify_claims", input={"method": grounding.METHOD})
    began = time.perf_counter()
    try:
        if facts is not None:
            result = analytics_agent.ground(content, table, facts)
        else:
            result = grounding.ground(content, passages, ranking)
        step.output = result
        step.confidence = result["score"]
        kinds = ("verified_claims", "unverified_claims", "off_question_claims")
        total = sum(len(result.get(k, [])) for k in kinds)
        beside = len(result.get("off_question_claims", []))
        step.reasoning = (
            f"{len(result['verified_claims'])} of {total} claims found in the sources"
            + (f"; {beside} found but not addressing the question." if beside else ".")
        )
    except Exception as exc:  # noqa: BLE001 - a failed check degrades the answer, never the chat
        step.status, step.error = "failed", f"{type(exc).__name__}: {exc}"
        step.output = {"score": 0.0, "verified_claims": [], "unverified_claims": [], "evidence": []}
        step.reasoning = "The grounding check failed; the answer is unverified."
    step.seconds = time.perf_counter() - began
    step.calls.append(
        metering.Call("local", grounding.METHOD, "grounding", latency_ms=round(step.seconds * 1000))
    )
    return step


def confidence_of(content: str, passages: list, checked: Step, ranking=None) -> float:
    """0-1: the chance that the answer is right (see relevance.Ranking.confidence: how well the
    source sentence it rests on answers the question, and how clearly it beats the other passages),
    times the share of its claims verified on the question."""
    if content.startswith(NOT_FOUND) or not passages:
        return round(min(0.2, max((getattr(p, "relevance", 0.0) for p in passages), default=0.0)), 3)
    score = checked.output.get("score", 0.0) if checked.status == "success" else 0.0
    if ranking is not None and ranking.best is not None:
        rests_on = [grounding.answering(c.text, ranking) for c in grounding.claims(content)]
        # the best sentence it rests on; the sources' best one when no claim rests on a single sentence
        best = max((s for s in rests_on if s is not None), key=lambda s: s.score, default=ranking.best)
        return round(ranking.confidence(best) * score, 3)
    # a caller without a ranking: how relevant the cited passages are, and how much they support
    cited = {int(n) for n in grounding._CITE.findall(content)}
    used = [p for p in passages if p.number in cited] or passages[:3]
    retrieval = sum(getattr(p, "relevance", 1.0) for p in used) / len(used)
    return round(min(1.0, 0.5 * min(retrieval, 1.0) + 0.5 * score), 3)


def explain(steps: list[Step], level: str, confidence: float) -> Step:
    began = time.perf_counter()
    chain = []
    for number, s in enumerate(steps, start=1):
        entry = {"step": number, "agent": s.agent, "action": s.action, "reasoning": s.reasoning}
        if level != "basic":
            entry.update(
                {"execution_time": round(s.seconds, 3), "status": s.status, "confidence": s.confidence}
            )
            if s.error:
                entry["error"] = s.error
        if level == "debug":
            entry.update({"input": s.input, "tokens": s.tokens, "calls": [c.__dict__ for c in s.calls]})
        chain.append(entry)
    chain.append(
        {
            "step": len(chain) + 1,
            "agent": "ExplainabilityAgent",
            "action": "summarise",
            "reasoning": f"Confidence {confidence:.2f}, the estimated chance that the answer is right"
            + (f" (below {LOW_CONFIDENCE:.2f}: more likely wrong than right; check the sources)."
               if confidence < LOW_CONFIDENCE else "."),
        }
    )
    step = Step(
        "ExplainabilityAgent",
        "explainability",
        "build_reasoning_chain",
        input={"level": level},
        output={"chain": chain},
        reasoning=f"Reasoning chain at the {level} level.",
        confidence=confidence,
    )
    step.seconds = time.perf_counter() - began
    step.calls.append(
        metering.Call("local", "reasoning-chain-v1", "explanation", latency_ms=round(step.seconds * 1000))
    )
    return step


def sources_of(passages: list, content: str) -> list[dict]:
    """Seed 004's sources: every passage given to the model, cited ones marked."""
    cited = {int(n) for n in grounding._CITE.findall(content)}
    out = []
    for p in passages:
        hit = p.hit
        out.append(
            {
                "number": p.number,
                "id": hit.document_uuid,
                "chunk_id": hit.chunk_id,
                "title": hit.title,
                "filename": hit.filename,
                "page_number": hit.page_number,
                "section": hit.section,
                "location": p.location,
                "relevance_score": round(p.relevance, 3),
                "similarity": round(hit.similarity, 3),
                "cited": p.number in cited,
                "cited_text": p.text[:1200],
                "suspicious": p.suspicious,
            }
        )
    return out
