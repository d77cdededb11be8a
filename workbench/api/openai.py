"""OpenAI-compatible chat: any OpenAI client or chat UI uses the workbench as a model.

The model name picks the agent. The workbench keeps its own conversation: a request answers the
last user message, in a new conversation unless `workbench.conversation_id` (from an earlier reply,
sent as extra body) continues one. Sources, confidence and grounding come back in the `workbench`
field of the reply (and of the last chunk when streaming), with every token the answer metered
(`tokens`: retrieval and grounding too; `usage` counts the prompt and completion tokens).
Conversation, messages and metering are stored as the chat page stores them."""

from __future__ import annotations

import json
import logging
import queue
import threading
import time
import uuid
from collections.abc import Iterator

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from workbench.accounts.context import Context
from workbench.api import keys
from workbench.chat import ask as chat
from workbench.chat import conversations
from workbench.errors import InvalidInput, NotFound, WorkbenchError
from workbench.usage import metering

router = APIRouter(prefix="/v1", tags=["chat"])
log = logging.getLogger("workbench.api")

MODELS = {  # model name -> (agent type, what it answers)
    "workbench-documents": ("rag", "Answers from the organisation's documents, with citations."),
    "workbench-code": ("code", "Answers from indexed code repositories."),
    "workbench-analytics": ("analytics", "Answers questions about the workbench's own data with SQL."),
}
CREATED = 1_780_000_000  # a fixed 'created' for the models list


class Message(BaseModel):
    model_config = ConfigDict(extra="allow")
    role: str
    content: str | list[dict] | None = None


class Extension(BaseModel):
    conversation_id: str | None = Field(None, description="Continue this conversation.")
    documents: list[str] | None = Field(None, description="Only these documents (UUIDs).")


class ChatRequest(BaseModel):
    model_config = ConfigDict(extra="allow")  # temperature, max_tokens...: accepted, not used
    model: str = Field(..., examples=["workbench-documents"])
    messages: list[Message] = Field(..., min_length=1)
    stream: bool = False
    workbench: Extension | None = None


@router.get("/models", summary="The agents, as models")
def list_models(ctx: keys.Acting) -> dict:
    ctx.require("chat:use")
    return {"object": "list", "data": [
        {"id": name, "object": "model", "created": CREATED, "owned_by": "workbench", "description": text}
        for name, (_agent, text) in MODELS.items()]}


def _question(body: ChatRequest) -> str:
    users = [m for m in body.messages if m.role == "user"]
    if not users:
        raise InvalidInput("Send at least one message with the role 'user'.")
    content = users[-1].content
    if isinstance(content, list):  # content parts: the text ones
        content = " ".join(part.get("text", "") for part in content if part.get("type") == "text")
    return chat.check_question(content or "")


def _agent(model: str) -> str:
    if model not in MODELS:
        raise InvalidInput(f"No model {model!r}: the models are {', '.join(MODELS)} (GET /v1/models).")
    return MODELS[model][0]


def _extension(answer: chat.Answer) -> dict:
    return jsonable_encoder({
        "conversation_id": answer.conversation_uuid, "message_id": answer.message_uuid,
        "sources": answer.sources, "confidence": answer.confidence,
        "low_confidence": answer.low_confidence, "grounding": answer.grounding,
        "degraded": answer.degraded, "provider": answer.provider, "model": answer.model,
        "tokens": answer.tokens, "cost_usd": answer.cost_usd, "table": answer.table,
    })


def _usage(ctx: Context, request: Request, answer: chat.Answer) -> dict:
    with request.app.state.wb.store.connect() as con:
        return metering.message_tokens(ctx, con, answer.message_uuid)


def _check(ctx: Context, request: Request, body: ChatRequest) -> None:
    """Refuse bad input before anything is asked or streamed: the model, the question, the
    conversation to continue and the documents to ask (theirs, or not found)."""
    ctx.require("chat:use")
    _agent(body.model)
    _question(body)
    extension = body.workbench or Extension()
    with request.app.state.wb.store.connect() as con:
        if extension.conversation_id:
            conversations.get_conversation(ctx, con, extension.conversation_id)
        if extension.documents and len(conversations.still_readable(ctx, con, extension.documents)) \
                < len(set(extension.documents)):
            raise NotFound("Some of the documents asked about do not exist or are not yours to read.")


def _ask(ctx: Context, request: Request, body: ChatRequest, on_delta=None) -> chat.Answer:
    extension = body.workbench or Extension()
    return chat.ask(ctx, request.app.state.wb, _question(body), conversation_uuid=extension.conversation_id,
                    agent_type=_agent(body.model), document_uuids=extension.documents, on_delta=on_delta)


@router.post("/chat/completions", summary="Ask an agent (OpenAI's chat completions)")
def chat_completions(body: ChatRequest, request: Request, ctx: keys.Acting):
    _check(ctx, request, body)
    if not body.stream:
        answer = _ask(ctx, request, body)
        return {
            "id": f"chatcmpl-{answer.message_uuid}", "object": "chat.completion", "created": int(time.time()),
            "model": body.model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": answer.content},
                         "finish_reason": "stop"}],
            "usage": _usage(ctx, request, answer), "workbench": _extension(answer),
        }
    return StreamingResponse(_stream(ctx, request, body), media_type="text/event-stream",
                             headers={"Cache-Control": "no-cache"})


def _stream(ctx: Context, request: Request, body: ChatRequest) -> Iterator[str]:
    """Server-sent events: the answer's text as it is written, then a last chunk with the reply's
    `workbench` field and usage, then `[DONE]`. A failure after the start is an `error` event."""
    pieces: queue.Queue = queue.Queue()
    done = object()
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["answer"] = _ask(ctx, request, body, on_delta=pieces.put)
        except WorkbenchError as exc:
            outcome["error"] = {"message": str(exc), "type": type(exc).__name__}
        except Exception:  # noqa: BLE001 - the client gets a message, the log the trace
            log.exception("streamed chat failed")
            outcome["error"] = {"message": "The workbench failed on this request.", "type": "InternalError"}
        pieces.put(done)

    threading.Thread(target=run, daemon=True).start()
    created = int(time.time())
    chunk_id = f"chatcmpl-{uuid.uuid4()}"

    def chunk(delta: dict, finish: str | None = None, **extra) -> str:
        choice = {"index": 0, "delta": delta, "finish_reason": finish}
        return "data: " + json.dumps({"id": chunk_id, "object": "chat.completion.chunk", "created": created,
                                      "model": body.model, "choices": [choice], **extra}) + "\n\n"

    yield chunk({"role": "assistant", "content": ""})
    while (piece := pieces.get()) is not done:
        if piece:
            yield chunk({"content": piece})
    if "answer" in outcome:
        try:
            answer = outcome["answer"]
            yield chunk({}, "stop", usage=_usage(ctx, request, answer), workbench=_extension(answer))
        except WorkbenchError as exc:  # answered and saved; only its token count could not be read
            outcome["error"] = {"message": str(exc), "type": type(exc).__name__}
    if "error" in outcome:
        yield "data: " + json.dumps({"error": outcome["error"]}) + "\n\n"
    yield "data: [DONE]\n\n"
