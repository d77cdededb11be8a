"""Editing the price catalogue: an organisation's own rows (added, corrected, changed from a date,
deleted; `price_import` adds LiteLLM files) on top of the shared catalogue every organisation reads.

Shared rows (org_id NULL) are never written here: correcting one gives the organisation its own
copy, which wins for its calls only. Every write reprices the organisation's calls it can change
(`prices.recompute`) in the same transaction, so costs and rollups never lag the catalogue.
"""

from __future__ import annotations

import math
import time
from datetime import date, datetime

import duckdb

from workbench.accounts import audit
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.usage import prices

ALWAYS = date(2000, 1, 1)  # the table's default start: a row from then prices every call
RATES = ("input_per_million", "output_per_million", "cached_input_per_million", "embedding_per_million")
FIELDS = (
    "provider",
    "model",
    "match_pattern",
    *RATES,
    "currency",
    "effective_from",
    "effective_to",
    "source",
)
_INSERT = (
    f"INSERT INTO model_prices (org_id, {', '.join(FIELDS)}, updated_at)"
    f" VALUES (?, {', '.join('?' * len(FIELDS))}, current_localtimestamp()) RETURNING id"
)


def literal_pattern(model: str) -> str:
    """A glob matching exactly this model name (any case): glob characters in it are escaped."""
    return "".join(f"[{c}]" if c in "*?[" else c for c in model)


def parse_day(value, name: str) -> date | None:
    """A date from a date, datetime or ISO text; None when empty; InvalidInput naming `name` otherwise."""
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise InvalidInput(f"{name} must be a date like 2026-01-31, not {value!r}.") from None


def _rate(fields: dict, name: str, required: bool = False) -> float | None:
    value = fields.get(name)
    if value is None or value == "":
        if required:
            raise InvalidInput(f"A price needs {name} (USD per million tokens).")
        return None
    try:
        number = float(value) if not isinstance(value, bool) else math.nan
    except (TypeError, ValueError):
        number = math.nan
    if not math.isfinite(number) or number < 0:
        raise InvalidInput(f"{name} must be a finite number of USD per million tokens, >= 0; not {value!r}.")
    return number


def _validated(fields: dict) -> dict:
    """The row's fields cleaned and complete, or InvalidInput naming the first problem."""
    unknown = set(fields) - set(FIELDS)
    if unknown:
        raise InvalidInput(
            f"Unknown price field(s) {', '.join(sorted(unknown))}; known: {', '.join(FIELDS)}."
        )
    row = {name: str(fields.get(name) or "").strip() for name in ("provider", "model", "match_pattern")}
    for name, text in row.items():
        if not text:
            raise InvalidInput(f"A price needs a {name.replace('_', ' ')}.")
    row["provider"] = row["provider"].lower()  # providers are metered in lower case
    for name in RATES:
        row[name] = _rate(fields, name, required=name in RATES[:2])
    currency = str(fields.get("currency") or "USD").strip().upper()
    if currency != "USD":
        raise InvalidInput(
            f"Currency {currency}: the workbench reports every cost in USD. Convert the rate "
            "to USD per million tokens first."
        )
    row["currency"] = currency
    row["effective_from"] = parse_day(fields.get("effective_from"), "effective_from") or ALWAYS
    row["effective_to"] = parse_day(fields.get("effective_to"), "effective_to")
    if row["effective_to"] is not None and row["effective_to"] <= row["effective_from"]:
        raise InvalidInput(
            f"effective_to ({row['effective_to']}) is the first day the price no longer applies:"
            f" it must come after effective_from ({row['effective_from']})."
        )
    row["source"] = str(fields.get("source") or "").strip() or None
    return row


def _insert(con: duckdb.DuckDBPyConnection, org_id: int, row: dict) -> int:
    return con.execute(_INSERT, [org_id, *(row[name] for name in FIELDS)]).fetchone()[0]


def _visible(ctx: Context, con: duckdb.DuckDBPyConnection, price_id: int) -> dict:
    """A shared row or one of the organisation's own; NotFound for anything else."""
    row = fetch_one(con, "SELECT * FROM model_prices WHERE id = ?", [price_id])
    if row is None or row["org_id"] not in (None, ctx.org_id):
        raise NotFound(f"No price #{price_id} in your catalogue. `workbench prices list` shows the ids.")
    return row


def _check_no_overlap(con, org_id: int, row: dict, except_id: int | None = None) -> None:
    """Two own rows for one pattern and period would make the price ambiguous: refuse the second."""
    clash = fetch_one(
        con,
        "SELECT id, effective_from, effective_to FROM model_prices WHERE org_id = ? AND provider = ?"
        " AND lower(match_pattern) = lower(?) AND id IS DISTINCT FROM ? AND effective_from < coalesce(?, "
        "DATE '9999-12-31') AND coalesce(effective_to, DATE '9999-12-31') > ?",
        [
            org_id,
            row["provider"],
            row["match_pattern"],
            except_id,
            row["effective_to"],
            row["effective_from"],
        ],
    )
    if clash:
        raise InvalidInput(
            f"Your organisation already prices {row['provider']} {row['match_pattern']} from "
            f"{clash['effective_from']} to {clash['effective_to'] or 'now'} (#{clash['id']}): correct that "
            "row, or change its price from a date."
        )


def _read_allowed(ctx: Context) -> None:
    if not ctx.can("prices:manage"):
        ctx.require("usage:read")


def list_prices(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    provider: str | None = None,
    text: str | None = None,
    at: date | None = None,
) -> list[dict]:
    """The catalogue rows the organisation sees (shared and its own), saying which are its own
    (`own`) and which are in effect at `at` (today by default)."""
    _read_allowed(ctx)
    day = parse_day(at, "at") or date.today()
    return fetch_dicts(
        con,
        """
        SELECT id, provider, model, match_pattern, input_per_million, output_per_million,
               cached_input_per_million, embedding_per_million, currency, effective_from, effective_to,
               source, org_id IS NOT NULL AS own,
               effective_from <= ?::DATE AND coalesce(effective_to > ?::DATE, true) AS in_effect,
               coalesce(updated_at, created_at) AS updated_at
        FROM model_prices
        WHERE (org_id IS NULL OR org_id = ?) AND (?::VARCHAR IS NULL OR provider = lower(?))
          AND (?::VARCHAR IS NULL OR contains(lower(model || ' ' || match_pattern), lower(?)))
        ORDER BY provider, model, match_pattern, own DESC, effective_from
        """,
        [day, day, ctx.org_id, provider, provider, text, text],
    )


def _label(row: dict) -> str:
    return f"{row['provider']}/{row['model']}"


def _rates(row: dict) -> dict:
    return {name: row.get(name) for name in RATES}


def add_price(ctx: Context, con: duckdb.DuckDBPyConnection, **fields) -> dict:
    """Add a price row of the acting organisation and reprice the calls it can price. Returns the
    new row's `id` and `repriced_calls`."""
    ctx.require("prices:manage")
    if not fields.get("match_pattern"):
        fields["match_pattern"] = literal_pattern(str(fields.get("model") or "").strip())
    row = _validated(fields)
    with atomic(con):
        _check_no_overlap(con, ctx.org_id, row)
        price_id = _insert(con, ctx.org_id, row)
        n = prices.recompute(con, org_id=ctx.org_id, since=row["effective_from"], providers=[row["provider"]])
        audit.record(ctx, con, "price.add", _label(row), id=price_id, **_rates(row))
    return {"id": price_id, "repriced_calls": n}


def correct_price(ctx: Context, con: duckdb.DuckDBPyConnection, price_id: int, **changes) -> dict:
    """Correct a row for all the calls it prices: the organisation's own row in place, a shared
    row by an own copy with the changes. Returns the corrected row's `id` and `repriced_calls`."""
    ctx.require("prices:manage")
    old = _visible(ctx, con, price_id)
    if not changes:
        raise InvalidInput("Nothing to correct: give the fields to change, e.g. input_per_million.")
    shared = old["org_id"] is None
    if shared and not changes.get("source"):
        changes["source"] = f"{ctx.org_name}'s correction of shared price #{price_id} ({old['source']})"
    row = _validated({**{name: old[name] for name in FIELDS}, **changes})
    with atomic(con):
        _check_no_overlap(con, ctx.org_id, row, except_id=None if shared else price_id)
        if shared:
            price_id = _insert(con, ctx.org_id, row)
        else:
            con.execute(
                f"UPDATE model_prices SET {', '.join(f'{n} = ?' for n in FIELDS)},"
                " updated_at = current_localtimestamp() WHERE id = ?",
                [*(row[name] for name in FIELDS), price_id],
            )
        n = prices.recompute(
            con,
            org_id=ctx.org_id,
            since=min(old["effective_from"], row["effective_from"]),
            providers=sorted({old["provider"], row["provider"]}),
        )
        audit.record(ctx, con, "price.correct", _label(row), id=price_id, **_rates(row))
    return {"id": price_id, "repriced_calls": n}


def _change_day(old: dict, effective_from, new_rates: dict) -> date:
    """The day a price change of row `old` starts, checked to fall inside the row's period."""
    day = parse_day(effective_from, "effective_from")
    if unknown := set(new_rates) - {*RATES, "source"}:
        raise InvalidInput(
            f"A price change sets rates only, not {', '.join(sorted(unknown))}; correct the row."
        )
    if day is None or day <= old["effective_from"] or (old["effective_to"] and day >= old["effective_to"]):
        raise InvalidInput(
            f"Price #{old['id']} applies from {old['effective_from']} to "
            f"{old['effective_to'] or 'now'}: a change needs a date after its start and before its "
            "end. To fix its rate for the whole period, correct it instead."
        )
    return day


def change_price_from(
    ctx: Context, con: duckdb.DuckDBPyConnection, price_id: int, effective_from, **new_rates
) -> dict:
    """A price change: the row's rate ends on `effective_from` and the new rates apply from that day
    (for a shared row: it keeps pricing the days before, the organisation's new row wins from the day).
    Returns `closed_id` (the row that prices the days before), `id` and `repriced_calls`."""
    ctx.require("prices:manage")
    old = _visible(ctx, con, price_id)
    day = _change_day(old, effective_from, new_rates)
    base = {name: old[name] for name in FIELDS}
    new = _validated(
        {**base, "source": f"{ctx.org_name}: price from {day}", **new_rates, "effective_from": day}
    )
    with atomic(con):
        if old["org_id"] is None:
            # the shared row keeps pricing the days before; the organisation's row wins from `day`
            _check_no_overlap(con, ctx.org_id, {**new, "effective_to": old["effective_to"]})
            closed_id = price_id
        else:
            con.execute(
                "UPDATE model_prices SET effective_to = ?, updated_at = current_localtimestamp()"
                " WHERE id = ?",
                [day, price_id],
            )
            closed_id = price_id
        new_id = _insert(con, ctx.org_id, new)
        n = prices.recompute(con, org_id=ctx.org_id, since=day, providers=[old["provider"]])
        audit.record(ctx, con, "price.change", _label(new), id=new_id, effective_from=day, **_rates(new))
    return {"closed_id": closed_id, "id": new_id, "repriced_calls": n}


def delete_price(ctx: Context, con: duckdb.DuckDBPyConnection, price_id: int) -> dict:
    """Delete one of the organisation's own rows (its calls fall back to the shared catalogue or
    become unpriced). Returns `id` and `repriced_calls`."""
    ctx.require("prices:manage")
    old = _visible(ctx, con, price_id)
    if old["org_id"] is None:
        raise NotAllowed(
            f"Price #{price_id} is in the shared catalogue, which no organisation can delete "
            "from. Correct it to give your organisation its own rate."
        )
    with atomic(con):
        con.execute("DELETE FROM model_prices WHERE id = ?", [price_id])
        n = prices.recompute(con, org_id=ctx.org_id, since=old["effective_from"], providers=[old["provider"]])
        audit.record(ctx, con, "price.delete", _label(old), id=price_id)
    return {"id": price_id, "repriced_calls": n}


def _row_in_effect(con, org_id: int, provider: str, pattern: str, day: date) -> dict | None:
    """The row with exactly this pattern in effect on `day`: the organisation's own, else the shared one."""
    return fetch_one(
        con,
        "SELECT id, org_id, effective_from FROM model_prices WHERE provider = lower(?)"
        " AND lower(match_pattern) = lower(?) AND (org_id IS NULL OR org_id = ?) AND effective_from <= ?"
        " AND coalesce(effective_to > ?, true) ORDER BY org_id IS NULL, effective_from DESC LIMIT 1",
        [provider.strip(), pattern, org_id, day, day],
    )


def set_price(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    provider: str,
    model: str,
    match_pattern: str | None = None,
    effective_from=None,
    **rates,
) -> dict:
    """Set a model's rate for the organisation (the CLI's `prices set`): a change from
    `effective_from` when a row prices it then, else a correction of its own row, else a new row.
    Returns the write's result with `action`: changed, corrected or added."""
    ctx.require("prices:manage")
    pattern = (match_pattern or "").strip() or literal_pattern(model.strip())
    day = parse_day(effective_from, "effective_from")
    current = _row_in_effect(con, ctx.org_id, provider, pattern, day or date.today())
    if day is not None and current is not None and current["effective_from"] < day:
        return {"action": "changed", **change_price_from(ctx, con, current["id"], day, **rates)}
    if current is not None and current["org_id"] is not None:
        return {"action": "corrected", **correct_price(ctx, con, current["id"], model=model, **rates)}
    return {
        "action": "added",
        **add_price(
            ctx, con, provider=provider, model=model, match_pattern=pattern, effective_from=day, **rates
        ),
    }


def recompute_org(ctx: Context, con: duckdb.DuckDBPyConnection, since=None) -> dict:
    """Reprice the organisation's catalogue-priced calls (from `since`) and rebuild their rollups.
    Returns `repriced_calls` and `seconds`."""
    ctx.require("prices:manage")
    day = parse_day(since, "since")
    started = time.perf_counter()
    n = prices.recompute(con, org_id=ctx.org_id, since=day)
    return {"repriced_calls": n, "since": day, "seconds": round(time.perf_counter() - started, 3)}


def unpriced_models(ctx: Context, con: duckdb.DuckDBPyConnection, since=None) -> list[dict]:
    """The organisation's models with calls no price matches (cost NULL, never $0): provider, model,
    calls, tokens, first_seen and last_seen, most calls first. Read from the daily rollup."""
    _read_allowed(ctx)
    return fetch_dicts(
        con,
        """
        SELECT provider, model, sum(unpriced_calls)::BIGINT AS calls, sum(unpriced_tokens)::BIGINT AS tokens,
               min(day) AS first_seen, max(day) AS last_seen
        FROM usage_daily
        WHERE org_id = ? AND unpriced_calls > 0 AND day >= coalesce(?::DATE, DATE '0001-01-01')
        GROUP BY provider, model ORDER BY calls DESC, provider, model
        """,
        [ctx.org_id, parse_day(since, "since")],
    )
