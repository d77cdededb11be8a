"""CSV exports that a spreadsheet cannot run (CSV injection). As OWASP recommends, a text cell that
starts with =, +, -, @, a tab or a carriage return gets a leading single quote, and every text cell
is quoted; number columns are written as they are, so -3.5 stays a number. Every CSV the workbench
writes goes through `write_csv`; the importers of files the workbench exports (QA pairs, usage logs)
take the quote off again with `restore`, so an export imports back unchanged. A text that already
starts with quotes before a formula character ("'=x") gets one more, so that holds for it too.

A file a user wrote by hand with "'=x" in a cell imports as "=x": that cannot be told apart from
an export."""

from __future__ import annotations

import polars as pl

FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NEEDS_QUOTE = r"^'*[=+\-@\t\r]"  # see neutralise
_ESCAPED = r"^'+[=+\-@\t\r]"  # see restore


def neutralise(text: str) -> str:
    """`text` with a single quote in front when a spreadsheet would read it as a formula (or when
    it starts with quotes before a formula character)."""
    return "'" + text if text.lstrip("'").startswith(FORMULA_START) else text


def restore(text: str) -> str:
    """`text` without the quote `neutralise` put in front: restore(neutralise(t)) == t."""
    escaped = text.startswith("'") and text.lstrip("'").startswith(FORMULA_START)
    return text[1:] if escaped else text


def neutralised(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with its text (and categorical) columns neutralised; other columns unchanged."""
    text = [name for name, dtype in frame.schema.items() if dtype in (pl.Utf8, pl.Categorical)
            or isinstance(dtype, pl.Enum)]
    return frame.with_columns(
        pl.when(pl.col(name).cast(pl.Utf8).str.contains(_NEEDS_QUOTE))
        .then(pl.lit("'") + pl.col(name).cast(pl.Utf8))
        .otherwise(pl.col(name).cast(pl.Utf8))
        .alias(name)
        for name in text
    )


def restored(frame: pl.DataFrame) -> pl.DataFrame:
    """The frame with `restore` applied to its text columns (a CSV just read)."""
    text = [name for name, dtype in frame.schema.items() if dtype == pl.Utf8]
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(_ESCAPED)).then(pl.col(name).str.slice(1)).otherwise(pl.col(name))
        for name in text
    )


def write_csv(data: pl.DataFrame | list[dict]) -> bytes:
    """A frame (or rows, their types read from all of them) as UTF-8 CSV bytes, safe to open in a
    spreadsheet: text cells neutralised and quoted, numbers bare."""
    frame = data if isinstance(data, pl.DataFrame) else pl.DataFrame(data, infer_schema_length=None)
    return neutralised(frame).write_csv(quote_style="non_numeric").encode()
