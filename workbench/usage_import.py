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
    project       optional project name (or UUID) in the organisation.
    currency      optional; must be USD.
    cost          ignored (alias cost_usd): every call is priced from the catalogue.

Every problem names its data row (1-based) and column; the first 50 are reported and nothing is
written. Fixes that need no decision (model casing, provider prefixes, zones) are applied and
reported as notes.
"""

from __future__ import annotations

import io
import json
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from fnmatch import fnmatchcase
from pathlib import PurePath
from zoneinfo import ZoneInfo

import duckdb
import polars as pl
import pyarrow as pa

from workbench import prices, rollup, transcripts
from workbench.auth import Context
from workbench.db import atomic
from workbench.errors import InvalidInput
from workbench.transcripts import MAX_ERRORS, ImportReport

MAX_MB = 500
FORMATS = (".csv", ".jsonl", ".ndjson", ".json", ".parquet")
OPERATIONS = ("chat", "embedding", "analysis", "grounding", "explanation")
STATUSES = ("ok", "error")
FUTURE_SLACK = timedelta(minutes=5)
TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "embedding_tokens")
ALIASES = {"created_at": "timestamp", "operation_type": "operation", "cost_usd": "cost"}
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
USAGE_KEYS = (
    "prompt_tokens",
    "completion_tokens",
    "total_tokens",
    "prompt_tokens_details.cached_tokens",
    "input_tokens",
    "output_tokens",
    "cache_read_input_tokens",
    "cache_creation_input_tokens",
)
_INT_MAX = 2**31 - 1  # llm_calls' token columns are INTEGER
_ZONED = "%Y-%m-%dT%H:%M:%S%.f%:z"
_NAIVE = "%Y-%m-%dT%H:%M:%S%.f"
_ISO = r"^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2})(:\d{2})?(\.\d+)?\s*([Zz]|UTC|[+-]\d{2}(?::?\d{2})?)?$"
_EPOCH = r"^[+-]?\d+(?:\.\d+)?$"
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
        _check_zone(timezone)
    raw = read_log(name, data)
    with atomic(con):
        batch, notes = _validate(name, raw, _lookups(ctx, con), timezone, _utc(now))
        result = _insert(con, ctx.org_id, batch)
    if result["unpriced"]:
        notes.append(
            f"{result['unpriced']:,} calls have no catalogue price (cost shown as unpriced);"
            " add the models to the price catalogue and recompute."
        )
    return {"file": name, **result, "notes": notes, "seconds": round(time.perf_counter() - started, 2)}


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


def read_log(filename: str, data: bytes) -> pl.DataFrame:
    """The rows of a usage log as read (column names lower-cased, aliases resolved), nothing
    checked beyond the format. Raises ImportReport."""
    name = PurePath(filename).name
    suffix = ".parquet" if data[:4] == b"PAR1" else PurePath(name).suffix.lower()
    if suffix not in FORMATS:
        raise ImportReport(
            name, [(None, f"unsupported type {suffix or '(none)'}; use one of {', '.join(FORMATS)}")]
        )
    if not data or data.isspace():
        raise ImportReport(name, [(None, "the file is empty")])
    try:
        if suffix == ".parquet":
            frame = pl.read_parquet(io.BytesIO(data))
        elif suffix == ".csv":
            frame = pl.read_csv(io.BytesIO(_utf8(data)), infer_schema=False)
        else:
            frame = _json_frame(name, data)
    except (pl.exceptions.PolarsError, OSError, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportReport(name, [(None, f"not valid {suffix[1:].upper()}: {reason}")]) from None
    if frame.height == 0:
        raise ImportReport(name, [(None, "the file has no rows")])
    names = [ALIASES.get(c.strip().lower(), c.strip().lower()) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ImportReport(name, [(None, f"column {n!r} appears twice (aliases count)") for n in twice])
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _utf8(data: bytes) -> bytes:
    data = data.removeprefix(b"\xef\xbb\xbf")
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        return data.decode("latin-1").encode()


def _json_frame(name: str, data: bytes) -> pl.DataFrame:
    text = transcripts.decode(data)
    if text.lstrip().startswith("["):
        try:
            records = json.loads(text)
        except json.JSONDecodeError as exc:
            raise ImportReport(name, [(None, f"not valid JSON: {exc}")]) from None
    else:
        try:
            return pl.read_ndjson(io.BytesIO(_utf8(data)), infer_schema_length=None)
        except pl.exceptions.PolarsError:
            pass  # a bad line, or types polars cannot reconcile: read line by line below
        records, problems = [], []
        for number, line in enumerate((x for x in text.splitlines() if x.strip()), start=1):
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as exc:
                problems.append((number, f"not valid JSON: {exc.msg} at character {exc.pos}"))
        if problems:
            raise ImportReport(name, problems[:MAX_ERRORS])
    bad = [i for i, r in enumerate(records, start=1) if not isinstance(r, dict)]
    if bad:
        raise ImportReport(name, [(i, "expected an object, one per call") for i in bad[:MAX_ERRORS]])
    keys = list(dict.fromkeys(k for r in records for k in r))
    return pl.DataFrame(
        {k: [_scalar(r.get(k)) for r in records] for k in keys}, schema={k: pl.Utf8 for k in keys}
    )


def _scalar(value) -> str | None:
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (dict, list)):
        return json.dumps(value)
    return str(value)


class _Problems:
    """The rows found wrong so far: up to MAX_ERRORS per check, and how many in all."""

    def __init__(self) -> None:
        self.found: list[tuple[int | None, str]] = []
        self.total = 0

    def rows(
        self,
        mask: pl.Series,
        column: str,
        text: str,
        values: pl.Series | None = None,
        *,
        formatted: bool = False,
    ) -> None:
        """Record the rows where `mask` holds; `{}` in `text` shows the row's value (as it is when
        `formatted`)."""
        index = mask.fill_null(False).arg_true()
        if index.is_empty():
            return
        self.total += len(index)
        head = index.head(MAX_ERRORS)
        shown = values.gather(head).to_list() if values is not None else [None] * len(head)
        for i, value in zip(head.to_list(), shown, strict=True):
            self.found.append((i + 1, f"{column}: {text.format(value if formatted else _show(value))}"))

    def raise_any(self, filename: str) -> None:
        if not self.found:
            return
        found = sorted(self.found, key=lambda p: p[0] or 0)[:MAX_ERRORS]
        if self.total > len(found):
            found.append((None, f"{self.total - len(found):,} more problems not listed"))
        raise ImportReport(filename, found)


def _show(value) -> str:
    if isinstance(value, str) and re.fullmatch(r"\s*-?[\d.]+\s*", value):
        return value.strip()  # a number as text: shown as a number
    if isinstance(value, str):
        return repr(value if len(value) <= 40 else value[:37] + "...")
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


@dataclass(frozen=True)
class _Lookups:
    """What rows are checked against: the organisation's users and projects, the catalogue."""

    org_id: int
    org_name: str
    users: dict[str, int]  # lower-cased username and email -> id
    projects: dict[str, int]  # lower-cased name and UUID -> id
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
    for project_id, name, uuid in con.execute(  # the acting user's own project wins a shared name
        "SELECT id, name, uuid::VARCHAR FROM projects WHERE org_id = ? ORDER BY owner_id = ? DESC, id",
        [ctx.org_id, ctx.user_id],
    ).fetchall():
        projects.setdefault(name.strip().lower(), project_id)
        projects[uuid] = project_id
    patterns = con.execute(
        "SELECT DISTINCT provider, lower(match_pattern) FROM model_prices"
        " WHERE (org_id IS NULL OR org_id = ?) AND match_pattern <> '*'",
        [ctx.org_id],
    ).fetchall()
    zone = con.execute("SELECT current_setting('TimeZone')").fetchall()[0][0]
    return _Lookups(ctx.org_id, ctx.org_name, users, projects, patterns, zone)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    return (now if now.tzinfo else now.astimezone()).astimezone(UTC)


def _check_zone(timezone: str) -> None:
    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput(f"Unknown time zone {timezone!r}: use a name like Europe/Berlin or UTC.") from None


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
    problems = _Problems()
    created = _timestamps(raw["timestamp"], timezone, look.local_zone, now, problems, notes)
    provider, model = _models(raw, look, problems, notes)
    operation = _choice(raw, "operation", OPERATIONS, problems)
    tokens = _tokens(raw, operation, problems, notes)
    columns = {
        "org_id": pl.repeat(look.org_id, raw.height, dtype=pl.Int32, eager=True),
        "user_id": _lookup(
            raw, "user", look.users, f"not a user of {look.org_name}", problems, required=True
        ),
        "project_id": _lookup(raw, "project", look.projects, f"no such project in {look.org_name}", problems),
        "provider": provider,
        "model": model,
        "operation_type": operation,
        **tokens,
        "latency_ms": _counts(raw["latency_ms"], "latency_ms", problems, whole=False)
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


def _text(values: pl.Series) -> pl.Series:
    """Trimmed text, null where empty."""
    text = _plain(values).str.strip_chars()
    return pl.select(pl.when(text != "").then(text)).to_series()


def _given(values: pl.Series) -> pl.Series:
    """Where a value is given (not null, not blank text)."""
    if values.dtype == pl.Utf8:
        return (values.str.strip_chars() != "").fill_null(False)
    return values.is_not_null()


def _counts(values: pl.Series, column: str, problems: _Problems, *, whole: bool = True) -> pl.Series:
    """Non-negative numbers as Int64 (rounded unless `whole`); null where missing or refused."""
    if values.dtype.is_numeric():
        given, number = values.is_not_null(), values.cast(pl.Float64)
    else:
        text = _text(values)
        given, number = text.is_not_null(), text.cast(pl.Float64, strict=False)
    not_number = given & number.is_null()
    odd = ~not_number & given & (~number.is_finite() | (number != number.round() if whole else False))
    negative = ~not_number & ~odd & given & (number < 0)
    huge = ~not_number & ~odd & given & (number > _INT_MAX)
    problems.rows(not_number, column, "{} is not a number", values)
    problems.rows(odd, column, "{} is not a whole number", values)
    problems.rows(negative, column, "{} is negative", values)
    problems.rows(huge, column, "{} is too large", values)
    ok = given & ~not_number & ~odd & ~negative & ~huge
    return pl.select(pl.when(ok).then(number.round())).to_series().cast(pl.Int64)


def _usage(values: pl.Series, problems: _Problems) -> dict[str, pl.Series]:
    """The token counts in the `usage` objects, by key ('prompt_tokens_details.cached_tokens')."""
    found = {}
    if isinstance(values.dtype, pl.Struct):
        for key in USAGE_KEYS:
            field = values
            for part in key.split("."):
                if not isinstance(field.dtype, pl.Struct) or part not in {f.name for f in field.dtype.fields}:
                    break
                field = field.struct.field(part)
            else:
                found[key] = field
        return found
    text = _text(values)
    parsed = text.str.json_path_match("$")
    problems.rows(
        text.is_not_null() & (parsed.is_null() | ~parsed.str.starts_with("{")),
        "usage",
        "{} is not a JSON object",
        values,
    )
    for key in USAGE_KEYS:
        field = text.str.json_path_match(f"$.{key}")
        if field.null_count() < len(field):
            found[key] = field
    return found


def _tokens(raw: pl.DataFrame, operation: pl.Series, problems: _Problems, notes: list[str]) -> dict:
    """The token columns from the token columns or the usage objects (columns win), checked."""
    counts = {c: _counts(raw[c], c, problems) for c in (*TOKENS, "total_tokens") if c in raw.columns}
    usage = {}
    if "usage" in raw.columns:
        usage = {
            f"u.{k}": _counts(v, f"usage.{k}", problems) for k, v in _usage(raw["usage"], problems).items()
        }
    t = pl.DataFrame({**counts, **usage, "operation": operation})

    def col(name: str) -> pl.Expr:
        return pl.col(name) if name in t.columns else pl.lit(None, dtype=pl.Int64)

    anthropic_prompt = (
        col("u.input_tokens")
        + col("u.cache_read_input_tokens").fill_null(0)
        + col("u.cache_creation_input_tokens").fill_null(0)
    )
    t = t.select(
        pl.coalesce(col("prompt_tokens"), col("u.prompt_tokens"), anthropic_prompt).alias("prompt"),
        pl.coalesce(col("completion_tokens"), col("u.completion_tokens"), col("u.output_tokens")).alias(
            "completion"
        ),
        pl.coalesce(
            col("cached_tokens"),
            col("u.prompt_tokens_details.cached_tokens"),
            col("u.cache_read_input_tokens"),
        ).alias("cached"),
        col("embedding_tokens").alias("embedding"),
        pl.coalesce(col("total_tokens"), col("u.total_tokens")).alias("total_given"),
        pl.col("operation"),
        col("u.input_tokens").is_not_null().alias("anthropic"),
    )
    given = [_given(raw[c]) for c in (*TOKENS, "total_tokens", "usage") if c in raw.columns]
    given = pl.select(pl.any_horizontal(given)).to_series()
    problems.rows(~given, "prompt_tokens", "no token counts (give the token columns or a usage object)")
    t = t.with_columns(pl.col("prompt", "completion", "cached", "embedding").fill_null(0))
    # an embeddings API reports its input as prompt tokens: they are embedding tokens here
    moved = (
        (t["operation"] == "embedding")
        & (t["embedding"] == 0)
        & (t["completion"] == 0)
        & (t["prompt"] > 0)
        & (t["cached"] == 0)
    )
    t = t.with_columns(
        pl.when(moved).then(pl.col("prompt")).otherwise(pl.col("embedding")).alias("embedding"),
        pl.when(moved).then(0).otherwise(pl.col("prompt")).alias("prompt"),
    ).with_columns((pl.col("prompt") + pl.col("completion") + pl.col("embedding")).alias("total"))
    problems.rows(
        t["cached"] > t["prompt"], "cached_tokens", "{} is more than the prompt tokens", t["cached"]
    )
    wrong = t["total_given"].is_not_null() & (t["total_given"] != t["total"])
    shown = t.select(
        pl.format("{} is not prompt + completion + embedding tokens ({})", "total_given", "total")
    )
    problems.rows(wrong, "total_tokens", "{}", shown.to_series(), formatted=True)
    problems.rows(t["total"] > _INT_MAX, "total_tokens", "{} is too large", t["total"])
    if t["anthropic"].any():
        notes.append(
            f"{t['anthropic'].sum():,} Anthropic usage objects: cache reads and writes counted"
            " as prompt tokens, cache reads as cached tokens (cache writes at the input rate)."
        )
    if moved.any():
        notes.append(f"{moved.sum():,} embedding calls: their prompt tokens counted as embedding tokens.")
    return {
        "prompt_tokens": t["prompt"],
        "completion_tokens": t["completion"],
        "cached_tokens": t["cached"],
        "embedding_tokens": t["embedding"],
        "total_tokens": t["total"],
    }


def _timestamps(
    values: pl.Series,
    timezone: str | None,
    local_zone: str,
    now: datetime,
    problems: _Problems,
    notes: list[str],
) -> pl.Series:
    """Naive server-local times of the timestamp column; null where refused."""
    n = len(values)
    zoned = pl.repeat(None, n, dtype=pl.Datetime("us", "UTC"), eager=True)
    naive = pl.repeat(None, n, dtype=pl.Datetime("us"), eager=True)
    epoch = pl.repeat(None, n, dtype=pl.Float64, eager=True)
    dtype = values.dtype
    if isinstance(dtype, pl.Datetime) and dtype.time_zone:
        given, zoned = values.is_not_null(), values.dt.convert_time_zone("UTC").dt.cast_time_unit("us")
    elif isinstance(dtype, (pl.Datetime, pl.Date)):
        given, naive = values.is_not_null(), values.cast(pl.Datetime("us"))
    elif dtype.is_numeric():
        given, epoch = values.is_not_null(), values.cast(pl.Float64)
    else:
        text = _text(values)
        given = text.is_not_null()
        epoch = pl.select(pl.when(text.str.contains(_EPOCH)).then(text)).to_series().cast(pl.Float64)
        zoned = text.str.to_datetime(_ZONED, strict=False, time_unit="us").dt.convert_time_zone("UTC")
        rest = (given & epoch.is_null() & zoned.is_null()).arg_true()
        if len(rest):
            z, nv = _parse_iso(text.gather(rest))
            zoned, naive = zoned.scatter(rest, z), naive.scatter(rest, nv)
    from_epoch = (
        (epoch * 1e6).round().cast(pl.Int64, strict=False).cast(pl.Datetime("us")).dt.replace_time_zone("UTC")
    )
    zoned = zoned.fill_null(from_epoch)
    problems.rows(~given, "timestamp", "missing")
    problems.rows(
        given & zoned.is_null() & naive.is_null(),
        "timestamp",
        "{} is not an ISO 8601 time or epoch seconds",
        values,
    )
    if timezone and naive.is_not_null().any():
        try:
            placed = naive.dt.replace_time_zone(timezone, ambiguous="earliest", non_existent="null")
        except pl.exceptions.PolarsError:
            raise InvalidInput(
                f"Unknown time zone {timezone!r}: use a name like Europe/Berlin or UTC."
            ) from None
        problems.rows(
            naive.is_not_null() & placed.is_null(),
            "timestamp",
            f"{{}} does not exist in {timezone} (the clocks went forward)",
            values,
        )
        notes.append(f"{naive.is_not_null().sum():,} timestamps without a zone read as {timezone}.")
        zoned = zoned.fill_null(placed.dt.convert_time_zone("UTC"))
    else:
        problems.rows(
            naive.is_not_null(),
            "timestamp",
            "{} has no time zone: write it with one (...Z or ...+01:00) or name the file's zone (--timezone)",
            values,
        )
    future = zoned.dt.replace_time_zone(None) > (now + FUTURE_SLACK).replace(tzinfo=None)
    millis = epoch.is_not_null() & (epoch > 1e11)
    problems.rows(future & millis, "timestamp", "{} looks like epoch milliseconds: give seconds", values)
    problems.rows(future & ~millis, "timestamp", "{} is more than 5 minutes in the future", values)
    converted = (given & naive.is_null() & zoned.is_not_null()).sum()
    if converted:
        notes.append(
            f"{converted:,} timestamps converted from their zone to the server's local time ({local_zone})."
        )
    try:
        return zoned.dt.convert_time_zone(local_zone).dt.replace_time_zone(None)
    except pl.exceptions.PolarsError:  # a zone polars does not know: the server's current offset
        return zoned.dt.replace_time_zone(None) + datetime.now().astimezone().utcoffset()


def _parse_iso(text: pl.Series) -> tuple[pl.Series, pl.Series]:
    """(UTC instant, naive time) of ISO 8601 strings in the less common spellings: 'Z', +0100,
    a space for the T, no seconds; anything else through Python's parser."""
    parts = text.str.extract_groups(_ISO).struct.unnest()
    d, hm, sec, frac, zone = (pl.col(c) for c in parts.columns)
    zone = (
        zone.str.replace(r"^(?:[Zz]|UTC)$", "+00:00")
        .str.replace(r"^([+-]\d{2})(\d{2})$", "${1}:${2}")
        .str.replace(r"^([+-]\d{2})$", "${1}:00")
    )
    base = pl.concat_str([d, pl.lit("T"), hm, sec.fill_null(":00"), frac.fill_null("")])
    parsed = parts.select(
        pl.concat_str([base, zone])
        .str.to_datetime(_ZONED, strict=False, time_unit="us")
        .dt.convert_time_zone("UTC")
        .alias("zoned"),
        pl.when(zone.is_null())
        .then(base)
        .str.to_datetime(_NAIVE, strict=False, time_unit="us")
        .alias("naive"),
    )
    zoned, naive = parsed["zoned"], parsed["naive"]
    left = (text.is_not_null() & zoned.is_null() & naive.is_null()).arg_true()
    if len(left):
        more_zoned, more_naive = [], []
        for value in text.gather(left).to_list():
            try:
                when = datetime.fromisoformat(value)
            except ValueError:
                when = None
            aware = when is not None and when.tzinfo is not None
            more_zoned.append(when.astimezone(UTC) if aware else None)
            more_naive.append(when if when is not None and not aware else None)
        zoned = zoned.scatter(left, pl.Series(more_zoned, dtype=pl.Datetime("us", "UTC")))
        naive = naive.scatter(left, pl.Series(more_naive, dtype=pl.Datetime("us")))
    return zoned, naive


def _models(
    raw: pl.DataFrame, look: _Lookups, problems: _Problems, notes: list[str]
) -> tuple[pl.Series, pl.Series]:
    """(provider, model): lower-cased, a provider prefix split off, a missing provider looked up;
    worked out once per distinct pair in the file."""
    none = pl.repeat(None, raw.height, dtype=pl.Utf8, eager=True)
    rows = pl.DataFrame(
        {"m": _plain(raw["model"]), "p": _plain(raw["provider"]) if "provider" in raw.columns else none}
    )
    pairs = rows.unique()
    original, given = pairs["m"], _text(pairs["p"])
    model, provider = _text(original).str.to_lowercase(), given.str.to_lowercase()
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


def _plain(values: pl.Series) -> pl.Series:
    """Text as given (nested values as JSON)."""
    if values.dtype.is_nested():
        return pl.Series([None if v is None else json.dumps(v) for v in values.to_list()], dtype=pl.Utf8)
    return values.cast(pl.Utf8)


def _infer_providers(models: list[str], patterns: list[tuple[str, str]]) -> dict[str, str]:
    """Model -> the one provider whose catalogue rows match it (none when several do)."""
    found = {}
    for model in models:
        providers = {p for p, pattern in patterns if fnmatchcase(model, pattern)}
        if len(providers) == 1:
            found[model] = providers.pop()
    return found


def _choice(raw: pl.DataFrame, column: str, allowed: tuple[str, ...], problems: _Problems) -> pl.Series:
    """A lower-cased choice among `allowed`; missing means the first."""
    if column not in raw.columns:
        return pl.repeat(allowed[0], raw.height, dtype=pl.Utf8, eager=True)
    value = _text(raw[column]).str.to_lowercase()
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
    problems: _Problems,
    *,
    required: bool = False,
) -> pl.Series:
    """The id each row names (case-insensitively) in `ids`; null where none is given."""
    if column not in raw.columns:
        return pl.repeat(None, raw.height, dtype=pl.Int64, eager=True)
    key = _text(raw[column]).str.to_lowercase()
    found = key.replace_strict(ids, default=None, return_dtype=pl.Int64)
    if required:
        problems.rows(key.is_null(), column, "missing")
    problems.rows(key.is_not_null() & found.is_null(), column, f"{{}} is {unknown}", raw[column])
    return found


def _ids(raw: pl.DataFrame, problems: _Problems) -> pl.Series:
    """The external call ids; a repeat within the file is a problem naming the first row."""
    if "id" not in raw.columns:
        return pl.repeat(None, raw.height, dtype=pl.Utf8, eager=True)
    ids = _text(raw["id"])
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


def _currency(raw: pl.DataFrame, problems: _Problems) -> None:
    if "currency" in raw.columns:
        value = _text(raw["currency"]).str.to_uppercase()
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
