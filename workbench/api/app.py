"""The API application: routers, errors as JSON with the right status, and the docs (served from
the package, no CDN: /docs, /redoc, /openapi.json)."""

from __future__ import annotations

import logging
import re

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
TOO_LARGE = re.compile(r"too large|the limit is [\d,.]+ ?MB")  # a file over the upload limit


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
    if isinstance(exc, InvalidInput) and TOO_LARGE.search(str(exc)):
        status = 413
    return error(status, str(exc), type(exc).__name__, **extra)


def _validation_error(_request: Request, exc: RequestValidationError) -> JSONResponse:
    problems = [f"{'.'.join(str(p) for p in e['loc'] if p != 'body') or 'body'}: {e['msg']}"
                for e in exc.errors()]
    return error(422, "The request is malformed: " + "; ".join(problems[:10]), "RequestValidationError")


def _http_error(_request: Request, exc: HTTPException) -> JSONResponse:
    messages = {404: "No such endpoint: see /docs.",
                405: "This endpoint does not take that method: see /docs."}
    return error(exc.status_code, messages.get(exc.status_code, str(exc.detail)), "HTTPException")


def _unexpected(request: Request, exc: Exception) -> JSONResponse:
    log.exception("%s %s failed", request.method, request.url.path)
    return error(500, "The workbench failed on this request; the server's log says why.", "InternalError")


WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# POSTs that only read (a search, a query) or keep their own record (a chat: its conversation)
NOT_AUDITED = {"/v1/search", "/v1/calls/search", "/v1/sql", "/v1/chat/completions"}
TAGS = ("chat", "usage", "documents", "projects", "calls", "models", "sql")


def _audit(request: Request, ctx, status: int) -> None:
    try:
        with request.app.state.wb.store.connect() as con:
            audit.record(ctx, con, "api.write", f"{request.method} {request.url.path}", status=status)
    except WorkbenchError:  # the write is done; a busy database only costs its audit line
        log.warning("could not audit %s %s", request.method, request.url.path)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The API on the data home of `settings` (the environment's by default)."""
    settings = settings or from_env()
    app = FastAPIOffline(title="Workbench API", version="1", description=DESCRIPTION,
                         openapi_tags=[{"name": t} for t in TAGS])
    app.state.wb = home.Workbench(settings)
    app.state.limiter = keys.Limiter()
    app.add_exception_handler(WorkbenchError, _workbench_error)
    app.add_exception_handler(RequestValidationError, _validation_error)
    app.add_exception_handler(HTTPException, _http_error)
    app.add_exception_handler(Exception, _unexpected)
    limit = settings.upload_max_mb * 1024 * 1024

    @app.middleware("http")
    async def refuse_large_bodies(request: Request, call_next):
        size = request.headers.get("content-length")
        if size and size.isdigit() and int(size) > limit:
            return error(413, f"The request body is {int(size) / 2**20:,.1f} MB; the limit is"
                              f" {settings.upload_max_mb} MB.", "TooLarge")
        return await call_next(request)

    @app.middleware("http")
    async def audit_writes(request: Request, call_next):
        """Every write that succeeded, in the audit log as its key's: 'alice (key wbk_AbCdEf)'."""
        response = await call_next(request)
        ctx = getattr(request.state, "ctx", None)
        if (ctx is not None and request.method in WRITES and response.status_code < 400
                and request.url.path not in NOT_AUDITED):
            await run_in_threadpool(_audit, request, ctx, response.status_code)
        return response

    for router in (openai.router, usage.router, documents.router, projects.router, calls.router,
                   models.router, sql.router):
        app.include_router(router)
    return app
