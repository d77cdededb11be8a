"""Reading and cleaning a usage log's columns for `usage_import`: the file's format (CSV, JSONL or a
JSON array, Parquet), timestamps and token counts, with every problem collected by row and column.
The columns themselves are documented in `workbench.usage.imports`. Text is decoded by
`user_files.decode` (UTF-16 with its byte-order mark too, tab-separated as Excel writes it), JSON
nested past `user_files.MAX_DEPTH` is refused, and a CSV's cells lose the quote the workbench's
exports put before a formula character (`csv_safe.restore`).
"""

from __future__ import annotations

import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import PurePath
from zoneinfo import ZoneInfo

import polars as pl

from workbench import csv_safe, user_files
from workbench.errors import MAX_ERRORS, ImportReport, InvalidInput

FORMATS = (".csv", ".jsonl", ".ndjson", ".json", ".parquet")
FUTURE_SLACK = timedelta(minutes=5)
TOKENS = ("prompt_tokens", "completion_tokens", "cached_tokens", "embedding_tokens")
ALIASES = {"created_at": "timestamp", "operation_type": "operation", "cost_usd": "cost"}
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
            frame = csv_safe.restored(_csv_frame(user_files.decode(data)))
        else:
            frame = _json_frame(name, data)
    except (pl.exceptions.PolarsError, pl.exceptions.PanicException, OSError, ValueError) as exc:
        # a damaged Parquet file can make polars' reader panic, not raise
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise ImportReport(name, [(None, f"not valid {suffix[1:].upper()}: {reason}")]) from None
    if frame.height == 0:
        raise ImportReport(name, [(None, "the file has no rows")])
    deep = [c for c, dtype in frame.schema.items() if _depth(dtype) >= user_files.MAX_DEPTH]
    if deep:  # a JSONL or Parquet file polars read: refused as the JSON that Python reads is
        too_deep = f"is nested more than {user_files.MAX_DEPTH} levels deep"
        raise ImportReport(name, [(None, f"column {c!r} {too_deep}") for c in deep])
    names = [ALIASES.get(c.strip().lower(), c.strip().lower()) for c in frame.columns]
    twice = sorted({n for n in names if names.count(n) > 1})
    if twice:
        raise ImportReport(name, [(None, f"column {n!r} appears twice (aliases count)") for n in twice])
    return frame.rename(dict(zip(frame.columns, names, strict=True)))


def _csv_frame(text: str) -> pl.DataFrame:
    """Every column as text, with the header's separator (Excel's "Unicode text" uses tabs)."""
    return pl.read_csv(io.BytesIO(text.encode()), separator=user_files.separator(text), infer_schema=False)


def _depth(dtype: pl.DataType) -> int:
    """How many lists and structs a column's values nest (0 for a plain column)."""
    depth, level = 0, [dtype]
    while level:
        inner = []
        for d in level:
            if isinstance(d, pl.List | pl.Array):
                inner.append(d.inner)
            elif isinstance(d, pl.Struct):
                inner.extend(f.dtype for f in d.fields)
        depth, level = depth + bool(inner), inner
    return depth


def _json_frame(name: str, data: bytes) -> pl.DataFrame:
    text = user_files.decode(data)
    if text.lstrip().startswith("["):
        try:
            records = user_files.load_json(text)
        except ValueError as exc:
            raise ImportReport(name, [(None, f"not valid JSON: {exc}")]) from None
    else:
        if not user_files.may_nest_too_deep(text):  # polars would spend seconds on a deep schema
            try:
                return pl.read_ndjson(io.BytesIO(text.encode()), infer_schema_length=None)
            except pl.exceptions.PolarsError:
                pass  # a bad line, or types polars cannot reconcile: read line by line below
        records, problems = [], []
        for number, line in enumerate((x for x in text.splitlines() if x.strip()), start=1):
            try:
                records.append(user_files.load_json(line))
            except json.JSONDecodeError as exc:
                problems.append((number, f"not valid JSON: {exc.msg} at character {exc.pos}"))
            except ValueError as exc:  # nested too deep
                problems.append((number, f"not valid JSON: {exc}"))
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


class Problems:
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
        """Raise ImportReport with the problems found, by row, if there are any."""
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


def clean_text(values: pl.Series) -> pl.Series:
    """Trimmed text, null where empty."""
    text = plain_text(values).str.strip_chars()
    return pl.select(pl.when(text != "").then(text)).to_series()


def plain_text(values: pl.Series) -> pl.Series:
    """Text as given (nested values as JSON)."""
    if values.dtype.is_nested():
        return pl.Series([None if v is None else json.dumps(v) for v in values.to_list()], dtype=pl.Utf8)
    return values.cast(pl.Utf8)


def _given(values: pl.Series) -> pl.Series:
    """Where a value is given (not null, not blank text)."""
    if values.dtype == pl.Utf8:
        return (values.str.strip_chars() != "").fill_null(False)
    return values.is_not_null()


def as_utc(now: datetime | None) -> datetime:
    """`now` as an aware UTC time (naive = server time); the current time when None."""
    if now is None:
        return datetime.now(UTC)
    return (now if now.tzinfo else now.astimezone()).astimezone(UTC)


def check_zone(timezone: str) -> None:
    """Refuse a time zone name that is not in the zone database (InvalidInput)."""
    try:
        ZoneInfo(timezone)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        raise InvalidInput(f"Unknown time zone {timezone!r}: use a name like Europe/Berlin or UTC.") from None


def parse_timestamps(
    values: pl.Series,
    timezone: str | None,
    local_zone: str,
    now: datetime,
    problems: Problems,
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
        text = clean_text(values)
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


def parse_counts(values: pl.Series, column: str, problems: Problems, *, whole: bool = True) -> pl.Series:
    """Non-negative numbers as Int64 (rounded unless `whole`); null where missing or refused."""
    if values.dtype.is_numeric():
        given, number = values.is_not_null(), values.cast(pl.Float64)
    else:
        text = clean_text(values)
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


def _usage(values: pl.Series, problems: Problems) -> dict[str, pl.Series]:
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
    text = clean_text(values)
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


def token_columns(raw: pl.DataFrame, operation: pl.Series, problems: Problems, notes: list[str]) -> dict:
    """The token columns from the token columns or the usage objects (columns win), checked."""
    counts = {c: parse_counts(raw[c], c, problems) for c in (*TOKENS, "total_tokens") if c in raw.columns}
    usage = {}
    if "usage" in raw.columns:
        usage = {
            f"u.{k}": parse_counts(v, f"usage.{k}", problems)
            for k, v in _usage(raw["usage"], problems).items()
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
