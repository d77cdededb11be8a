"""Importing LiteLLM's price list (`model_prices_and_context_window.json`) as an organisation's own
catalogue rows: per-token costs become rates per million tokens, all or nothing, in one transaction.

An import starts on one day and ends the organisation's earlier LiteLLM rows for the same models
there. Rows an admin added by hand are left alone; where one names the same model, the import's row
wins from its start on (the later start wins, see `prices._RATES`).
"""

from __future__ import annotations

import math
from datetime import date

import duckdb
import pyarrow as pa

from workbench import user_files
from workbench.accounts import audit
from workbench.accounts.context import Context
from workbench.db import atomic
from workbench.errors import InvalidInput
from workbench.usage import prices
from workbench.usage.price_catalogue import FIELDS, RATES, literal_pattern, parse_day

# LiteLLM's provider names where the workbench meters the same API under another name.
LITELLM_PROVIDERS = {
    "gemini": "google",
    "vertex_ai-language-models": "google",
    "vertex_ai-embedding-models": "google",
    "text-completion-openai": "openai",
    "codestral": "mistral",
    "text-completion-codestral": "mistral",
}
_LITELLM_COSTS = ("input_cost_per_token", "output_cost_per_token", "cache_read_input_token_cost")
_ARROW_SCHEMA = pa.schema(
    [
        (
            name,
            pa.float64() if name in RATES else pa.date32() if name.startswith("effective") else pa.string(),
        )
        for name in FIELDS
    ]
)


def _litellm_cost(model: str, spec: dict, name: str) -> float | None:
    value = spec.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value) or value < 0:
        raise InvalidInput(f"{model}: {name} must be a number >= 0, not {value!r}. Nothing was imported.")
    return round(value * 1e6, 9)  # per token -> per million, without float noise (2.4999999999999996)


def _litellm_row(key: str, spec) -> tuple[dict | None, str | None]:
    """The workbench row for one entry of the file, or None and why it is skipped."""
    if not isinstance(spec, dict):
        return None, "not an object"
    rate_in, rate_out, rate_cached = (_litellm_cost(key, spec, name) for name in _LITELLM_COSTS)
    if rate_in is None:
        return None, "no input_cost_per_token (priced per character, second or image, or not at all)"
    named = str(spec.get("litellm_provider") or "").strip().lower()
    if not named:
        return None, "no litellm_provider"
    provider = LITELLM_PROVIDERS.get(named, named)
    head, _, rest = key.strip().partition("/")
    model = rest if rest and head.lower() in {named, provider, named.split("-")[0]} else key.strip()
    return {
        "provider": provider,
        "model": model,
        "match_pattern": literal_pattern(model),
        "input_per_million": rate_in,
        "output_per_million": rate_out or 0.0,
        "cached_input_per_million": rate_cached,
        "embedding_per_million": rate_in if spec.get("mode") == "embedding" else None,
        "currency": "USD",
    }, None


def parse_litellm(data: bytes, filename: str = "The file") -> tuple[list[dict], list[dict]]:
    """The price rows of a LiteLLM `model_prices_and_context_window.json` and the entries skipped
    (model, reason). InvalidInput, naming the file and the problem, for a file that cannot be
    imported whole."""
    try:
        document = user_files.load_json(data)
    except ValueError as exc:  # bad UTF-8 or UTF-16, bad JSON, a number of over 4,300 digits, deep nesting
        raise InvalidInput(
            f"{filename}: not a LiteLLM price file: invalid JSON ({exc}). Nothing was imported."
        ) from None
    if not isinstance(document, dict):
        raise InvalidInput(
            f"{filename}: not a LiteLLM price file: expected a JSON object of model name -> prices, got "
            f"{type(document).__name__}. Nothing was imported."
        )
    rows, skipped, seen = [], [], {}
    for key, spec in document.items():
        if key == "sample_spec":  # LiteLLM's documentation of the format, not a model
            continue
        row, reason = _litellm_row(key, spec)
        same = row and seen.get((row["provider"], row["match_pattern"].lower()))
        if same:
            row, reason = None, f"same provider and model as {same!r}"
        if row is None:
            skipped.append({"model": key, "reason": reason})
            continue
        seen[row["provider"], row["match_pattern"].lower()] = key
        rows.append(row)
    return rows, skipped


def _close_litellm_rows(con: duckdb.DuckDBPyConnection, org_id: int, day: date) -> int:
    """End the organisation's earlier LiteLLM rows for the models in `litellm_new` on `day` (rows
    starting on it or later are replaced outright). Returns how many were replaced."""
    match = (
        "p.org_id = ? AND p.source LIKE 'LiteLLM %' AND p.provider = n.provider"
        " AND lower(p.match_pattern) = lower(n.match_pattern)"
    )
    dropped = con.execute(
        f"DELETE FROM model_prices p USING litellm_new n WHERE {match} AND p.effective_from >= ?",
        [org_id, day],
    ).fetchone()[0]
    ended = con.execute(
        f"UPDATE model_prices p SET effective_to = ?, updated_at = current_localtimestamp()"
        f" FROM litellm_new n WHERE {match} AND coalesce(p.effective_to > ?, true)",
        [day, org_id, day],
    ).fetchone()[0]
    return dropped + ended


def _write_rows(con: duckdb.DuckDBPyConnection, org_id: int, rows: list[dict], day: date, source: str) -> int:
    """Insert the rows from `day`, ending the earlier LiteLLM rows they replace. Returns how many."""
    table = pa.Table.from_pylist(
        [{**row, "effective_from": day, "effective_to": None, "source": source} for row in rows],
        _ARROW_SCHEMA,
    )
    con.register("litellm_new", table)
    try:
        replaced = _close_litellm_rows(con, org_id, day)
        con.execute(
            f"INSERT INTO model_prices (org_id, {', '.join(FIELDS)}, updated_at)"
            f" SELECT ?, {', '.join(FIELDS)}, current_localtimestamp() FROM litellm_new",
            [org_id],
        )
    finally:
        con.unregister("litellm_new")
    return replaced


def import_litellm(
    ctx: Context, con: duckdb.DuckDBPyConnection, data: bytes, *, source_name: str, effective_from=None
) -> dict:
    """Import a LiteLLM price file as the organisation's rows from today (or `effective_from`),
    ending its earlier LiteLLM rows for the same models: all or nothing, then one recompute.
    Returns added, replaced, skipped, repriced_calls and skip_reasons (model, reason)."""
    ctx.require("prices:manage")
    rows, skipped = parse_litellm(data, source_name)
    day = parse_day(effective_from, "effective_from") or date.today()
    with atomic(con):
        replaced = _write_rows(con, ctx.org_id, rows, day, f"LiteLLM {source_name}")
        providers = sorted({row["provider"] for row in rows})
        n = prices.recompute(con, org_id=ctx.org_id, since=day, providers=providers) if rows else 0
        audit.record(ctx, con, "price.import", source_name, added=len(rows), replaced=replaced,
                     effective_from=day)
    counts = {"added": len(rows), "replaced": replaced, "skipped": len(skipped), "repriced_calls": n}
    return {**counts, "skip_reasons": skipped}
