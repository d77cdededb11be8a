"""Importing usage logs of LLM calls (a gateway's or a provider's export) into `llm_calls`: all or
nothing, idempotent, priced from the catalogue (a cost in the file is never trusted).

Formats, by extension: CSV, JSONL (or a JSON array of objects) and Parquet (also recognised by its
magic bytes); one row per call, at most 500 MB. Column names are matched case-insensitively.

    timestamp     required. ISO 8601 with a zone (2026-11-02T10:15:00Z, ...+01:00) or epoch
                  seconds. A timestamp without a zone is refused unless the import names the
                  zone it is in (`timezone`). Stored in the server's local time. Alias created_at.
    user          required. Username or email of a user of the importing organisation.
    model         required. Trimmed and lower-cased; 'openai/gpt-4o' gives provider and model.
    prompt_tokens, completion_tokens, cached_tokens, embedding_tokens
                  whole numbers >= 0, missing = 0. Cached tokens are part of the prompt tokens.
    usage         instead of the token columns (a JSON object; in CSV a JSON string): OpenAI's
                  {prompt_tokens, completion_tokens, total_tokens, prompt_tokens_details:
                  {cached_tokens}} or Anthropic's {input_tokens, output_tokens,
                  cache_read_input_tokens, cache_creation_input_tokens}. Anthropic's input excludes
                  the cache, so prompt = input + cache reads + cache writes, cached = cache reads.
    total_tokens  optional; must equal prompt + completion + embedding tokens.
    id            optional call id, unique in the file. A row whose id the organisation already
                  has is skipped, so importing a file again adds nothing; rows without one are
                  always added.
    provider      optional, lower-cased; else the model's prefix; else the one provider whose
                  catalogue prices the model.
    operation     chat (default), embedding, analysis, grounding or explanation. Alias
                  operation_type. An embedding row with only prompt tokens counts them as
                  embedding tokens.
    latency_ms    optional, >= 0.
    status        ok (default) or error.
    project       optional project name (or UUID) in the organisation; not an archived one.
    currency      optional; must be USD.
    cost          ignored (alias cost_usd): every call is priced from the catalogue.

Every problem names its data row (1-based) and column; the first 50 are reported and nothing is
written. Fixes that need no decision (model casing, provider prefixes, zones) are applied and
reported as notes. The same rows also arrive over the API, as JSON batches and OpenTelemetry spans
(`telemetry`): `record_calls` is the validation and insert both paths share.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from fnmatch import fnmatchcase
from pathlib import PurePath

import duckdb
import polars as pl
import pyarrow as pa

from workbench.accounts.context import Context
from workbench.db import atomic
from workbench.errors import ImportReport
from workbench.usage import prices, rollup
from workbench.usage.log_columns import (
    ALIASES,
    FORMATS,
    FUTURE_SLACK,
    TOKENS,
    USAGE_KEYS,
    Problems,
    as_utc,
    check_zone,
    clean_text,
    parse_counts,
    parse_timestamps,
    plain_text,
    read_log,
    token_columns,
)

__all__ = [  # read_log and the column constants live in usage_log and stay importable from here
    "ALIASES",
    "COLUMNS",
    "FORMATS",
    "FUTURE_SLACK",
    "MAX_MB",
    "OPERATIONS",
    "STATUSES",
    "TOKENS",
    "USAGE_KEYS",
    "check_size",
    "import_usage",
    "read_log",
    "record_calls",
]

MAX_MB = 500
OPERATIONS = ("chat", "embedding", "analysis", "grounding", "explanation")
STATUSES = ("ok", "error")
COLUMNS = (
    "id",
    "timestamp",
    "user",
    "model",
    "provider",
    "operation",
    *TOKENS,
    "total_tokens",
    "usage",
    "latency_ms",
    "status",
    "project",
    "currency",
    "cost",
)
_recording = threading.Lock()  # see record_calls
_INSERTED = (
    "org_id, user_id, project_id, provider, model, operation_type, prompt_tokens, completion_tokens,"
    " cached_tokens, embedding_tokens, total_tokens, latency_ms, status, created_at, external_id"
)


def import_usage(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    filename: str,
    data: bytes,
    *,
    timezone: str | None = None,
    now: datetime | None = None,
    max_mb: int = MAX_MB,
) -> dict:
    """Import a usage log into the organisation's llm_calls in one transaction. `timezone` is the
    zone of timestamps written without one; `now` (naive = server time) bounds future timestamps.
    Returns counts and notes; raises ImportReport naming every bad row, having written nothing."""
    ctx.require("admin:full")
    started = time.perf_counter()
    name = PurePath(filename).name
    check_size(name, len(data), max_mb)
    if timezone:
        check_zone(timezone)
    result = record_calls(ctx, con, name, read_log(name, data), "admin:full", timezone=timezone, now=now)
    return {"file": name, **result, "seconds": round(time.perf_counter() - started, 2)}


def record_calls(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    name: str,
    raw: pl.DataFrame,
    permission: str,
    *,
    timezone: str | None = None,
    now: datetime | None = None,
) -> dict:
    """The core every way of reporting calls shares (a file here, an API batch or OpenTelemetry
    spans in `telemetry`): check `permission` (the one the caller's path needs), validate the rows
    of a usage log as `read_log` gives them, and insert the new ones, priced and rolled up, in one
    transaction. Returns rows, skipped_existing, unpriced and notes; raises ImportReport, under
    `name`, naming every bad row, having written nothing. One recording at a time per process, so
    that two requests carrying the same ids (an exporter's retry racing its original) never both
    find them new: a process-wide lock suffices, as only the process holding the database file
    writes to it (the lock covers the transaction unless the caller holds one open)."""
    ctx.require(permission)
    with _recording, atomic(con):
        batch, notes = _validate(name, raw, _lookups(ctx, con), timezone, as_utc(now))
        result = _insert(con, ctx.org_id, batch)
    if result["unpriced"]:
        notes.append(
            f"{result['unpriced']:,} calls have no catalogue price (cost shown as unpriced);"
            " add the models to the price catalogue and recompute."
        )
    return {**result, "notes": notes}


def check_size(filename: str, size: int, max_mb: int = MAX_MB) -> None:
    """Refuse a file over the limit before reading it."""
    if size > max_mb * 1024 * 1024:
        raise ImportReport(
            filename,
            [
                (
                    None,
                    f"the file is {size / 2**20:,.0f} MB; the limit is {max_mb} MB:"
                    " split it and import the parts",
                )
            ],
        )


@dataclass(frozen=True)
class _Lookups:
    """What rows are checked against: the organisation's users and projects, the catalogue."""

    org_id: int
    org_name: str
    users: dict[str, int]  # lower-cased username and email -> id
    projects: dict[str, int]  # lower-cased name and UUID -> id
    archived: frozenset[int]  # projects that take no new calls
    patterns: list[tuple[str, str]]  # (provider, match_pattern) of the catalogue
    local_zone: str  # the server's zone: llm_calls.created_at is local time


def _lookups(ctx: Context, con: duckdb.DuckDBPyConnection) -> _Lookups:
    users: dict[str, int] = {}
    for user_id, username, email in con.execute(
        "SELECT id, username, email FROM users WHERE org_id = ? ORDER BY id", [ctx.org_id]
    ).fetchall():
        users.setdefault(username.lower(), user_id)
        if email:
            users.setdefault(email.strip().lower(), user_id)
    projects: dict[str, int] = {}
    archived = set()
    for project_id, name, uuid, is_archived in con.execute(  # the user's own project wins a shared name
        "SELECT id, name, uuid::VARCHAR, archived_at IS NOT NULL FROM projects WHERE org_id = ?"
        " ORDER BY owner_id = ? DESC, id",
        [ctx.org_id, ctx.user_id],
    ).fetchall():
        projects.setdefault(name.strip().lower(), project_id)
        projects[uuid] = project_id
        if is_archived:
            archived.add(project_id)
    patterns = con.execute(
        "SELECT DISTINCT provider, lower(match_pattern) FROM model_prices"
        " WHERE (org_id IS NULL OR org_id = ?) AND match_pattern <> '*'",
        [ctx.org_id],
    ).fetchall()
    zone = con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    return _Lookups(ctx.org_id, ctx.org_name, users, projects, frozenset(archived), patterns, zone)


def _validate(
    name: str, raw: pl.DataFrame, look: _Lookups, timezone: str | None, now: datetime
) -> tuple[pa.Table, list[str]]:
    """The rows as llm_calls columns (Arrow), and the notes; raises ImportReport."""
    missing = [c for c in ("timestamp", "user", "model") if c not in raw.columns]
    if not {*TOKENS, "total_tokens", "usage"} & set(raw.columns):
        missing.append("prompt_tokens / completion_tokens (or embedding_tokens, or usage)")
    if missing:
        raise ImportReport(name, [(None, f"missing column {c}") for c in missing])
    notes = []
    ignored = [c for c in raw.columns if c not in COLUMNS]
    if ignored:
        notes.append(f"Ignored columns: {', '.join(ignored)}.")
    if "cost" in raw.columns:
        notes.append("The cost column was ignored: costs are derived from the price catalogue.")
    problems = Problems()
    created = parse_timestamps(raw["timestamp"], timezone, look.local_zone, now, problems, notes)
    provider, model = _models(raw, look, problems, notes)
    operation = _choice(raw, "operation", OPERATIONS, problems)
    tokens = token_columns(raw, operation, problems, notes)
    columns = {
        "org_id": pl.repeat(look.org_id, raw.height, dtype=pl.Int32, eager=True),
        "user_id": _lookup(
            raw, "user", look.users, f"not a user of {look.org_name}", problems, required=True
        ),
        "project_id": _project(raw, look, problems),
        "provider": provider,
        "model": model,
        "operation_type": operation,
        **tokens,
        "latency_ms": parse_counts(raw["latency_ms"], "latency_ms", problems, whole=False)
        if "latency_ms" in raw.columns
        else pl.repeat(None, raw.height, dtype=pl.Int64, eager=True),
        "status": _choice(raw, "status", STATUSES, problems),
        "created_at": created,
        "external_id": _ids(raw, problems),
    }
    _currency(raw, problems)
    problems.raise_any(name)
    batch = pl.DataFrame(columns).with_columns(
        pl.col("user_id", "project_id", *TOKENS, "total_tokens", "latency_ms").cast(pl.Int32)
    )
    return batch.to_arrow(), notes


def _models(
    raw: pl.DataFrame, look: _Lookups, problems: Problems, notes: list[str]
) -> tuple[pl.Series, pl.Series]:
    """(provider, model): lower-cased, a provider prefix split off, a missing provider looked up;
    worked out once per distinct pair in the file."""
    none = pl.repeat(None, raw.height, dtype=pl.Utf8, eager=True)
    rows = pl.DataFrame(
        {
            "m": plain_text(raw["model"]),
            "p": plain_text(raw["provider"]) if "provider" in raw.columns else none,
        }
    )
    pairs = rows.unique()
    original, given = pairs["m"], clean_text(pairs["p"])
    model, provider = clean_text(original).str.to_lowercase(), given.str.to_lowercase()
    prefix = model.str.extract(r"^([a-z0-9_.-]+)/(.+)$", 1)
    split = prefix.is_not_null() & (provider.is_null() | (provider == prefix)).fill_null(False)
    provider = provider.fill_null(pl.select(pl.when(split).then(prefix)).to_series())
    model = pl.select(pl.when(split).then(model.str.extract(r"^[^/]+/(.+)$", 1)).otherwise(model)).to_series()
    inferred = _infer_providers(model.filter(provider.is_null()).drop_nulls().to_list(), look.patterns)
    guessed = provider.is_null() & model.is_in(list(inferred))
    pairs = pairs.with_columns(
        provider=provider.fill_null(model.replace_strict(inferred, default=None, return_dtype=pl.Utf8)),
        model=model,
        recased=(original.str.strip_chars().str.to_lowercase() != original).fill_null(False),
        split=split,
        lowered=(given != given.str.to_lowercase()).fill_null(False),
        guessed=guessed,
    )
    found = rows.join(pairs, on=["m", "p"], how="left", nulls_equal=True, maintain_order="left")
    problems.rows(found["model"].is_null(), "model", "missing")
    problems.rows(
        found["model"].is_not_null() & found["provider"].is_null(),
        "provider",
        "missing for model {}: add a provider column or write the model as provider/model",
        found["model"],
    )
    counts = [
        (found["recased"].sum(), "model names trimmed or lower-cased"),
        (found["split"].sum(), "provider prefixes split from the model ('openai/gpt-4o' -> openai, gpt-4o)"),
        (found["lowered"].sum(), "provider names lower-cased"),
        (
            found["guessed"].sum(),
            "providers taken from the price catalogue (the only provider pricing the model)",
        ),
    ]
    notes.extend(f"{n:,} {text}." for n, text in counts if n)
    return found["provider"], found["model"]


def _infer_providers(models: list[str], patterns: list[tuple[str, str]]) -> dict[str, str]:
    """Model -> the one provider whose catalogue rows match it (none when several do)."""
    found = {}
    for model in models:
        providers = {p for p, pattern in patterns if fnmatchcase(model, pattern)}
        if len(providers) == 1:
            found[model] = providers.pop()
    return found


def _choice(raw: pl.DataFrame, column: str, allowed: tuple[str, ...], problems: Problems) -> pl.Series:
    """A lower-cased choice among `allowed`; missing means the first."""
    if column not in raw.columns:
        return pl.repeat(allowed[0], raw.height, dtype=pl.Utf8, eager=True)
    value = clean_text(raw[column]).str.to_lowercase()
    problems.rows(
        value.is_not_null() & ~value.is_in(allowed),
        column,
        f"{{}} is not one of {', '.join(allowed)}",
        raw[column],
    )
    return value.fill_null(allowed[0])


def _lookup(
    raw: pl.DataFrame,
    column: str,
    ids: dict[str, int],
    unknown: str,
    problems: Problems,
    *,
    required: bool = False,
) -> pl.Series:
    """The id each row names (case-insensitively) in `ids`; null where none is given."""
    if column not in raw.columns:
        return pl.repeat(None, raw.height, dtype=pl.Int64, eager=True)
    key = clean_text(raw[column]).str.to_lowercase()
    found = key.replace_strict(ids, default=None, return_dtype=pl.Int64)
    if required:
        problems.rows(key.is_null(), column, "missing")
    problems.rows(key.is_not_null() & found.is_null(), column, f"{{}} is {unknown}", raw[column])
    return found


def _project(raw: pl.DataFrame, look: _Lookups, problems: Problems) -> pl.Series:
    """The project each row names; an archived one takes no new calls."""
    found = _lookup(raw, "project", look.projects, f"no such project in {look.org_name}", problems)
    if look.archived:
        problems.rows(
            found.is_in(list(look.archived)),
            "project",
            "{} is archived, so nothing can be added to it: unarchive it first",
            raw["project"],
        )
    return found


def _ids(raw: pl.DataFrame, problems: Problems) -> pl.Series:
    """The external call ids; a repeat within the file is a problem naming the first row."""
    if "id" not in raw.columns:
        return pl.repeat(None, raw.height, dtype=pl.Utf8, eager=True)
    ids = clean_text(raw["id"])
    repeated = ids.is_not_null() & ~ids.is_first_distinct()
    if repeated.any():
        first = (
            pl.DataFrame({"id": ids})
            .with_row_index("row", offset=1)
            .drop_nulls()
            .group_by("id")
            .agg(pl.col("row").min())
        )
        first_row = ids.replace_strict(first["id"], first["row"], default=None)
        shown = pl.select(pl.format("'{}' repeats row {}", ids, first_row)).to_series()
        problems.rows(repeated, "id", "{}", shown, formatted=True)
    return ids


def _currency(raw: pl.DataFrame, problems: Problems) -> None:
    if "currency" in raw.columns:
        value = clean_text(raw["currency"]).str.to_uppercase()
        problems.rows(
            value.is_not_null() & (value != "USD"),
            "currency",
            "{} is not supported: costs are derived in USD from the price catalogue",
            raw["currency"],
        )


def _insert(con: duckdb.DuckDBPyConnection, org_id: int, batch: pa.Table) -> dict:
    """Insert the rows whose id the organisation does not have yet, priced, into the rollups."""
    last = con.execute("SELECT coalesce(max(id), 0) FROM llm_calls").fetchall()[0][0]
    con.register("usage_import_batch", batch)
    try:
        inserted = con.execute(
            f"INSERT INTO llm_calls ({_INSERTED}, cost_source, cost_usd, currency)"
            f" SELECT {_INSERTED}, 'catalogue', cost_usd, currency"
            f" FROM ({prices.priced('usage_import_batch')}) b"
            " WHERE b.external_id IS NULL OR NOT EXISTS (SELECT 1 FROM llm_calls c"
            " WHERE c.org_id = ? AND c.external_id = b.external_id)"
            " ORDER BY b.created_at",  # in time order, as traffic arrives: scans by day skip more
            [org_id],
        ).fetchall()[0][0]
    finally:
        con.unregister("usage_import_batch")
    rollup.add(con, "id > ?", [last])
    unpriced = con.execute(
        "SELECT count(*) FROM llm_calls WHERE id > ? AND cost_usd IS NULL", [last]
    ).fetchall()
    return {"rows": inserted, "skipped_existing": batch.num_rows - inserted, "unpriced": unpriced[0][0]}
