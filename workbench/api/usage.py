"""LLM calls in (OpenTelemetry traces over OTLP/HTTP, JSON batches) and the usage report out.

An LLM application reports with a key of the `reporter` role (it may do nothing else). Each GenAI
span becomes an `llm_calls` row of the key's organisation, priced from the catalogue and rolled up
at once, so the Usage page shows it on its next run; a span sent again is skipped (its trace and span
ids are the call's id). A batch with a bad span or row writes nothing and names it."""

from __future__ import annotations

import zlib
from typing import Any, Literal

from fastapi import APIRouter, Request
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from workbench.api import keys
from workbench.errors import InvalidInput, TooLarge
from workbench.usage import queries, telemetry

router = APIRouter(prefix="/v1", tags=["usage"])
PROTOBUF, JSON = "application/x-protobuf", "application/json"


def _decoded(body: bytes, encoding: str, limit: int) -> bytes:
    """The body as sent before compression, at most `limit` bytes of it (a small gzip body can hold
    gigabytes)."""
    if encoding in ("", "identity"):
        return body
    if encoding not in ("gzip", "deflate"):
        raise InvalidInput(f"Content-Encoding {encoding!r} is not supported: send gzip or none.")
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS if encoding == "gzip" else zlib.MAX_WBITS)
    try:
        data = inflater.decompress(body, limit)
    except zlib.error:
        raise InvalidInput(f"The body is not valid {encoding} data.") from None
    if inflater.unconsumed_tail:
        raise TooLarge(f"The body is over {limit / 2**20:,.0f} MB once uncompressed; send smaller exports.")
    return data


@router.post("/traces", summary="OpenTelemetry traces (OTLP/HTTP, protobuf or JSON)",
             openapi_extra={"requestBody": {"content": {PROTOBUF: {}, JSON: {}}, "required": True}})
async def traces(request: Request, ctx: keys.Acting) -> Response:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind not in (PROTOBUF, JSON):
        raise InvalidInput(f"Send OTLP as {PROTOBUF} or {JSON}, not {kind or 'no content type'}.")
    body, encoding = await request.body(), request.headers.get("content-encoding", "").lower()
    wb = request.app.state.wb

    def ingest() -> dict:
        data = _decoded(body, encoding, wb.settings.upload_max_mb * 1024 * 1024)
        with wb.store.connect() as con:
            return telemetry.ingest_otlp(ctx, con, data, kind)

    result = await run_in_threadpool(ingest)
    headers = {"X-Workbench-Calls": str(result.get("rows", 0))}
    if kind == PROTOBUF:  # an empty ExportTraceServiceResponse: everything accepted
        return Response(b"", media_type=PROTOBUF, headers=headers)
    return Response(b"{}", media_type=JSON, headers=headers)


EXAMPLE_CALL = {"timestamp": "2026-12-06T10:15:00Z", "model": "gpt-4o-mini", "prompt_tokens": 812,
                "completion_tokens": 120, "id": "call-0001"}


class CallsBatch(BaseModel):
    calls: list[dict[str, Any]] = Field(..., description="Rows in the usage-log format of "
                                        "`workbench usage import` (timestamp, user, model, tokens...).",
                                        examples=[[EXAMPLE_CALL]])


@router.post("/usage/calls", summary="A batch of LLM calls as JSON (up to 10,000)")
def usage_calls(body: CallsBatch, request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        return telemetry.ingest_calls(ctx, con, body.calls)


@router.get("/usage/report", summary="Tokens, cost and latency of the last N days")
def usage_report(request: Request, ctx: keys.Acting, days: int = 30,
                 by: Literal["provider", "model", "operation", "project", "user"] = "model") -> dict:
    if not 1 <= days <= 3660:
        raise InvalidInput("days must be between 1 and 3660.")
    with request.app.state.wb.store.connect() as con:
        return queries.report(ctx, con, days=days, by=by)
