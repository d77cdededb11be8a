"""Daily rollups of `llm_calls`: what every Usage query reads instead of ten million raw rows.

The rollups are append-only. Whoever writes llm_calls rows calls `add` with a filter naming those
rows, in the same transaction, so the rollups are never behind the facts and two writers never
update the same row. Readers SUM over their groups, so duplicate keys are harmless; `compact`
merges them now and then. `rebuild` recomputes days from the raw rows (after a price correction).
"""

from __future__ import annotations

import threading
from datetime import date

import duckdb

from workbench.db import _IN_TRANSACTION, atomic
from workbench.errors import WorkbenchError

LATENCY_BASE = 1.05  # histogram buckets 5% wide: a percentile is within 2.5% of the exact one
KEYS = ("day", "org_id", "project_id", "user_id", "provider", "model", "operation_type")
MODEL_KEYS = ("day", "org_id", "provider", "model", "operation_type")
PEOPLE_KEYS = ("day", "org_id", "project_id", "user_id")
USAGE_MEASURES = (
    ("calls", "count(*)"),
    ("error_calls", "count(*) FILTER (WHERE status <> 'ok')"),
    ("estimated_calls", "count(*) FILTER (WHERE tokens_estimated)"),
    ("prompt_tokens", "sum(prompt_tokens)"),
    ("completion_tokens", "sum(completion_tokens)"),
    ("cached_tokens", "sum(cached_tokens)"),
    ("embedding_tokens", "sum(embedding_tokens)"),
    ("total_tokens", "sum(total_tokens)"),
    ("cost_usd", "coalesce(sum(cost_usd), 0)"),
    ("unpriced_calls", "count(*) FILTER (WHERE cost_usd IS NULL)"),
    ("unpriced_tokens", "coalesce(sum(total_tokens) FILTER (WHERE cost_usd IS NULL), 0)"),
    ("latency_ms_sum", "coalesce(sum(latency_ms), 0)"),
    ("latency_calls", "count(latency_ms)"),
)
# table -> (key columns, measures as (column, SQL over llm_calls), extra filter)
TABLES: dict[str, tuple[tuple[str, ...], tuple[tuple[str, str], ...], str]] = {
    "usage_daily": (KEYS, USAGE_MEASURES, ""),
    # the same at coarser keys, for the queries that need no finer one (`smallest`): at ten million
    # calls 3.6 thousand and 200 thousand rows instead of 1.7 million
    "usage_model_daily": (MODEL_KEYS, USAGE_MEASURES, ""),
    "usage_project_user_daily": (PEOPLE_KEYS, USAGE_MEASURES, ""),
    "usage_latency_daily": (
        (*KEYS, "bucket"),
        (("calls", "count(*)"),),
        " AND latency_ms IS NOT NULL",
    ),
    # the same without project and user
    "usage_latency_model_daily": (
        (*MODEL_KEYS, "bucket"),
        (("calls", "count(*)"),),
        " AND latency_ms IS NOT NULL",
    ),
    "usage_conversation_daily": (
        (*KEYS, "conversation_id"),
        (
            ("calls", "count(*)"),
            ("total_tokens", "sum(total_tokens)"),
            ("cost_usd", "coalesce(sum(cost_usd), 0)"),
            ("unpriced_calls", "count(*) FILTER (WHERE cost_usd IS NULL)"),
        ),
        " AND conversation_id IS NOT NULL",
    ),
}
# the usage sums and the latency histograms, each from its smallest rollup to its finest
USAGE = ("usage_model_daily", "usage_project_user_daily", "usage_daily")
LATENCY = ("usage_latency_model_daily", "usage_latency_daily")
WITHOUT_USERS = tuple(table for table, (keys, _m, _f) in TABLES.items() if "user_id" not in keys)
_SOURCE = {
    "day": "created_at::DATE",
    "bucket": f"round(ln(greatest(latency_ms, 1)) / ln({LATENCY_BASE}))::SMALLINT",
}
COMPACT_AFTER = 20_000  # rows added since the last compaction
_compacting = threading.Lock()


def smallest(tables: tuple[str, ...], columns: set[str]) -> str:
    """The first of `tables` (smallest first) whose keys hold every one of `columns`."""
    return next(table for table in tables if columns <= set(TABLES[table][0]))


def _aggregate(table: str, where: str) -> str:
    keys, measures, extra_filter = TABLES[table]
    cols = [f"{_SOURCE.get(k, k)} AS {k}" for k in keys] + [f"{sql} AS {name}" for name, sql in measures]
    return f"SELECT {', '.join(cols)} FROM llm_calls WHERE ({where}){extra_filter} GROUP BY ALL"


def _columns(table: str) -> list[str]:
    keys, measures, _ = TABLES[table]
    return [*keys, *(name for name, _sql in measures)]


def add(
    con: duckdb.DuckDBPyConnection,
    where: str,
    params: list | None = None,
    tables: tuple[str, ...] = tuple(TABLES),
) -> None:
    """Add the llm_calls rows matching `where` (ones just written) to every rollup."""
    for table in tables:
        con.execute(
            f"INSERT INTO {table} ({', '.join(_columns(table))}) {_aggregate(table, where)}",
            list(params or []),
        )


def rebuild(
    con: duckdb.DuckDBPyConnection,
    org_id: int | None = None,
    since: date | None = None,
    providers: list[str] | None = None,
    tables: tuple[str, ...] = tuple(TABLES),
) -> None:
    """Recompute the rollups (these tables) from the raw rows, for this organisation, the days
    from `since` and these providers (everything when all are None), in one transaction. A rollup
    without the provider (usage_project_user_daily) is recomputed for all providers of those days."""
    with atomic(con):
        by_provider = tuple(table for table in tables if "provider" in TABLES[table][0])
        _recompute(con, by_provider, org_id, since, providers)
        _recompute(con, tuple(t for t in tables if t not in by_provider), org_id, since, None)


def _recompute(con, tables: tuple[str, ...], org_id: int | None, since: date | None,
               providers: list[str] | None) -> None:
    rollup_where, raw_where, params = ["true"], ["true"], []
    if org_id is not None:
        rollup_where.append("org_id = ?")
        raw_where.append("org_id = ?")
        params.append(org_id)
    if since is not None:
        rollup_where.append("day >= ?")
        raw_where.append("created_at >= ?")
        params.append(since)
    if providers:
        marks = ", ".join("?" * len(providers))
        rollup_where.append(f"provider IN ({marks})")
        raw_where.append(f"provider IN ({marks})")
        params.extend(providers)
    for table in tables:
        con.execute(f"DELETE FROM {table} WHERE {' AND '.join(rollup_where)}", params)
    if tables:
        add(con, " AND ".join(raw_where), params, tables)


def compact(con: duckdb.DuckDBPyConnection, force: bool = False) -> int:
    """Merge the rollups' duplicate keys once enough rows have been added since the last time.
    Returns the number of tables compacted; skips quietly when another thread is at it."""
    if con in _IN_TRANSACTION or not _compacting.acquire(blocking=False):
        return 0  # never inside a caller's transaction, never twice at once
    try:
        done = 0
        # every table's rows in one statement (on the team profile: one read of the lake's catalog)
        counts = con.execute(f"SELECT {', '.join(f'(SELECT count(*) FROM {t})' for t in TABLES)}").fetchone()
        before = dict(con.execute("SELECT table_name, compacted_rows FROM usage_rollup_state").fetchall())
        for table, rows in zip(TABLES, counts, strict=True):
            if not force and table in before and rows - before[table] < COMPACT_AFTER:
                continue
            _compact_table(con, table)
            done += 1
        tidy = getattr(con, "tidy_lake", None)  # the team profile's lake: files merged, old ones deleted
        if done and tidy:
            tidy()
        return done
    finally:
        _compacting.release()


def _compact_table(con, table: str) -> None:
    """Merge the rows of the days where a key has several rows (the days written to since the last
    merge), leaving the other days' rows, and their files in a lake, as they are."""
    keys, measures, _ = TABLES[table]
    sums = [f"sum({name})::{'DOUBLE' if name == 'cost_usd' else 'BIGINT'} AS {name}" for name, _ in measures]
    rows = 0
    try:
        with atomic(con):
            days = [day for (day,) in con.execute(
                f"SELECT DISTINCT day FROM (SELECT {', '.join(keys)} FROM {table} GROUP BY ALL"
                " HAVING count(*) > 1) ORDER BY day"
            ).fetchall()]
            if days:
                # days as a range and a list: the range prunes a lake's files by their statistics
                where = f"day BETWEEN ? AND ? AND day IN ({', '.join('?' * len(days))})"
                params = [days[0], days[-1], *days]
                merged = con.sql(
                    f"SELECT {', '.join(keys)}, {', '.join(sums)} FROM {table} WHERE {where}"
                    " GROUP BY ALL ORDER BY day, org_id", params=params
                ).to_arrow_table()
                con.execute(f"DELETE FROM {table} WHERE {where}", params)
                con.register("rollup_merged", merged)
                try:
                    con.execute(
                        f"INSERT INTO {table} ({', '.join(_columns(table))})"
                        f" SELECT {', '.join(_columns(table))} FROM rollup_merged"
                    )
                finally:
                    con.unregister("rollup_merged")
            rows = con.execute(f"SELECT count(*) FROM {table}").fetchall()[0][0]
    except WorkbenchError:
        return  # a concurrent writer touched the same rows: the next reader compacts instead
    # apart from the merge: the team profile keeps the rollups in its lake and this row in
    # PostgreSQL, and one transaction writes one of them (a lost row only brings the next merge nearer)
    con.execute(
        "INSERT OR REPLACE INTO usage_rollup_state (table_name, compacted_rows,"
        " compacted_at) VALUES (?, ?, current_localtimestamp())",
        [table, rows],
    )


def differences(con: duckdb.DuckDBPyConnection) -> list[tuple]:
    """(day, table) of every rollup day whose rows differ from the raw rows' aggregate, at the
    rollup's full key and every measure; empty when the rollups are right. For doctor and tests."""
    found = set()
    for table in TABLES:
        keys, measures, _ = TABLES[table]
        sums = ", ".join(f"sum({m}) AS {m}" for m, _sql in measures)
        same_key = " AND ".join(f"r.{k} IS NOT DISTINCT FROM a.{k}" for k in keys)
        differ = " OR ".join(
            f"abs(coalesce(r.{m}, 0) - coalesce(a.{m}, 0)) > 1e-9 * (1 + abs(coalesce(r.{m}, 0)))"
            for m, _sql in measures
        )
        rows = con.execute(
            f"SELECT DISTINCT coalesce(r.day, a.day) FROM ({_aggregate(table, 'true')}) r"
            f" FULL JOIN (SELECT {', '.join(keys)}, {sums} FROM {table} GROUP BY ALL) a ON {same_key}"
            f" WHERE r.day IS NULL OR a.day IS NULL OR {differ}"
        ).fetchall()
        found |= {(day, table) for (day,) in rows}
    return sorted(found)
