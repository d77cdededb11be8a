"""Demo LLM calls: 180 days with weekly seasonality, growth, several providers, models and
operations, and users whose activity fades (future churners). Also the bulk path for
`workbench demo --scale N`: numpy columns -> Arrow -> one INSERT ... SELECT per chunk."""

from __future__ import annotations

from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

# (provider, model, operation, share, $ per 1M prompt, $ per 1M completion, mean latency ms).
# Prices are the providers' public list prices; None marks a model with no known price.
MODELS = [
    ("openai", "gpt-4o-mini", "chat", 0.26, 0.15, 0.60, 900),
    ("openai", "gpt-4.1", "chat", 0.07, 2.00, 8.00, 2200),
    ("anthropic", "claude-sonnet-4", "chat", 0.08, 3.00, 15.00, 2600),
    ("anthropic", "claude-haiku-3.5", "grounding", 0.08, 0.80, 4.00, 800),
    ("deepseek", "deepseek-chat", "analysis", 0.10, 0.27, 1.10, 1500),
    ("openai", "gpt-4o-mini", "explanation", 0.06, 0.15, 0.60, 700),
    ("mistral", "mistral-small-latest", "chat", 0.03, None, None, 1100),
    ("ollama", "llama3.1:8b", "chat", 0.05, 0.0, 0.0, 3100),
    ("local", "all-MiniLM-L6-v2", "embedding", 0.27, 0.0, 0.0, 120),
]
DAYS = 180


def _model_table():
    shares = np.array([m[3] for m in MODELS])
    return shares / shares.sum()


def generate(rng: np.random.Generator, n: int, *, end: datetime, user_ids: np.ndarray,
             org_of_user: np.ndarray, fading: np.ndarray, days: int = DAYS) -> pa.Table:
    """`n` llm_calls rows as an Arrow table, spread over `days` days before `end`."""
    day_weight = np.arange(days, dtype=float)
    weekday = (np.datetime64(end.date()) - np.arange(days)[::-1]).astype("datetime64[D]")
    dow = (weekday.astype(int) + 3) % 7  # 0 = Monday
    season = np.where(dow >= 5, 0.45, 1.0) * (1 + 0.08 * np.sin(dow))
    growth = 1 + 1.2 * day_weight / days
    p_day = season * growth
    day = rng.choice(days, size=n, p=p_day / p_day.sum())
    user_idx = rng.integers(0, len(user_ids), size=n)
    # fading users: their activity stops gradually after day 100 and is gone in the last 25 days
    fade = fading[user_idx] & (rng.random(n) < np.clip((day - 100) / 55, 0, 1))
    user_idx = np.where(fade, rng.integers(0, len(user_ids), size=n), user_idx)
    still_fading = fading[user_idx] & (day > days - 25)
    user_idx = np.where(still_fading, np.flatnonzero(~fading)[0], user_idx)
    m = rng.choice(len(MODELS), size=n, p=_model_table())
    provider = np.array([x[0] for x in MODELS])[m]
    model = np.array([x[1] for x in MODELS])[m]
    operation = np.array([x[2] for x in MODELS])[m]
    embedding = operation == "embedding"
    prompt = np.where(embedding, 0, rng.lognormal(7.0, 0.6, n).astype(np.int64) + 50)
    completion = np.where(embedding, 0, rng.lognormal(5.3, 0.5, n).astype(np.int64) + 10)
    cached = np.where(embedding, 0, (prompt * rng.uniform(0, 0.4, n)).astype(np.int64))
    emb_tokens = np.where(embedding, rng.integers(200, 8000, n), 0)
    in_rate = np.array([np.nan if x[4] is None else x[4] for x in MODELS])[m]
    out_rate = np.array([np.nan if x[5] is None else x[5] for x in MODELS])[m]
    cost = (prompt * in_rate + completion * out_rate) / 1e6
    latency = (np.array([x[6] for x in MODELS])[m] * rng.lognormal(0, 0.35, n)).astype(np.int64)
    seconds = rng.integers(7 * 3600, 20 * 3600, size=n)  # office hours
    start = np.datetime64(end.date()) - np.timedelta64(days - 1, "D")
    created = (start + day.astype("timedelta64[D]")).astype("datetime64[s]") + seconds
    status = np.where(rng.random(n) < 0.01, "error", "ok")
    return pa.table({
        "org_id": org_of_user[user_idx].astype(np.int32),
        "user_id": user_ids[user_idx].astype(np.int32),
        "provider": provider, "model": model, "operation_type": operation,
        "prompt_tokens": prompt.astype(np.int32), "completion_tokens": completion.astype(np.int32),
        "cached_tokens": cached.astype(np.int32), "embedding_tokens": emb_tokens.astype(np.int32),
        "total_tokens": (prompt + completion + emb_tokens).astype(np.int32),
        "cost_usd": pa.array(cost, mask=np.isnan(cost)),
        "latency_ms": latency.astype(np.int32), "status": status,
        "created_at": created,
    })


def insert(con: duckdb.DuckDBPyConnection, table: pa.Table) -> int:
    """Bulk-insert an Arrow table of llm_calls rows."""
    con.register("llm_calls_batch", table)
    try:
        con.execute("INSERT INTO llm_calls (org_id, user_id, provider, model, operation_type,"
                    " prompt_tokens, completion_tokens, cached_tokens, embedding_tokens,"
                    " total_tokens, cost_usd, latency_ms, status, created_at)"
                    " SELECT org_id, user_id, provider, model, operation_type, prompt_tokens,"
                    " completion_tokens, cached_tokens, embedding_tokens, total_tokens, cost_usd,"
                    " latency_ms, status, created_at FROM llm_calls_batch")
    finally:
        con.unregister("llm_calls_batch")
    return table.num_rows


def users_for_usage(con: duckdb.DuckDBPyConnection, fading_usernames: set[str]):
    """User ids, their organisations, and which of them fade out (future churners)."""
    rows = con.execute("SELECT id, org_id, username FROM users ORDER BY id").fetchall()
    ids = np.array([r[0] for r in rows])
    orgs = np.array([r[1] for r in rows])
    fading = np.array([r[2] in fading_usernames for r in rows], dtype=bool)
    return ids, orgs, fading


def write_scale(con: duckdb.DuckDBPyConnection, n: int, *, seed: int, fading_usernames: set[str],
                end: datetime | None = None, chunk: int = 1_000_000, progress=None) -> int:
    """Write `n` llm_calls through the bulk path, in chunks of `chunk` rows."""
    end = end or datetime.now()
    ids, orgs, fading = users_for_usage(con, fading_usernames)
    if len(ids) == 0:
        raise ValueError("No users yet: load the demo first (`workbench demo`).")
    rng = np.random.default_rng(seed + 1)
    written = 0
    while written < n:
        size = min(chunk, n - written)
        written += insert(con, generate(rng, size, end=end, user_ids=ids, org_of_user=orgs,
                                        fading=fading))
        if progress:
            progress(written, n)
    return written

