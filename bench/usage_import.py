"""Usage logs at scale: import 1,000,000 LLM calls from one Parquet file through
`usage_import.import_usage` (parse, validate every row, resolve users and projects, normalise
models, price from the catalogue, one Arrow insert, rollups) into an empty database.

    python bench/usage_import.py [rows]        # default 1000000

Baseline measured in the same run: the same rows, already in llm_calls' shape (ids resolved,
timestamps local, models clean), inserted into another empty database with one plain Arrow
`INSERT ... SELECT`: no parsing, validation, pricing or rollups. Two files are timed: timestamps as
a Parquet timestamp column, and as ISO 8601 strings with a zone (the slower parse).
"""

from __future__ import annotations

import io
import os
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench import home  # noqa: E402
from workbench.accounts import auth, organisations, projects, users  # noqa: E402
from workbench.settings import Settings  # noqa: E402
from workbench.usage import imports as usage_import  # noqa: E402

USERS = [f"user{i:02d}" for i in range(20)]
PROJECTS = ["Support", "Sales", "Research"]
MODELS = ["openai/gpt-4o-mini", "openai/GPT-4o", "anthropic/claude-sonnet-4", "deepseek/deepseek-chat",
          "openai/text-embedding-3-small", "openai/ft:gpt-4o-mini:bench:v1"]  # fmt: skip


def usage_log(n: int, seed: int = 11) -> pl.DataFrame:
    """`n` calls of a usage log over the 90 days before 2026-11-01, with ids, users, projects,
    provider-prefixed models (one unpriced) and token counts."""
    rng = np.random.default_rng(seed)
    end = datetime(2026, 11, 1, tzinfo=UTC).timestamp()
    seconds = np.sort(rng.integers(int(end) - 90 * 86400, int(end), n))
    model = rng.integers(0, len(MODELS), n)
    embedding = model == MODELS.index("openai/text-embedding-3-small")
    prompt = np.where(embedding, 0, rng.lognormal(7.0, 0.6, n).astype(np.int64) + 50)
    project = rng.integers(-1, len(PROJECTS), n)
    return pl.DataFrame(
        {
            "id": [f"call-{i:08d}" for i in range(n)],
            "timestamp": pl.Series(seconds * 1_000_000).cast(pl.Datetime("us")).dt.replace_time_zone("UTC"),
            "user": np.array(USERS)[rng.integers(0, len(USERS), n)],
            "model": np.array(MODELS)[model],
            "operation": np.where(embedding, "embedding", "chat"),
            "prompt_tokens": prompt,
            "completion_tokens": np.where(embedding, 0, rng.lognormal(5.3, 0.5, n).astype(np.int64) + 10),
            "cached_tokens": (prompt * rng.uniform(0, 0.4, n)).astype(np.int64),
            "embedding_tokens": np.where(embedding, rng.integers(200, 8000, n), 0),
            "latency_ms": rng.lognormal(7.0, 0.5, n).astype(np.int64),
            "project": pl.Series(np.array(PROJECTS)[np.maximum(project, 0)]).set(
                pl.Series(project < 0), None
            ),
        }
    )


def parquet(frame: pl.DataFrame) -> bytes:
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    return buffer.getvalue()


def fresh_home(root: Path, name: str):
    """An empty database with one organisation, its admin, USERS and PROJECTS."""
    cfg = Settings(home=root / name, embedding_backend="hash")
    home.init(cfg)
    store = home.open_store(cfg)
    with store.transaction() as con:
        org = organisations.create_organization(con, "Bench")
        users.insert_user(
            con, org, "admin", "admin@bench.example", auth.hash_password("bench-password"), "admin"
        )
        for name in USERS:
            users.insert_user(con, org, name, f"{name}@bench.example", "x", "analyst")
        ctx = auth.context_for(con, "admin")
        for project in PROJECTS:
            projects.create_project(ctx, con, project)
    return store


def baseline(store, frame: pl.DataFrame) -> float:
    """Seconds for one plain Arrow INSERT of the rows, already in llm_calls' shape."""
    with store.connect() as con:
        ids = dict(con.execute("SELECT username, id FROM users").fetchall())
        projects = dict(con.execute("SELECT name, id FROM projects").fetchall())
        org = con.execute("SELECT id FROM organizations").fetchall()[0][0]
    split = frame["model"].str.to_lowercase().str.split_exact("/", 1).struct.unnest()
    table = frame.select(
        pl.lit(org, pl.Int32).alias("org_id"),
        pl.col("user").replace_strict(ids, return_dtype=pl.Int32).alias("user_id"),
        pl.col("project").replace_strict(projects, default=None, return_dtype=pl.Int32).alias("project_id"),
        split["field_0"].alias("provider"),
        split["field_1"].alias("model"),
        pl.col("operation").alias("operation_type"),
        pl.col("prompt_tokens", "completion_tokens", "cached_tokens", "embedding_tokens").cast(pl.Int32),
        (pl.col("prompt_tokens") + pl.col("completion_tokens") + pl.col("embedding_tokens"))
        .cast(pl.Int32)
        .alias("total_tokens"),
        pl.col("latency_ms").cast(pl.Int32),
        pl.col("timestamp").dt.replace_time_zone(None).alias("created_at"),
        pl.col("id").alias("external_id"),
    ).to_arrow()
    columns = ", ".join(table.column_names)
    with store.connect() as con:
        started = time.perf_counter()
        con.begin()
        con.register("plain_batch", table)
        con.execute(f"INSERT INTO llm_calls ({columns}) SELECT {columns} FROM plain_batch")
        con.unregister("plain_batch")
        con.commit()
        return time.perf_counter() - started


def timed_import(store, data: bytes) -> tuple[float, dict]:
    with store.connect() as con:
        ctx = auth.context_for(con, "admin")
        started = time.perf_counter()
        result = usage_import.import_usage(ctx, con, "usage.parquet", data)
        return time.perf_counter() - started, result


def main(n: int) -> None:
    frame = usage_log(n)
    typed = parquet(frame)
    text = parquet(frame.with_columns(pl.col("timestamp").dt.strftime("%Y-%m-%dT%H:%M:%S%:z")))
    print(f"{n:,} calls; Parquet {len(typed) / 1e6:.1f} MB (timestamp column), {len(text) / 1e6:.1f} MB"
          f" (ISO strings); {os.cpu_count()} cores")  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        plain = baseline(fresh_home(root, "baseline"), frame)
        print(
            f"baseline: plain Arrow INSERT of the same rows (no validation, pricing, rollups): {plain:.2f} s"
        )
        for label, data in (("timestamp column", typed), ("ISO strings", text)):
            seconds, result = timed_import(fresh_home(root, label.replace(" ", "-")), data)
            print(f"import_usage, Parquet with {label}: {seconds:.2f} s ({n / seconds:,.0f} rows/s,"
                  f" {seconds / plain:.1f}x the baseline); {result['rows']:,} rows,"
                  f" {result['unpriced']:,} unpriced")  # fmt: skip
        store = fresh_home(root, "again")
        timed_import(store, typed)
        seconds, result = timed_import(store, typed)
        print(
            f"the same file again: {seconds:.2f} s, {result['rows']:,} rows,"
            f" {result['skipped_existing']:,} skipped"
        )


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 1_000_000)
