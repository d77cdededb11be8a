"""Tabular datasets for churn and forecasts: register a CSV or Parquet file (copied into the data home,
seed 000's `datasets` table), read it back as a polars frame, profile it, and check a frame is fit for
a churn target or a time series before a trainer touches it.

A dataset's file is read only from its organisation's folder in the data home (`dataset_path`): a
stored path is data, and a crafted or stale one must not turn a download into any file of the server."""

from __future__ import annotations

import io
import re
from datetime import datetime
from pathlib import Path

import duckdb
import polars as pl

from workbench import settings as settings_mod
from workbench import user_files
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_one
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.settings import Settings
from workbench.teamdb import TeamCursor

EXTENSIONS = {".csv": "csv", ".tsv": "csv", ".parquet": "parquet", ".pq": "parquet"}
DATE_SHARE = 0.95  # a text column is a date column when this share of its values parse as dates
# Day-first and month-first are ambiguous; each is tried whole and the one parsing the most values wins.
DATE_FORMATS = ("%Y/%m/%d", "%d/%m/%Y", "%m/%d/%Y", "%d.%m.%Y")
ISO_DAY = r"^(\d{4}-\d{1,2}-\d{1,2})(?:[ T].*)?$"  # the day of an ISO date or timestamp
IDENTIFIER_MIN_ROWS = 40  # below this, a text column with a distinct value per row may be a real feature


def register_file(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    path_or_bytes: str | Path | bytes,
    name: str,
    *,
    filename: str | None = None,
) -> dict:
    """Copy a CSV or Parquet file into the data home and register it as an upload dataset."""
    ctx.require("datasets:write")
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("Give the dataset a name.")
    if isinstance(path_or_bytes, bytes):
        data, filename = path_or_bytes, filename or "upload"
    else:
        path = Path(path_or_bytes)
        filename = filename or path.name
        _check_size(filename, path.stat().st_size, settings)
        data = path.read_bytes()
    _check_size(filename, len(data), settings)
    fmt = _format_of(filename, data)
    frame = _read(filename, data, fmt)
    if frame.width == 0:
        raise InvalidInput(f"{filename} has no columns.")
    if frame.height == 0:
        raise InvalidInput(f"{filename} has no rows (only a header); a dataset needs at least one row.")
    if fetch_one(con, "SELECT 1 FROM datasets WHERE org_id = ? AND name = ?", [ctx.org_id, name]):
        raise InvalidInput(f"A dataset named {name!r} already exists; choose another name.")
    folder = dataset_folder(settings, ctx.org_id) / "datasets"
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "dataset"
    target = folder / f"{slug}-{datetime.now():%Y%m%d-%H%M%S-%f}.{fmt}"
    target.write_bytes(data)
    try:
        with atomic(con):
            row = fetch_one(
                con,
                "INSERT INTO datasets (org_id, name, file_path, source_type, file_format, num_rows,"
                " created_by) VALUES (?, ?, ?, 'upload', ?, ?, ?)"
                " RETURNING uuid::VARCHAR AS uuid, name, file_path, source_type, file_format, num_rows",
                [ctx.org_id, name, str(target), fmt, frame.height, ctx.user_id],
            )
    except duckdb.ConstraintException:
        target.unlink(missing_ok=True)
        raise InvalidInput(f"A dataset named {name!r} already exists; choose another name.") from None
    except BaseException:
        target.unlink(missing_ok=True)  # no file without its dataset row
        raise
    return row | {"filename": filename, "num_columns": frame.width, "columns": frame.columns}


def dataset_folder(settings: Settings, org_id: int) -> Path:
    """The organisation's folder of dataset files in the data home: every dataset file the workbench
    writes lies in it, and none is read from anywhere else."""
    return settings.exports_dir / f"org-{int(org_id)}"


def dataset_path(
    ctx: Context, con: duckdb.DuckDBPyConnection, row: dict, settings: Settings | None = None
) -> Path:
    """The file of a dataset row of `ctx`'s organisation, symlinks resolved; NotAllowed when it lies
    outside the organisation's dataset folder (an absolute path, '..', a link, another
    organisation's file). Without `settings`, those of the database `con` is open on."""
    settings = settings or settings_of(con)
    folder = dataset_folder(settings, ctx.org_id).resolve()
    try:
        path = (settings.home / row["file_path"]).resolve()  # an absolute stored path stays absolute
    except (OSError, ValueError, RuntimeError):  # a NUL byte, a loop of links: no file to read
        path = None
    if path is None or not path.is_relative_to(folder):
        raise NotAllowed(
            f"The file of dataset {row['name']!r} lies outside your organisation's datasets folder in the"
            f" data home ({row['file_path']}), so the workbench does not read it. Unregister the dataset"
            " and register its file again."
        )
    return path


def settings_of(con: duckdb.DuckDBPyConnection) -> Settings:
    """The settings of the data home whose database `con` is open on: this process's own (the app's,
    the CLI's) when they name that database file, else the default layout's around the file."""
    configured = settings_mod.from_env()
    if isinstance(con, TeamCursor):  # no file: the team store knows the home it was opened for
        database = str(con.store.path)
    else:
        (database,) = con.execute(
            "SELECT path FROM duckdb_databases() WHERE database_name = current_database()"
        ).fetchone()
    if database is None or Path(database).resolve() == configured.db_path:
        return configured
    return Settings(home=Path(database).resolve().parent)


def load_frame(
    ctx: Context, con: duckdb.DuckDBPyConnection, name_or_uuid: str, *, settings: Settings | None = None
) -> pl.DataFrame:
    """A registered tabular dataset of the acting user's organisation, as a polars frame, typed
    (see `typed`)."""
    return typed(_as_stored(ctx, con, name_or_uuid, settings))[0]


def _as_stored(ctx: Context, con: duckdb.DuckDBPyConnection, name_or_uuid: str,
               settings: Settings | None) -> pl.DataFrame:
    """The dataset's file as its format holds it (before `typed`)."""
    ctx.require("datasets:read")
    row = _dataset(ctx, con, name_or_uuid)
    path = dataset_path(ctx, con, row, settings)
    if not path.is_file():
        raise NotFound(f"The file of dataset {row['name']!r} is gone ({path}); register it again.")
    fmt = (row["file_format"] or "").lower()
    if fmt == "jsonl":
        return pl.read_ndjson(path)
    if fmt not in ("csv", "parquet"):
        raise InvalidInput(f"Dataset {row['name']!r} is {fmt or 'of no known format'}, not CSV or Parquet.")
    return _read(path.name, path.read_bytes(), fmt)


def typed(frame: pl.DataFrame) -> tuple[pl.DataFrame, dict[str, dict]]:
    """The frame as a data scientist reads it: blank and whitespace-only text is a missing value,
    and a text column whose other values are all numbers is numeric (integers when they all are).
    Returns the frame and, by column, what was changed: {"blanks": n, "to": "number"|"integer"|None}."""
    changes, columns = {}, []
    for name, dtype in frame.schema.items():
        column = frame.get_column(name)
        if dtype != pl.String:
            columns.append(column)
            continue
        text = column.str.strip_chars()
        blanks = int((text == "").sum())
        text = text.replace("", None) if blanks else text
        known = text.len() - text.null_count()
        to = None
        for kind, target in (("integer", pl.Int64), ("number", pl.Float64)):
            cast = text.cast(target, strict=False)
            if known and cast.null_count() == text.null_count():
                column, to = cast, kind
                break
        else:
            if blanks:
                column = column.set(column.str.strip_chars() == "", None)
        if blanks or to:
            changes[name] = {"blanks": blanks, "to": to}
        columns.append(column.alias(name))
    return pl.DataFrame(columns), changes


def is_identifier(frame: pl.DataFrame, column: str) -> bool:
    """An id column (named id or *_id, or text with a distinct value per row) carries no signal:
    training leaves it out, and the profile says so."""
    name = column.lower()
    if name in ("id", "uuid") or name.endswith("_id"):
        return True
    return (
        frame.schema[column] == pl.String
        and frame.height > IDENTIFIER_MIN_ROWS
        and frame.get_column(column).n_unique() == frame.height
    )


def profile(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    name_or_uuid: str,
    target: str | None = None,
    *,
    settings: Settings | None = None,
) -> dict:
    """Rows, per-column types and missing values, the target's balance, and column suggestions."""
    row = _dataset(ctx, con, name_or_uuid)
    frame = _as_stored(ctx, con, row["uuid"], settings)
    return {"name": row["name"], "uuid": row["uuid"]} | profile_frame(frame, target)


def profile_frame(frame: pl.DataFrame, target: str | None = None) -> dict:
    """The profile of a frame: see `profile`. Distinct counts leave out missing values. Each column
    says what reading it changed (`blanks` read as missing, `read_as` a number) and whether it is an
    identifier (left out of training); `notes` says the same in words."""
    if target is not None and target not in frame.columns:
        raise InvalidInput(f"There is no column {target!r}; the columns are {_names(frame.columns)}.")
    frame, changes = typed(frame)
    columns = [_column_profile(frame[name]) | {"blanks": changes.get(name, {}).get("blanks", 0),
                                               "read_as": changes.get(name, {}).get("to"),
                                               "identifier": name != target and is_identifier(frame, name)}
               for name in frame.columns]
    balance = None
    if target is not None:
        counts = frame[target].drop_nulls().value_counts(sort=True, name="count")
        known = max(frame.height - frame[target].null_count(), 1)
        balance = [
            {"value": value, "count": n, "share": round(n / known, 4)} for value, n in counts.iter_rows()
        ]
    dates = [n for n in frame.columns if _is_date_column(frame[n])]
    return {
        "rows": frame.height,
        "columns": columns,
        "notes": _notes(columns),
        "target": target,
        "target_balance": balance,
        "suggestions": {
            "binary_targets": [c["name"] for c in columns if c["distinct"] == 2],
            "date_columns": dates,
            "value_columns": [c["name"] for c in columns if c["numeric"] and not c["all_missing"]],
            "series_columns": _series_columns(frame, dates[0], columns) if dates else [],
        },
    }


def _series_columns(frame: pl.DataFrame, date: str, columns: list[dict]) -> list[str]:
    """Text columns that name series of `date`: when dates repeat, those with no missing value and
    at most one row per name and date (fewest names first)."""
    if not frame[date].is_duplicated().any():
        return []
    names = [c for c in columns if not c["numeric"] and c["name"] != date and c["missing"] == 0
             and 1 < c["distinct"] < frame.height]
    return [c["name"] for c in sorted(names, key=lambda c: c["distinct"])
            if not frame.select(date, c["name"]).is_duplicated().any()]


def _notes(columns: list[dict]) -> list[str]:
    """What reading the file changed, and which columns training leaves out, in words."""
    notes = []
    for c in columns:
        did = []
        if c["blanks"]:
            did.append(f"{c['blanks']:,} blank value{'s' * (c['blanks'] != 1)} read as missing")
        if c["read_as"]:
            did.append(f"read as {'whole numbers' if c['read_as'] == 'integer' else 'numbers'} (the file has"
                       " them as text)")
        if c["identifier"]:
            did.append("an identifier (a distinct value per row): left out of training")
        if did:
            notes.append(f"{c['name']}: " + "; ".join(did) + ".")
    return notes


def check_binary_target(frame: pl.DataFrame, target: str) -> list:
    """The two classes of a churn target (sorted); rows missing the target are for the trainer to drop."""
    _require_columns(frame, [target])
    _require_rows(frame)
    column = frame[target]
    if column.null_count() == column.len():
        raise InvalidInput(f"The target column {target!r} is missing in every row.")
    classes = column.drop_nulls().unique().sort().to_list()
    if len(classes) == 1:
        raise InvalidInput(
            f"The target column {target!r} has only one class ({classes[0]}); churn needs two."
        )
    if len(classes) > 2:
        shown = ", ".join(repr(v) for v in classes[:5]) + (", ..." if len(classes) > 5 else "")
        raise InvalidInput(
            f"The target column {target!r} has {len(classes)} classes ({shown}); churn needs exactly two,"
            " such as 0/1 or yes/no."
        )
    return classes


def check_series(
    frame: pl.DataFrame,
    date_col: str,
    value_col: str,
    series_col: str | None = None,
    min_length: int | None = None,
) -> pl.DataFrame:
    """The frame as (series, date, value) sorted by series and date, dates as times (pl.Datetime, at
    midnight for plain dates) and values as Float64, rows missing a date or value dropped;
    InvalidInput when it cannot be a series (one value per time)."""
    keys = [series_col] if series_col else []
    _require_columns(frame, [*keys, date_col, value_col])
    _require_rows(frame)
    for name in (*keys, date_col, value_col):
        if frame[name].null_count() == frame.height:
            raise InvalidInput(f"Column {name!r} is missing in every row.")
    dates = _as_times(frame[date_col])
    failed = frame[date_col].filter(dates.is_null() & frame[date_col].is_not_null())
    if not isinstance(dates.dtype, pl.Datetime) or failed.len():
        examples = ", ".join(repr(str(v)) for v in failed.unique(maintain_order=True).head(3).to_list())
        raise InvalidInput(
            f"Column {date_col!r} is not a date column: {failed.len()} of {frame.height} values do not"
            f" parse as dates (e.g. {examples}); use YYYY-MM-DD, with HH:MM after it for times of day."
        )
    values = _as_numbers(frame[value_col])
    cleaned = (
        frame.select(*keys, date_col, value_col)
        .with_columns(dates.alias(date_col), values.alias(value_col))
        .drop_nulls()
        .sort([*keys, date_col])
    )
    if cleaned.is_empty():
        raise InvalidInput(f"No row has both a {date_col!r} and a {value_col!r}.")
    _check_duplicates(cleaned, keys, date_col)
    if min_length:
        lengths = cleaned.group_by(keys or pl.lit("all"), maintain_order=True).len()
        for *key, length in lengths.iter_rows():
            if length < min_length:
                which = f"Series {key[0]!r}" if series_col else "The series"
                raise InvalidInput(
                    f"{which} has {length} dated values; it needs at least {min_length} (a full season)."
                )
    return cleaned


def _dataset(ctx: Context, con: duckdb.DuckDBPyConnection, name_or_uuid: str) -> dict:
    ctx.require("datasets:read")
    row = fetch_one(
        con,
        "SELECT uuid::VARCHAR AS uuid, name, file_path, file_format FROM datasets"
        " WHERE org_id = ? AND (uuid::VARCHAR = ? OR name = ?) ORDER BY name = ? DESC LIMIT 1",
        [ctx.org_id, str(name_or_uuid), str(name_or_uuid), str(name_or_uuid)],
    )
    if row is None:
        raise NotFound(f"No dataset {name_or_uuid!r} in your organisation.")
    return row


def _check_size(filename: str, size: int, settings: Settings) -> None:
    if size > settings.upload_max_mb * 1024 * 1024:
        raise InvalidInput(
            f"{filename} is {size / 1024 / 1024:.1f} MB; the largest accepted file is"
            f" {settings.upload_max_mb} MB."
        )


def _format_of(filename: str, data: bytes) -> str:
    if data[:4] == b"PAR1":
        return "parquet"
    suffix = Path(filename).suffix.lower()
    if suffix in EXTENSIONS:
        return EXTENSIONS[suffix]
    if suffix:
        raise InvalidInput(f"{filename} is not a CSV or Parquet file; register a .csv or .parquet file.")
    return "csv"


def _read(filename: str, data: bytes, fmt: str) -> pl.DataFrame:
    """Parse the bytes; CSV as UTF-16/32 (by its mark), UTF-8 or else Latin-1, with the header's
    separator."""
    if not data.strip():
        raise InvalidInput(f"{filename} is empty.")
    if fmt == "parquet":
        try:
            return pl.read_parquet(io.BytesIO(data))
        except (Exception, pl.exceptions.PanicException) as exc:  # a damaged file can panic polars' reader
            raise InvalidInput(f"{filename} could not be read as Parquet: {_first_line(exc)}") from None
    try:
        text = user_files.decode(data)  # UTF-16/32 by their byte-order mark, UTF-8, else Latin-1
    except ValueError as exc:
        raise InvalidInput(f"{filename}: {exc}.") from None
    if "\x00" in text[:65536]:
        raise InvalidInput(f"{filename} is not a CSV file: it holds binary data, not text.")
    header = text.split("\n", 1)[0]
    separator = max(",;\t|", key=header.count) if any(s in header for s in ",;\t|") else ","
    try:
        return pl.read_csv(io.StringIO(text), separator=separator, infer_schema_length=None)
    except (Exception, pl.exceptions.PanicException) as exc:
        raise InvalidInput(f"{filename} could not be read as CSV: {_first_line(exc)}") from None


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def _column_profile(column: pl.Series) -> dict:
    missing = column.null_count()
    numeric = column.dtype.is_numeric()
    known = column.drop_nulls()
    stats = {"min": None, "mean": None, "max": None}
    if numeric and known.len():
        stats = {"min": known.min(), "mean": round(float(known.mean()), 6), "max": known.max()}
    return {
        "name": column.name,
        "dtype": str(column.dtype),
        "missing": missing,
        "missing_share": round(missing / column.len(), 4) if column.len() else 0.0,
        "distinct": known.n_unique(),
        "numeric": numeric,
        **stats,
        "all_missing": missing == column.len(),
    }


def _as_dates(column: pl.Series) -> pl.Series:
    """Dates of a Date, Datetime or text column (null where a value does not parse)."""
    if column.dtype == pl.Date:
        return column
    if isinstance(column.dtype, pl.Datetime):
        return column.dt.date()
    if column.dtype != pl.String:
        return pl.Series(column.name, [None] * column.len(), dtype=pl.Int8)  # not dates at all
    text = column.str.strip_chars()
    best = text.str.extract(ISO_DAY).str.to_date("%Y-%m-%d", strict=False)
    first_token = text.str.extract(r"^(\S+)")
    for fmt in DATE_FORMATS:
        parsed = first_token.str.to_date(fmt, strict=False)
        if parsed.null_count() < best.null_count():
            best = parsed
    return best.alias(column.name)


def _as_times(column: pl.Series) -> pl.Series:
    """Times (pl.Datetime in microseconds, naive) of a Date, Datetime or text column: ISO timestamps
    keep their time of day, other dates are at midnight (null where a value does not parse)."""
    if isinstance(column.dtype, pl.Datetime):
        naive = column.dt.replace_time_zone(None) if column.dtype.time_zone else column
        return naive.cast(pl.Datetime("us"))
    dates = _as_dates(column)
    if dates.dtype != pl.Date:
        return dates
    if column.dtype != pl.String:
        return dates.cast(pl.Datetime("us"))
    try:
        stamps = column.str.strip_chars().str.replace("T", " ").str.to_datetime(strict=False, time_unit="us")
    except pl.exceptions.ComputeError:  # polars finds no timestamp format in the first value
        return dates.cast(pl.Datetime("us")).alias(column.name)
    if stamps.dtype.time_zone:  # with an offset ('Z', '+02:00'): the UTC time, as plain times
        stamps = stamps.dt.replace_time_zone(None)
    better = stamps.null_count() <= dates.null_count()
    dated = dates.cast(pl.Datetime("us"))
    return (stamps.fill_null(dated) if better else dated).alias(column.name)


def _is_date_column(column: pl.Series) -> bool:
    known = column.drop_nulls()
    is_temporal = column.dtype in (pl.Date, pl.String) or isinstance(column.dtype, pl.Datetime)
    if known.is_empty() or not is_temporal:
        return False
    return _as_dates(known).drop_nulls().len() >= DATE_SHARE * known.len()


def _as_numbers(column: pl.Series) -> pl.Series:
    if column.dtype.is_numeric():
        return column.cast(pl.Float64)
    if column.dtype == pl.String:
        numbers = column.str.strip_chars().cast(pl.Float64, strict=False)
        failed = column.filter(numbers.is_null() & column.is_not_null())
        if not failed.len():
            return numbers
        examples = ", ".join(repr(v) for v in failed.unique(maintain_order=True).head(3).to_list())
        raise InvalidInput(
            f"Column {column.name!r} is not numeric: {failed.len()} values are not numbers (e.g. {examples})."
        )
    raise InvalidInput(f"Column {column.name!r} is {column.dtype}, not numeric; pick a column of numbers.")


def _check_duplicates(frame: pl.DataFrame, keys: list[str], date_col: str) -> None:
    dupes = frame.group_by([*keys, date_col]).len().filter(pl.col("len") > 1).sort([*keys, date_col])
    if dupes.is_empty():
        return
    first = dupes.row(0, named=True)
    where = f" in series {first[keys[0]]!r}" if keys else ""
    hint = "" if keys else "; if the file holds several series, pick the column that names them"
    raise InvalidInput(
        f"{first['len']} rows share the time {first[date_col]}{where} ({dupes.height} times repeat);"
        f" a series needs one value per time{hint}, or aggregate them to a frequency."
    )


def _require_columns(frame: pl.DataFrame, names: list[str]) -> None:
    missing = [n for n in names if n not in frame.columns]
    if missing:
        raise InvalidInput(
            f"No column {_names(missing)} in the dataset; its columns are {_names(frame.columns)}."
        )


def _require_rows(frame: pl.DataFrame) -> None:
    if frame.height == 0:
        raise InvalidInput("The dataset has no rows.")


def _names(names: list[str], limit: int = 12) -> str:
    shown = ", ".join(repr(n) for n in names[:limit])
    return shown + (f" and {len(names) - limit} more" if len(names) > limit else "")
