"""The price catalogue: which rate applies to a call, and what the call cost (seed 004's formula
per million tokens). A model no row matches is unpriced (None), never $0."""

from __future__ import annotations

import fnmatch
from datetime import date, datetime

import duckdb

from workbench.db import fetch_dicts


def rate_for(con: duckdb.DuckDBPyConnection, provider: str, model: str, at: datetime | date) -> dict | None:
    """The catalogue row in effect at `at` whose pattern matches `model` (longest pattern wins)."""
    day = at.date() if isinstance(at, datetime) else at
    rows = fetch_dicts(
        con,
        "SELECT * FROM model_prices WHERE provider = ? AND effective_from <= ?"
        " AND (effective_to IS NULL OR effective_to > ?)",
        [provider, day, day],
    )
    matching = [r for r in rows if fnmatch.fnmatchcase(model.lower(), r["match_pattern"].lower())]
    return max(matching, key=lambda r: (len(r["match_pattern"]), r["effective_from"]), default=None)


def cost(
    rate: dict | None, prompt: int = 0, completion: int = 0, cached: int = 0, embedding: int = 0
) -> float | None:
    """Dollars for these token counts at `rate`; None when unpriced."""
    if rate is None:
        return None
    cached_rate = rate["cached_input_per_million"]
    embedding_rate = rate["embedding_per_million"]
    total = (
        (prompt - cached) * rate["input_per_million"]
        + cached * (rate["input_per_million"] if cached_rate is None else cached_rate)
        + completion * rate["output_per_million"]
        + embedding * (rate["input_per_million"] if embedding_rate is None else embedding_rate)
    )
    return total / 1_000_000
