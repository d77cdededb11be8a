"""Demo LLM calls: 180 days with weekly seasonality, growth, several providers, models and
operations, and users whose activity fades (future churners). Also the bulk path for
`workbench demo --scale N`: numpy columns -> Arrow -> one priced INSERT ... SELECT per chunk."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import duckdb
import numpy as np
import pyarrow as pa

from workbench.usage import prices, rollup

# (provider, model, operation, share, mean latency ms). Costs come from the price catalogue; the
# fine-tuned model has no catalogue price, so its calls show as unpriced until an admin adds one.
MODELS = [
    ("openai", "gpt-4o-mini", "chat", 0.26, 900),
    ("openai", "gpt-4.1", "chat", 0.07, 2200),
    ("anthropic", "claude-sonnet-4", "chat", 0.08, 2600),
    ("anthropic", "claude-haiku-3.5", "grounding", 0.08, 800),
    ("deepseek", "deepseek-chat", "analysis", 0.10, 1500),
    ("openai", "gpt-4o-mini", "explanation", 0.06, 700),
    ("mistral", "mistral-small-latest", "chat", 0.02, 1100),
    ("openai", "ft:gpt-4o-mini:northwind:support-v2", "chat", 0.015, 950),
    ("ollama", "llama3.1:8b", "chat", 0.05, 3100),
    ("local", "all-MiniLM-L6-v2", "embedding", 0.27, 120),
]
DAYS = 180


def _model_table():
    shares = np.array([m[3] for m in MODELS])
    return shares / shares.sum()


def day_weights(end: datetime, days: int = DAYS) -> np.ndarray:
    """How likely a call falls on each of the `days` days before `end`: weekly seasonality and growth."""
    weekday = (np.datetime64(end.date()) - np.arange(days)[::-1]).astype("datetime64[D]")
    dow = (weekday.astype(int) + 3) % 7  # 0 = Monday
    season = np.where(dow >= 5, 0.45, 1.0) * (1 + 0.08 * np.sin(dow))
    growth = 1 + 1.2 * np.arange(days, dtype=float) / days
    weights = season * growth
    return weights / weights.sum()


def generate(
    rng: np.random.Generator,
    n: int,
    *,
    end: datetime,
    people: Population,
    days: int = DAYS,
    day: np.ndarray | None = None,
) -> pa.Table:
    """`n` llm_calls rows as an Arrow table, spread over `days` days before `end` (or on the
    given day offsets, in that order)."""
    if day is None:
        day = rng.choice(days, size=n, p=day_weights(end, days))
    user_ids, org_of_user, fading = people.user_ids, people.org_of_user, people.fading
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
    latency = (np.array([x[4] for x in MODELS])[m] * rng.lognormal(0, 0.35, n)).astype(np.int64)
    project = people.projects[user_idx, rng.integers(0, people.projects.shape[1], size=n)]
    no_project = (project < 0) | (rng.random(n) < 0.15)
    seconds = rng.integers(7 * 3600, 20 * 3600, size=n)  # office hours
    start = np.datetime64(end.date()) - np.timedelta64(days - 1, "D")
    created = (start + day.astype("timedelta64[D]")).astype("datetime64[s]") + seconds
    status = np.where(rng.random(n) < 0.01, "error", "ok")
    return pa.table(
        {
            "org_id": org_of_user[user_idx].astype(np.int32),
            "user_id": user_ids[user_idx].astype(np.int32),
            "project_id": pa.array(project.astype(np.int32), mask=no_project),
            "provider": provider,
            "model": model,
            "operation_type": operation,
            "prompt_tokens": prompt.astype(np.int32),
            "completion_tokens": completion.astype(np.int32),
            "cached_tokens": cached.astype(np.int32),
            "embedding_tokens": emb_tokens.astype(np.int32),
            "total_tokens": (prompt + completion + emb_tokens).astype(np.int32),
            "latency_ms": latency.astype(np.int32),
            "status": status,
            "created_at": created,
        }
    )


COLUMNS = (
    "org_id, user_id, project_id, provider, model, operation_type, prompt_tokens,"
    " completion_tokens, cached_tokens, embedding_tokens, total_tokens, latency_ms, status,"
    " created_at"
)


def insert(con: duckdb.DuckDBPyConnection, table: pa.Table) -> int:
    """Bulk-insert an Arrow table of llm_calls rows, priced from the catalogue, into the rollups.
    The ids come from the table's sequence first, so that the rollups add exactly these rows (a
    `max(id)` before the insert scanned every id: 2.5 s at 10M calls through PostgreSQL)."""
    if table.num_rows == 0:
        return 0
    ids = [r[0] for r in con.execute("SELECT nextval('llm_calls_id_seq') FROM range(?)",
                                     [table.num_rows]).fetchall()]
    con.register("llm_calls_batch", table.append_column("id", pa.array(ids, pa.int64())))
    try:
        con.execute(
            f"INSERT INTO llm_calls (id, {COLUMNS}, cost_usd, currency)"
            f" SELECT id, {COLUMNS}, cost_usd, currency FROM ({prices.priced('llm_calls_batch')})"
        )
        # the range lets the database answer from its index; the list keeps out another writer's
        # rows whose ids fell between these
        rollup.add(con, "id BETWEEN ? AND ? AND id IN (SELECT id FROM llm_calls_batch)", [min(ids), max(ids)])
    finally:
        con.unregister("llm_calls_batch")
    return table.num_rows


@dataclass(frozen=True)
class Population:
    """Who makes the demo's LLM calls: users, their organisations, who fades out, and the
    projects each user may bill to (one row per user, -1 where the organisation has fewer)."""

    user_ids: np.ndarray
    org_of_user: np.ndarray
    fading: np.ndarray
    projects: np.ndarray


def population(con: duckdb.DuckDBPyConnection, fading_usernames: set[str]) -> Population:
    """The users of the database as a demo population."""
    rows = con.execute("SELECT id, org_id, username FROM users ORDER BY id").fetchall()
    by_org: dict[int, list[int]] = {}
    for org_id, project_id in con.execute("SELECT org_id, id FROM projects ORDER BY id").fetchall():
        by_org.setdefault(org_id, []).append(project_id)
    width = max((len(v) for v in by_org.values()), default=1)
    projects = np.full((len(rows), width), -1, dtype=np.int64)
    for i, (_id, org_id, _name) in enumerate(rows):
        mine = by_org.get(org_id, [])
        projects[i, : len(mine)] = mine
        if mine:  # repeat to fill the row, so every project is equally likely
            projects[i] = [mine[k % len(mine)] for k in range(width)]
    return Population(
        np.array([r[0] for r in rows]),
        np.array([r[1] for r in rows]),
        np.array([r[2] in fading_usernames for r in rows], dtype=bool),
        projects,
    )


def spike(rng: np.random.Generator, n: int, *, at: datetime, user_id: int, org_id: int) -> pa.Table:
    """An unusual day: `n` long analysis calls by one user on one model (an evaluation batch
    job), for the anomaly detector to find."""
    prompt = rng.lognormal(8.3, 0.3, n).astype(np.int64)
    completion = rng.lognormal(6.0, 0.4, n).astype(np.int64)
    seconds = np.sort(rng.integers(13 * 3600, 17 * 3600, size=n))
    return pa.table(
        {
            "org_id": np.full(n, org_id, dtype=np.int32),
            "user_id": np.full(n, user_id, dtype=np.int32),
            "project_id": pa.nulls(n, pa.int32()),
            "provider": ["anthropic"] * n,
            "model": ["claude-sonnet-4"] * n,
            "operation_type": ["analysis"] * n,
            "prompt_tokens": prompt.astype(np.int32),
            "completion_tokens": completion.astype(np.int32),
            "cached_tokens": np.zeros(n, dtype=np.int32),
            "embedding_tokens": np.zeros(n, dtype=np.int32),
            "total_tokens": (prompt + completion).astype(np.int32),
            "latency_ms": (2600 * rng.lognormal(0.3, 0.3, n)).astype(np.int32),
            "status": ["ok"] * n,
            "created_at": np.datetime64(at.date()).astype("datetime64[s]") + seconds,
        }
    )


def write_scale(
    con: duckdb.DuckDBPyConnection,
    n: int,
    *,
    seed: int,
    fading_usernames: set[str],
    end: datetime | None = None,
    chunk: int = 1_000_000,
    progress=None,
) -> int:
    """Write `n` llm_calls through the bulk path, in time order (as real traffic arrives), in
    chunks of `chunk` rows."""
    end = end or datetime.now()
    people = population(con, fading_usernames)
    if len(people.user_ids) == 0:
        raise ValueError("No users yet: load the demo first (`workbench demo`).")
    rng = np.random.default_rng(seed + 1)
    days = np.sort(rng.choice(DAYS, size=n, p=day_weights(end)))
    written = 0
    while written < n:
        size = min(chunk, n - written)
        batch = generate(rng, size, end=end, people=people, day=days[written : written + size])
        written += insert(con, batch.sort_by("created_at"))
        if progress:
            progress(written, n)
    return written
