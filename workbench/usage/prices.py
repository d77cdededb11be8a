"""The price catalogue: which rate applies to a call, and what the call cost (seed 004's formula
per million tokens). A model no row matches is unpriced (NULL), never $0.

Costs are derived in SQL, in one place (`reprice`): every call's cost is its tokens times the
catalogue row in effect on the call's day whose pattern matches its model (the longest pattern,
then the organisation's own row, then the latest start wins). Correcting the catalogue and
calling `reprice` corrects historical costs.
"""

from __future__ import annotations

from datetime import date, datetime

import duckdb

from workbench.db import atomic, fetch_one
from workbench.usage import rollup

# The catalogue row for each (org_id, provider, model, day) in `keys`; NULL columns when none
# matches. The longest (most specific) pattern wins, then the organisation's own row over a shared
# one with the same pattern, then the latest start.
_RATES = """
SELECT k.org_id AS k_org, k.provider AS k_provider, k.model AS k_model, k.day AS k_day, p.id AS price_id,
       p.input_per_million AS in_rate, p.output_per_million AS out_rate,
       coalesce(p.cached_input_per_million, p.input_per_million) AS cached_rate,
       coalesce(p.embedding_per_million, p.input_per_million) AS emb_rate, p.currency AS p_currency
FROM keys k
LEFT JOIN (
    SELECT k.org_id, k.provider, k.model, k.day,
           arg_max(p.id, length(p.match_pattern) * 10000000000
                         + (p.org_id IS NOT NULL)::INTEGER * 1000000 + epoch(p.effective_from) // 86400) AS id
    FROM keys k JOIN model_prices p
      ON p.provider = k.provider AND lower(k.model) GLOB lower(p.match_pattern)
     AND (p.org_id IS NULL OR p.org_id = k.org_id)
     AND p.effective_from <= k.day AND (p.effective_to IS NULL OR p.effective_to > k.day)
    GROUP BY ALL
) best ON best.org_id = k.org_id AND best.provider = k.provider AND best.model = k.model
      AND best.day = k.day
LEFT JOIN model_prices p ON p.id = best.id
"""

# Seed 004's formula, with cached prompt tokens at the cached rate and embedding tokens at theirs.
COST_SQL = ("((prompt_tokens - cached_tokens) * in_rate + cached_tokens * cached_rate"
            " + completion_tokens * out_rate + embedding_tokens * emb_rate) / 1e6")


def rate_for(con: duckdb.DuckDBPyConnection, org_id: int, provider: str, model: str,
             at: datetime | date) -> dict | None:
    """The catalogue row that prices `model` for this organisation at `at`; None when unpriced."""
    day = at.date() if isinstance(at, datetime) else at
    row = fetch_one(
        con,
        "WITH keys AS (SELECT ?::INTEGER AS org_id, ?::VARCHAR AS provider, ?::VARCHAR AS model,"
        f" ?::DATE AS day) {_RATES}",
        [org_id, provider, model, day],
    )
    if row is None or row["price_id"] is None:
        return None
    return fetch_one(con, "SELECT * FROM model_prices WHERE id = ?", [row["price_id"]])


def priced(source: str) -> str:
    """SQL selecting every column of the relation `source` (llm_calls columns: provider, model,
    created_at and the token counts) plus its `cost_usd` and `currency` from the catalogue,
    for bulk inserts."""
    return f"""
    WITH keys AS (SELECT DISTINCT org_id, provider, model, created_at::DATE AS day FROM {source})
    SELECT s.*, {COST_SQL} AS cost_usd, coalesce(r.p_currency, 'USD') AS currency
    FROM {source} s LEFT JOIN ({_RATES}) r
      ON s.org_id = r.k_org AND s.provider = r.k_provider AND s.model = r.k_model
     AND s.created_at::DATE = r.k_day
    """


def reprice(con: duckdb.DuckDBPyConnection, where: str = "true", params: list | None = None) -> int:
    """Set the cost of the catalogue-priced llm_calls rows matching `where` from their tokens
    and the catalogue; NULL where no price matches. Returns the number of rows updated."""
    params = list(params or [])
    sql = f"""
    WITH keys AS (SELECT DISTINCT org_id, provider, model, created_at::DATE AS day FROM llm_calls
                  WHERE ({where}) AND cost_source = 'catalogue')
    UPDATE llm_calls SET cost_usd = {COST_SQL},
                         currency = coalesce(r.p_currency, 'USD')
    FROM ({_RATES}) r
    WHERE llm_calls.org_id = r.k_org AND llm_calls.provider = r.k_provider AND llm_calls.model = r.k_model
      AND llm_calls.created_at::DATE = r.k_day AND cost_source = 'catalogue' AND ({where})
    """
    return con.execute(sql, params + params).fetchone()[0]


def recompute(con: duckdb.DuckDBPyConnection, org_id: int | None = None, since: date | None = None,
              providers: list[str] | None = None) -> int:
    """Reprice the calls of `org_id` (every organisation when None) from `since` (of these
    providers) and rebuild their rollups, in one transaction. Returns the number of calls repriced."""
    where, params = ["true"], []
    if org_id is not None:
        where.append("org_id = ?")
        params.append(org_id)
    if since is not None:
        where.append("created_at >= ?")
        params.append(since)
    if providers:
        where.append(f"provider IN ({', '.join('?' * len(providers))})")
        params.extend(providers)
    with atomic(con):
        n = reprice(con, " AND ".join(where), params)
        rollup.rebuild(con, org_id, since, providers)
    return n
