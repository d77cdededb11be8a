"""LLM calls reported live by the applications that make them, for the HTTP API: JSON batches of
usage-log rows and OpenTelemetry trace exports whose GenAI spans become calls.

Both go through `imports.record_calls`, the file import's own core: the same validation (every
problem names its row and nothing is written), idempotent on the call id (sending a batch again
adds nothing), priced from the catalogue and added to the daily rollups in the same transaction,
so the Usage page shows the calls at once. Both need the `usage:ingest` permission (admins, and the
`reporter` role an API key can have); calls land in the acting user's organisation only.

An OTLP/HTTP trace export (`ExportTraceServiceRequest`, as protobuf or in OTLP's JSON mapping)
is read with the OpenTelemetry GenAI semantic conventions. A span is a call when it has a model
attribute of its own; other attributes may also sit on its scope or resource (the span's win):

    id            trace id + span id, in hex: the same spans sent again add nothing
    timestamp     the span's start (UTC)
    model         gen_ai.response.model, else gen_ai.request.model
    provider      gen_ai.provider.name, else gen_ai.system (gcp.*, vertex_ai and gemini read as
                  google, mistral_ai as mistral: the catalogue's names); else found as for a file
    operation     gen_ai.operation.name: embeddings -> embedding; chat, text_completion,
                  generate_content and anything else -> chat
    prompt_tokens gen_ai.usage.input_tokens (legacy gen_ai.usage.prompt_tokens), including cached
    completion_tokens  gen_ai.usage.output_tokens (legacy gen_ai.usage.completion_tokens)
    cached_tokens gen_ai.usage.cache_read.input_tokens (or gen_ai.usage.cached_tokens)
    latency_ms    end - start
    status        error when the span's status is ERROR, else ok
    user          enduser.id, user.id or user.name: a username or email of the organisation;
                  without one, the acting user (an API key's creator)
    project       workbench.project, a project name (or UUID) of the organisation

A GenAI span without usage attributes (often a failed call) is recorded with 0 tokens rather than
refusing the export.
"""

from __future__ import annotations

import base64
import json
import time
from datetime import UTC, datetime

import duckdb
import polars as pl
from google.protobuf import json_format
from google.protobuf.message import DecodeError
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.trace.v1.trace_pb2 import Status

from workbench import user_files
from workbench.accounts.context import Context
from workbench.errors import MAX_ERRORS, ImportReport, InvalidInput
from workbench.usage import imports

MAX_ROWS = 10_000  # calls in one batch (one transaction)
MAX_FIELDS = 100  # distinct fields across a batch's rows: a usage log has 18, the rest are ignored
OTLP_SOURCE = "OpenTelemetry"
PROTOBUF = ("application/x-protobuf", "application/protobuf")
JSON = ("application/json",)

_MODEL = ("gen_ai.response.model", "gen_ai.request.model")
_PROVIDER = ("gen_ai.provider.name", "gen_ai.system")
_PROMPT = ("gen_ai.usage.input_tokens", "gen_ai.usage.prompt_tokens")
_COMPLETION = ("gen_ai.usage.output_tokens", "gen_ai.usage.completion_tokens")
_CACHED = ("gen_ai.usage.cache_read.input_tokens", "gen_ai.usage.cached_tokens")
_USER = ("enduser.id", "user.id", "user.name")
_PROJECT = ("workbench.project",)
_OPERATION = ("gen_ai.operation.name",)
_READ = frozenset((*_MODEL, *_PROVIDER, *_PROMPT, *_COMPLETION, *_CACHED, *_USER, *_PROJECT, *_OPERATION))
_PROVIDERS = {  # semantic-convention names -> the catalogue's, where they are the same price list
    "gcp.gemini": "google",
    "gcp.vertex_ai": "google",
    "gcp.gen_ai": "google",
    "gemini": "google",
    "vertex_ai": "google",
    "mistral_ai": "mistral",
}
_OPERATIONS = {"embeddings": "embedding"}  # everything else is a chat call


def ingest_calls(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    rows: list[dict],
    *,
    source: str = "API batch",
    now: datetime | None = None,
) -> dict:
    """Record a batch of calls (dicts in the usage-log format of `imports`: timestamp, user,
    model, token counts or a usage object, id, provider, operation, latency_ms, status, project)
    in the organisation's llm_calls, all or nothing, at most MAX_ROWS. A row without a user is
    recorded for the acting user: for an API key, the user who created it. `now` (naive = server
    time) bounds future timestamps. Returns rows (inserted), skipped_existing (ids already
    recorded), unpriced and notes; raises ImportReport, under `source`, naming every bad row."""
    ctx.require("usage:ingest")
    started = time.perf_counter()
    if len(rows) > MAX_ROWS:
        raise ImportReport(
            source,
            [(None, f"{len(rows):,} calls in one batch; the limit is {MAX_ROWS:,}: send smaller batches")],
        )
    result = {"rows": 0, "skipped_existing": 0, "unpriced": 0, "notes": []}
    if rows:
        raw, notes = _frame(source, rows, ctx.username)
        result = imports.record_calls(ctx, con, source, raw, "usage:ingest", now=now)
        result["notes"] = notes + result["notes"]
    return {"source": source, **result, "seconds": round(time.perf_counter() - started, 3)}


def _frame(source: str, rows: list[dict], username: str) -> tuple[pl.DataFrame, list[str]]:
    """The rows as a usage log's columns, as `imports.read_log` reads a JSON file: text cells
    (nested values as JSON), names lower-cased and aliases resolved; a missing user is `username`."""
    bad = [i for i, row in enumerate(rows, start=1) if not isinstance(row, dict)]
    if bad:
        raise ImportReport(source, [(i, "expected an object, one per call") for i in bad[:MAX_ERRORS]])
    keys = list(dict.fromkeys(k for row in rows for k in row))
    if len(keys) > MAX_FIELDS:
        raise ImportReport(source, [(None, f"{len(keys):,} different fields; the limit is {MAX_FIELDS}")])
    names = [imports.ALIASES.get(str(k).strip().lower(), str(k).strip().lower()) for k in keys]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ImportReport(source, [(None, f"field {n!r} appears twice (aliases count)") for n in twice])
    columns = {}
    for key, name in zip(keys, names, strict=True):
        cells = []
        for number, row in enumerate(rows, start=1):
            try:
                cells.append(_text(row.get(key)))
            except (ValueError, RecursionError):  # a circular or absurdly deep value
                raise ImportReport(source, [(number, f"{name}: not a JSON value")]) from None
        columns[name] = cells
    users = columns.setdefault("user", [None] * len(rows))
    missing = [i for i, user in enumerate(users) if user is None or not user.strip()]
    for i in missing:
        users[i] = username
    notes = [f"{len(missing):,} calls without a user recorded for {username}, who reports them."]
    return pl.DataFrame(columns, schema={name: pl.Utf8 for name in columns}), notes if missing else []


def _text(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, dict | list):
        return json.dumps(value, default=str)
    return str(value)


def ingest_otlp(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    body: bytes,
    content_type: str,
    *,
    now: datetime | None = None,
) -> dict:
    """Record the GenAI spans of an OTLP/HTTP trace export as calls (`calls_from_otlp`, then
    `ingest_calls`): all or nothing, the same spans twice add nothing. Returns ingest_calls'
    counts plus spans (in the export) and skipped_spans (not GenAI calls); an export without GenAI
    spans records nothing and is fine. Raises InvalidInput for a malformed body and ImportReport
    naming each bad span (by its id, and its row among the export's GenAI spans)."""
    ctx.require("usage:ingest")
    rows, skipped = calls_from_otlp(body, content_type)
    strangers = _unknown_users_to_acting(ctx, con, rows)
    try:
        result = ingest_calls(ctx, con, rows, source=OTLP_SOURCE, now=now)
    except ImportReport as report:
        named = [(row, f"{_span(rows[row - 1])}: {text}" if row else text) for row, text in report.problems]
        raise ImportReport(report.filename, named) from None
    if strangers:
        result["notes"].append(f"{strangers:,} spans named a user who is not in {ctx.org_name} (often the"
                               f" application's own customer): recorded for {ctx.username}.")
    return {**result, "spans": len(rows) + skipped, "skipped_spans": skipped}


def _unknown_users_to_acting(ctx: Context, con: duckdb.DuckDBPyConnection, rows: list[dict]) -> int:
    """Spans whose `enduser.id`/`user.id` is no user of the organisation are recorded for the acting
    user instead of refusing the export: an application's end users are seldom workbench users, and
    an exporter does not send a refused export again. Returns how many were."""
    named = {str(r["user"]).strip().lower() for r in rows if "user" in r}
    if not named:
        return 0
    known = {name for row in con.execute("SELECT lower(username), lower(email) FROM users WHERE org_id = ?",
                                         [ctx.org_id]).fetchall() for name in row if name}
    strangers = 0
    for row in rows:
        if "user" in row and str(row["user"]).strip().lower() not in known:
            del row["user"]
            strangers += 1
    return strangers


def _span(row: dict) -> str:
    call_id = row["id"]
    return f"span {call_id[-16:]} of trace {call_id[:-16]}"


def calls_from_otlp(body: bytes, content_type: str) -> tuple[list[dict], int]:
    """The calls (usage-log rows, see the module's table) of an OTLP/HTTP trace export sent as
    `application/x-protobuf` or `application/json` (ids in hex, as OTLP's JSON writes them), and
    how many of its spans were not GenAI calls. Raises InvalidInput for a body that is neither."""
    request = _request(body, content_type)
    rows, skipped = [], 0
    for resource_spans in request.resource_spans:
        resource = _attributes(resource_spans.resource.attributes)
        for scope_spans in resource_spans.scope_spans:
            inherited = resource | _attributes(scope_spans.scope.attributes)
            for span in scope_spans.spans:
                own = _attributes(span.attributes)
                if _first(own, _MODEL) is None:
                    skipped += 1
                else:
                    rows.append(_call(span, inherited | own))
    return rows, skipped


def _request(body: bytes, content_type: str) -> ExportTraceServiceRequest:
    media = (content_type or "").split(";")[0].strip().lower()
    if media in PROTOBUF:
        try:
            return ExportTraceServiceRequest.FromString(body)
        except DecodeError as exc:
            raise InvalidInput(f"The body is not an OTLP trace export in protobuf: {exc}") from None
    if media in JSON:
        try:
            data = user_files.load_json(body)
        except ValueError as exc:  # bad JSON, bad UTF-8, nested too deep
            raise InvalidInput(f"The body is not valid JSON: {exc}") from None
        if not isinstance(data, dict):
            raise InvalidInput("The body is not an OTLP trace export: expected an object with resourceSpans.")
        _ids_as_base64(data)
        try:
            return json_format.ParseDict(data, ExportTraceServiceRequest(), ignore_unknown_fields=True)
        except json_format.ParseError as exc:
            raise InvalidInput(f"The body is not an OTLP trace export in JSON: {exc}") from None
    raise InvalidInput(
        f"Unsupported content type {content_type!r}: send OTLP as application/x-protobuf or application/json."
    )


def _ids_as_base64(data: dict) -> None:
    """OTLP's JSON writes trace and span ids in hex where protobuf's JSON mapping reads base64."""
    for resource in _items(data, "resourceSpans"):
        for scope in _items(resource, "scopeSpans"):
            for span in _items(scope, "spans"):
                _convert(span, ("traceId", "spanId", "parentSpanId"))
                for link in _items(span, "links"):
                    _convert(link, ("traceId", "spanId"))


def _items(parent, key: str) -> list:
    value = parent.get(key) if isinstance(parent, dict) else None
    return value if isinstance(value, list) else []  # anything else is ParseDict's to refuse


def _convert(item, keys: tuple[str, ...]) -> None:
    if not isinstance(item, dict):
        return
    for key in keys:
        value = item.get(key)
        if isinstance(value, str):
            try:
                item[key] = base64.b64encode(bytes.fromhex(value)).decode()
            except ValueError:
                raise InvalidInput(
                    f"{key} {value[:40]!r} is not a hex id (OTLP's JSON writes ids in hex)."
                ) from None


def _attributes(pairs) -> dict:
    """The attributes this module reads, as plain values (arrays, maps and bytes are not read)."""
    found = {}
    for pair in pairs:
        if pair.key in _READ:
            kind = pair.value.WhichOneof("value")
            if kind in ("string_value", "int_value", "double_value", "bool_value"):
                found[pair.key] = getattr(pair.value, kind)
    return found


def _first(attributes: dict, keys: tuple[str, ...]):
    """The first of `keys` given (not blank), else None."""
    for key in keys:
        value = attributes.get(key)
        if value is not None and value != "":
            return value
    return None


def _call(span, attributes: dict) -> dict:
    """A span as a usage-log row; validation is left to the usage-log checks."""
    start, end = span.start_time_unix_nano, span.end_time_unix_nano
    provider = _first(attributes, _PROVIDER)
    if provider is not None:
        provider = _PROVIDERS.get(str(provider).strip().lower(), provider)
    operation = str(_first(attributes, _OPERATION) or "chat").strip().lower()
    row = {
        "id": span.trace_id.hex() + span.span_id.hex(),
        "timestamp": _iso(start) if start else None,
        "model": _first(attributes, _MODEL),
        "provider": provider,
        "operation": _OPERATIONS.get(operation, "chat"),
        "prompt_tokens": _first(attributes, _PROMPT) or 0,
        "completion_tokens": _first(attributes, _COMPLETION) or 0,
        "cached_tokens": _first(attributes, _CACHED),
        "latency_ms": (end - start) / 1e6 if start and end else None,
        "status": "error" if span.status.code == Status.STATUS_CODE_ERROR else "ok",
        "user": _first(attributes, _USER),
        "project": _first(attributes, _PROJECT),
    }
    return {key: value for key, value in row.items() if value is not None}


def _iso(unix_nano: int) -> str:
    seconds, nanos = divmod(unix_nano, 1_000_000_000)
    try:
        when = datetime.fromtimestamp(seconds, UTC).replace(microsecond=nanos // 1000)
    except (OverflowError, OSError, ValueError):  # past year 9999: the checks say it is no time
        return f"{unix_nano} ns"
    return when.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
