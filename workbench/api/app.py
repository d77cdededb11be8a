"""The API application: routers, errors as JSON with the right status, and the docs (served from
the package, no CDN: /docs, /redoc, /openapi.json)."""

from __future__ import annotations

import logging

import duckdb
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException

from workbench import home
from workbench.accounts import audit
from workbench.api import calls, documents, keys, models, openai, projects, sql, usage
from workbench.errors import (
    AuthFailed,
    Conflict,
    ImportReport,
    InvalidInput,
    NotAllowed,
    NotFound,
    NotInitialised,
    StoreBusy,
    TooLarge,
    WorkbenchError,
)
from workbench.models.registry import RegistryUnavailable
from workbench.settings import Settings, from_env

log = logging.getLogger("workbench.api")

DESCRIPTION = """The workbench for programs: chat as an OpenAI-compatible model, LLM calls reported by
OpenTelemetry or in JSON batches, the usage report, documents and search, projects, calls and QA
pairs, the model registry and scoring, and read-only SQL.

Every request carries an API key: `Authorization: Bearer wbk_...`. A key acts as the admin who
created it, with the role chosen then (`workbench key create NAME --role ROLE --as ADMIN`, or the
API keys page); a request may do what both allow, in the key's organisation only.

Errors are JSON, `{"error": {"message", "type", "code"}}`, with the status that says what happened:
400 bad input, 401 no or a bad key, 403 not allowed, 404 not found (or another organisation's),
409 a conflicting change, 413 too large, 422 a malformed request or a file with bad rows (listed),
429 too many failed keys, 503 the database is busy. Nothing is written by a request that fails.
"""

STATUS = [  # most specific first
    (keys.TooManyFailures, 429),
    (TooLarge, 413),
    (ImportReport, 422),
    (AuthFailed, 401),
    (NotAllowed, 403),
    (NotFound, 404),
    (Conflict, 409),
    (InvalidInput, 400),
    (StoreBusy, 503),
    (RegistryUnavailable, 503),
    (NotInitialised, 503),
    (WorkbenchError, 400),
]
# the server's own state is not a client's business: the log gets the message, the client this
UNAVAILABLE = "The workbench's database is busy or not ready: retry in a few seconds."


def error(status: int, message: str, kind: str, **extra) -> JSONResponse:
    """An error in the shape OpenAI's clients read (`error.message`)."""
    headers = {"WWW-Authenticate": "Bearer"} if status == 401 else {}
    if "retry_after" in extra:
        headers["Retry-After"] = str(extra["retry_after"])
    return JSONResponse({"error": {"message": message, "type": kind, "code": status, **extra}},
                        status_code=status, headers=headers)


def _workbench_error(_request: Request, exc: WorkbenchError) -> JSONResponse:
    status = next(code for kind, code in STATUS if isinstance(exc, kind))
    extra = {}
    if isinstance(exc, ImportReport):
        extra["problems"] = [{"row": row, "problem": text} for row, text in exc.problems]
    if isinstance(exc, keys.TooManyFailures):
        extra["retry_after"] = exc.retry_after
    if status == 503:
        log.warning("answered 503: %s", exc)
        return error(503, UNAVAILABLE, "Unavailable", retry_after=2)
    return error(status, str(exc), type(exc).__name__, **extra)


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                for e in exc.errors()]
    return error(422, "The request is malformed: " + "; ".join(problems[:10]), "RequestValidationError")


def _http_error(request: Request, exc: HTTPException) -> JSONResponse:
    if isinstance(exc.__cause__, WorkbenchError):  # FastAPI wraps what failed while it read the body
        return _workbench_error(request, exc.__cause__)
    messages = {404: "No such endpoint: see /docs.",
                405: "This endpoint does not take that method: see /docs."}
    return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), "HTTPException")


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return error(500, "The workbench failed on this request; the server's log says why.", "InternalError")


class BodyLimit:
    """Refuse a request body over the upload limit, by its Content-Length at once, else (chunked) as
    soon as the bytes read pass it: nothing past the limit is read, before or after the key's check."""

    def __init__(self, app, max_mb: int) -> None:
        self.app, self.max_mb, self.limit = app, max_mb, max_mb * 1024 * 1024

    def too_large(self, size: float) -> TooLarge:
        return TooLarge(f"The request body is {size / 2**20:,.1f} MB or more; the limit is {self.max_mb} MB.")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length", b"")
        if length.isdigit() and int(length) > self.limit:
            exc = self.too_large(int(length))
            return await error(413, str(exc), "TooLarge")(scope, receive, send)
        seen = 0

        async def counted():
            nonlocal seen
            message = await receive()
            seen += len(message.get("body", b""))
            if seen > self.limit:
                raise self.too_large(seen)
            return message

        await self.app(scope, counted, send)


WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# POSTs that only read (a search, a query) or keep their own record (a chat: its conversation)
NOT_AUDITED = {"/v1/search", "/v1/calls/search", "/v1/sql", "/v1/chat/completions"}
TAGS = ("chat", "usage", "documents", "projects", "calls", "models", "sql")


class AuditWrites:
    """Every write that succeeded, in the audit log as its key's: 'alice (key wbk_AbCdEf)'. (Plain
    ASGI: what fails while a body is read reaches the error handlers, not a middleware's task group.)"""

    def __init__(self, app) -> None:
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in WRITES or scope["path"] in NOT_AUDITED:
            return await self.app(scope, receive, send)
        status = 500

        async def sent(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        await self.app(scope, receive, sent)
        ctx = scope.get("state", {}).get("ctx")
        if ctx is not None and status < 400:
            await run_in_threadpool(_audit, scope["app"].state.wb, ctx, f"{scope['method']} {scope['path']}",
                                    status)


def _audit(wb, ctx, target: str, status: int) -> None:
    try:
        with wb.store.connect() as con:
            audit.record(ctx, con, "api.write", target, status=status)
    except (WorkbenchError, duckdb.Error):  # the write is done; a busy database costs its audit line
        log.warning("could not audit %s", target)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API on the data home of `settings` (the environment's by default)."""
    settings = settings or from_env()
    app = FastAPIOffline(title="Workbench API", version="1", description=DESCRIPTION,
                         openapi_tags=[{"name": t} for t in TAGS])
    app.state.wb = home.Workbench(settings, linger_s=settings.db_linger_s)  # a request opens the file once
    app.state.limiter = keys.Limiter()
    app.add_exception_handler(WorkbenchError, _workbench_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)

    app.add_middleware(AuditWrites)
    app.add_middleware(BodyLimit, max_mb=settings.upload_max_mb)  # outermost: before any body is read
    for router in (openai.router, usage.router, documents.router, projects.router, calls.router,
                   models.router, sql.router):
        app.include_router(router)
    return app
