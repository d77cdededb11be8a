"""The Usage page's numbers: tokens, cost and latency of the organisation's LLM calls.

Every query reads the daily rollups (`rollup.py`), filtered by the acting user's organisation,
and SUMs over its groups; only the drill-down to single calls reads raw `llm_calls` rows. Costs
sum the priced calls; unpriced calls are counted beside them, never as $0.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from datetime import date, datetime, time, timedelta
from time import monotonic

import duckdb
import polars as pl

from workbench.accounts.context import Context
from workbench.errors import InvalidInput
from workbench.usage import rollup

# What a chart can be stacked or broken down by: name -> (the rollup column grouped on, the label
# of a group over the aggregated rows `a` (key column k), the join that label needs). Groups are
# formed on ids and named after aggregating, so a query never joins millions of rows.
DIMENSIONS = {
    "provider": ("provider", "a.k", ""),
    "model": ("model", "a.k", ""),
    "operation": ("operation_type", "a.k", ""),
    "project": ("project_id", "coalesce(p.name, '(no project)')", " LEFT JOIN projects p ON p.id = a.k"),
    "user": ("user_id", "coalesce(u.username, '(deleted user)')", " LEFT JOIN users u ON u.id = a.k"),
}
# The cost of a group: NULL (unknown) when every call in it is unpriced, never $0.
PRICED_COST = "CASE WHEN sum(calls) = sum(unpriced_calls) THEN NULL ELSE sum(cost_usd) END"
MEASURES = {
    "cost": PRICED_COST,
    "tokens": "sum(r.total_tokens)::BIGINT",
    "calls": "sum(r.calls)::BIGINT",
}
PERIODS = ("Last 7 days", "Last 30 days", "Last 90 days", "Month to date", "Previous month", "Custom")


@dataclass(frozen=True)
class Filters:
    """The period [start, end) and the optional filters of the Usage page; empty tuple = all."""

    start: date
    end: date
    projects: tuple[str, ...] = ()
    users: tuple[str, ...] = ()
    providers: tuple[str, ...] = ()
    models: tuple[str, ...] = ()
    operations: tuple[str, ...] = ()
    extra: dict = field(default_factory=dict, compare=False)  # a drill-down's dimension = value

    @property
    def days(self) -> int:
        return (self.end - self.start).days

    def previous(self) -> Filters:
        """The same filters over the period of the same length just before."""
        return replace(self, start=self.start - timedelta(days=self.days), end=self.start)


def period(
    name: str, today: date | None = None, custom: tuple[date, date] | None = None
) -> tuple[date, date]:
    """[start, end) of a named period ending today (inclusive of today)."""
    today = today or date.today()
    end = today + timedelta(days=1)
    words = name.split()
    if len(words) == 3 and words[0] == "Last" and words[1].isdigit() and words[2] == "days":
        return last_days(int(words[1]), today)
    if name == "Month to date":
        return today.replace(day=1), end
    if name == "Previous month":
        first = today.replace(day=1)
        return (first - timedelta(days=1)).replace(day=1), first
    if name == "Custom" and custom:
        start, last = custom
        if last < start:
            raise InvalidInput("The period ends before it starts.")
        return start, last + timedelta(days=1)
    raise InvalidInput(f"Unknown period {name!r}: choose one of {', '.join(PERIODS)}.")


def last_days(days: int, today: date | None = None) -> tuple[date, date]:
    """[start, end) of the last `days` days, today included."""
    end = (today or date.today()) + timedelta(days=1)
    return end - timedelta(days=days), end


def _where(ctx: Context, f: Filters, alias: str = "r", raw: bool = False) -> tuple[str, list]:
    """The WHERE clause of `f` for a rollup (or raw llm_calls with raw=True), always the org's."""
    day = f"{alias}.created_at" if raw else f"{alias}.day"
    sql, params = [f"{alias}.org_id = ?", f"{day} >= ?", f"{day} < ?"], [ctx.org_id, f.start, f.end]
    for values, column in ((f.providers, "provider"), (f.models, "model"), (f.operations, "operation_type")):
        if values:
            sql.append(f"{alias}.{column} IN (SELECT unnest(?::VARCHAR[]))")
            params.append(list(values))
    if f.projects:
        sql.append(
            f"{alias}.project_id IN (SELECT id FROM projects WHERE org_id = ? AND name IN"
            " (SELECT unnest(?::VARCHAR[])))"
        )
        params += [ctx.org_id, list(f.projects)]
    if f.users:
        sql.append(
            f"{alias}.user_id IN (SELECT id FROM users WHERE org_id = ? AND username IN"
            " (SELECT unnest(?::VARCHAR[])))"
        )
        params += [ctx.org_id, list(f.users)]
    for dim, value in f.extra.items():
        if dim == "day":
            sql.append(f"{day} >= ? AND {day} < ?")
            params += [value, value + timedelta(days=1)]
        elif dim == "range":  # days first to last, both included
            sql.append(f"{day} >= ? AND {day} < ?")
            params += [value[0], value[1] + timedelta(days=1)]
        elif dim == "project":
            sql.append(
                f"{alias}.project_id IS NULL"
                if value == "(no project)"
                else f"{alias}.project_id IN (SELECT id FROM projects WHERE org_id = ? AND name = ?)"
            )
            params += [] if value == "(no project)" else [ctx.org_id, value]
        elif dim == "user":
            sql.append(f"{alias}.user_id IN (SELECT id FROM users WHERE org_id = ? AND username = ?)")
            params += [ctx.org_id, value]
        else:
            sql.append(f"{alias}.{_dimension(dim)[0]} = ?")
            params.append(value)
    return " AND ".join(sql), params


def _dimension(name: str) -> tuple[str, str, str]:
    if name not in DIMENSIONS:
        raise InvalidInput(f"Unknown dimension {name!r}: choose one of {', '.join(DIMENSIONS)}.")
    return DIMENSIONS[name]


def _frame(con, sql: str, params: list) -> pl.DataFrame:
    return pl.from_arrow(con.sql(sql, params=params).to_arrow_table())


# how often a process looks whether the rollups need a merge (rollup.compact): the look costs
# a count of each rollup, about 40 ms on the team profile's lake, and a merge may wait a minute
REFRESH_EVERY_S = 60.0
_refreshed: dict[int, float] = {}  # id of the database (the team profile's store, else None) -> when
_refreshed_guard = threading.Lock()


def refresh(con: duckdb.DuckDBPyConnection) -> None:
    """Merge the rollups' duplicate keys when enough have piled up, looking at most once a minute
    per process and database. Nothing a query answers depends on it: a query sums a key's rows."""
    database = id(getattr(con, "store", None))
    with _refreshed_guard:
        if monotonic() - _refreshed.get(database, -REFRESH_EVERY_S) < REFRESH_EVERY_S:
            return
        _refreshed[database] = monotonic()
    rollup.compact(con)


def totals(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> dict:
    """The KPI cards: this period and the previous one, each with tokens, cost, unpriced calls,
    calls, errors, mean and p95 latency, active users, conversations and cost per conversation.
    Cost per conversation divides only what belongs to conversations (`conversation_cost`, of the
    `conversation_calls` made in one) by the conversations, never the period's whole cost: most
    calls (indexing, search, imported logs) belong to none. One pass over both periods per rollup."""
    ctx.require("usage:read")
    both = replace(f, start=f.previous().start)
    where, params = _where(ctx, both)
    now, params = "(r.day >= ?::DATE)", [f.start, *params]
    rows = con.execute(
        f"SELECT {now} AS current, coalesce(sum(calls), 0)::BIGINT, coalesce(sum(total_tokens), 0)::BIGINT,"
        f" {PRICED_COST}, coalesce(sum(unpriced_calls), 0)::BIGINT,"
        " coalesce(sum(error_calls), 0)::BIGINT,"
        " round(sum(latency_ms_sum) / nullif(sum(latency_calls), 0))::BIGINT, count(DISTINCT user_id)"
        f" FROM usage_daily r WHERE {where} GROUP BY ALL",
        params,
    ).fetchall()
    names = ("calls", "tokens", "cost", "unpriced_calls", "errors", "mean_latency_ms", "active_users")
    empty = dict.fromkeys(names, 0) | {"mean_latency_ms": None}
    out = {key: dict(empty) for key in ("current", "previous")}
    for row in rows:
        out["current" if row[0] else "previous"] = dict(zip(names, row[1:], strict=True))
    for key, part in _conversation_totals(con, where, params, now).items():
        out[key] |= part
    p95 = latency_percentiles(ctx, con, both, by=None, split=f.start)
    for key in out:
        match = p95.filter(pl.col("period") == key)
        out[key]["p95_latency_ms"] = match["p95"][0] if len(match) else None
    return out


def _conversation_totals(con, where: str, params: list, now: str) -> dict:
    rows = con.execute(
        f"SELECT {now}, count(DISTINCT conversation_id), coalesce(sum(calls), 0)::BIGINT,"
        " coalesce(sum(cost_usd), 0), coalesce(sum(unpriced_calls), 0)::BIGINT"
        f" FROM usage_conversation_daily r WHERE {where} GROUP BY ALL",
        params,
    ).fetchall()
    none = {"conversations": 0, "conversation_calls": 0, "conversation_cost": 0.0}
    out = {key: none | {"cost_per_conversation": None} for key in ("current", "previous")}
    for current, n, calls, cost, unpriced_calls in rows:
        known = None if unpriced_calls else cost  # an unpriced call makes it unknown, never $0
        out["current" if current else "previous"] = {
            "conversations": n,
            "conversation_calls": calls,
            "conversation_cost": known,
            "cost_per_conversation": None if known is None or not n else known / n,
        }
    return out


def _grouped(by: str, inner: str, outer: str, order: str) -> str:
    """Aggregate `inner` (selecting k and the sums as `a`) by the dimension's key, then label it."""
    _column, label, join = _dimension(by)
    return f"SELECT {label} AS {by}, {outer} FROM ({inner}) a{join} ORDER BY {order}"


def over_time(
    ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, *, by: str = "provider", measure: str = "cost"
) -> pl.DataFrame:
    """One row per day and `by` value: the measure (cost, tokens or calls), for a stacked chart."""
    ctx.require("usage:read")
    if measure not in MEASURES:
        raise InvalidInput(f"Unknown measure {measure!r}: choose one of {', '.join(MEASURES)}.")
    where, params = _where(ctx, f)
    inner = (
        f"SELECT r.day, r.{_dimension(by)[0]} AS k, {MEASURES[measure]} AS {measure},"
        f" sum(r.unpriced_calls)::BIGINT AS unpriced_calls FROM usage_daily r WHERE {where} GROUP BY ALL"
    )
    return _frame(con, _grouped(by, inner, f"a.day, a.{measure}, a.unpriced_calls", f"a.day, {by}"), params)


def breakdown(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, *, by: str = "model") -> pl.DataFrame:
    """Calls, tokens by type, cost and unpriced calls per `by` value, the costliest first."""
    ctx.require("usage:read")
    where, params = _where(ctx, f)
    sums = ", ".join(
        f"sum(r.{c})::BIGINT AS {c}"
        for c in (
            "calls",
            "total_tokens",
            "prompt_tokens",
            "completion_tokens",
            "cached_tokens",
            "embedding_tokens",
        )
    )
    inner = (
        f"SELECT r.{_dimension(by)[0]} AS k, {sums}, {PRICED_COST} AS cost_usd,"
        " sum(r.unpriced_calls)::BIGINT AS unpriced_calls, sum(r.error_calls)::BIGINT AS errors,"
        " round(sum(r.latency_ms_sum) / nullif(sum(r.latency_calls), 0))::BIGINT AS mean_latency_ms"
        f" FROM usage_daily r WHERE {where} GROUP BY ALL"
    )
    return _frame(con, _grouped(by, inner, "a.* EXCLUDE (k)", f"a.cost_usd DESC, a.calls DESC, {by}"), params)


def token_types(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> pl.DataFrame:
    """Tokens by type: uncached prompt, cached prompt, completion, embedding."""
    ctx.require("usage:read")
    where, params = _where(ctx, f)
    row = con.execute(
        "SELECT coalesce(sum(prompt_tokens - cached_tokens), 0), coalesce(sum(cached_tokens), 0),"
        " coalesce(sum(completion_tokens), 0), coalesce(sum(embedding_tokens), 0)"
        f" FROM usage_daily r WHERE {where}",
        params,
    ).fetchall()[0]
    return pl.DataFrame(
        {
            "token_type": ["prompt (uncached)", "prompt (cached)", "completion", "embedding"],
            "tokens": [int(v) for v in row],
        }
    )


def latency_percentiles(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    f: Filters,
    *,
    by: str | None = "model",
    split: date | None = None,
) -> pl.DataFrame:
    """p50, p95 and p99 latency per `by` value (or overall), from the log histogram (within 2.5%).
    With `split`, one row per period instead: 'previous' before that day, 'current' from it."""
    ctx.require("usage:read")
    where, params = _where(ctx, f)
    if split is not None:
        key, label, join, name = (
            "CASE WHEN r.day >= ?::DATE THEN 'current' ELSE 'previous' END",
            "a.k",
            "",
            "period",
        )
        params = [split, *params]
    elif by is None:
        key, label, join, name = "'all'", "a.k", "", "scope"
    else:
        column, label, join = _dimension(by)
        key, name = f"r.{column}", by
    # the small histogram answers unless a project or user is involved
    table = (
        "usage_latency_daily"
        if f.projects or f.users or by in ("project", "user") or {"project", "user"} & set(f.extra)
        else "usage_latency_model_daily"
    )
    rows = con.execute(
        f"SELECT k, list(bucket ORDER BY bucket), list(n ORDER BY bucket) FROM (SELECT {key} AS k, r.bucket,"
        f" sum(r.calls)::BIGINT AS n FROM {table} r WHERE {where} GROUP BY ALL) GROUP BY k",
        params,
    ).fetchall()
    stats = pl.DataFrame(
        [(k, *_quantiles(buckets, counts)) for k, buckets, counts in rows],
        schema={
            "k": pl.Utf8 if by not in ("project", "user") or split else pl.Int64,
            "p50": pl.Int64,
            "p95": pl.Int64,
            "p99": pl.Int64,
            "calls": pl.Int64,
        },
        orient="row",
    )
    if join:  # name the project or user ids after the small result is known
        con.register("latency_stats", stats.to_arrow())
        try:
            stats = pl.from_arrow(
                con.sql(f"SELECT {label} AS k, a.* EXCLUDE (k) FROM latency_stats a{join}").to_arrow_table()
            )
        finally:
            con.unregister("latency_stats")
    return stats.rename({"k": name}).sort("p95", descending=True)


def _quantiles(buckets: list[int], counts: list[int]) -> tuple[int, int, int, int]:
    """p50, p95, p99 (ms) and the number of calls of one histogram."""
    total, cum, out = sum(counts), 0, []
    targets = iter((0.5, 0.95, 0.99))
    q = next(targets)
    for bucket, n in zip(buckets, counts, strict=True):
        cum += n
        while q is not None and cum >= q * total:
            out.append(round(rollup.LATENCY_BASE**bucket))
            q = next(targets, None)
    return (*out, total)


def top_users(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, *, limit: int = 10) -> pl.DataFrame:
    """The users who cost most in the period, with their plan."""
    ctx.require("usage:read")
    where, params = _where(ctx, f)
    return _frame(
        con,
        "SELECT coalesce(u.username, '(deleted user)') AS user, u.plan, a.* EXCLUDE (k)"
        " FROM (SELECT r.user_id AS k, sum(r.calls)::BIGINT AS calls,"
        " sum(r.total_tokens)::BIGINT AS tokens, "
        f"{PRICED_COST} AS cost_usd,"
        " sum(r.unpriced_calls)::BIGINT AS unpriced_calls"
        f" FROM usage_daily r WHERE {where} GROUP BY ALL ORDER BY cost_usd DESC, tokens DESC"
        " LIMIT ?) a LEFT JOIN users u ON u.id = a.k ORDER BY a.cost_usd DESC, a.tokens DESC",
        params + [limit],
    )


def top_conversations(
    ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, *, limit: int = 10
) -> pl.DataFrame:
    """The conversations that cost most in the period."""
    ctx.require("usage:read")
    where, params = _where(ctx, f)
    return _frame(
        con,
        "SELECT v.uuid::VARCHAR AS conversation, coalesce(v.title, '(untitled)') AS title,"
        " coalesce(u.username, '(deleted user)') AS user, a.* EXCLUDE (k)"
        " FROM (SELECT r.conversation_id AS k, min(r.day) AS first_day,"
        " sum(r.calls)::BIGINT AS calls, sum(r.total_tokens)::BIGINT AS tokens,"
        " "
        f"{PRICED_COST} AS cost_usd, sum(r.unpriced_calls)::BIGINT AS unpriced_calls"
        f" FROM usage_conversation_daily r WHERE {where} GROUP BY ALL"
        " ORDER BY cost_usd DESC, tokens DESC LIMIT ?) a"
        " JOIN conversations v ON v.id = a.k LEFT JOIN users u ON u.id = v.user_id"
        " ORDER BY a.cost_usd DESC, a.tokens DESC",
        params + [limit],
    )


def unpriced(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> pl.DataFrame:
    """The models with unpriced calls in the period: what to add to the price catalogue."""
    ctx.require("usage:read")
    where, params = _where(ctx, f)
    return _frame(
        con,
        "SELECT r.provider, r.model, sum(r.unpriced_calls)::BIGINT AS calls,"
        " sum(r.unpriced_tokens)::BIGINT AS tokens, min(r.day) AS first_day, max(r.day) AS last_day"
        f" FROM usage_daily r WHERE {where} AND r.unpriced_calls > 0 GROUP BY ALL"
        " ORDER BY calls DESC",
        params,
    )


def options(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values each filter offers: the organisation's projects, users, providers, models, operations."""
    ctx.require("usage:read")
    distinct = con.execute(
        "SELECT list(DISTINCT provider ORDER BY provider), list(DISTINCT model ORDER BY model),"
        " list(DISTINCT operation_type ORDER BY operation_type) FROM usage_daily"
        " WHERE org_id = ?",
        [ctx.org_id],
    ).fetchall()[0]
    names = con.execute(
        "SELECT (SELECT list(name ORDER BY name) FROM projects WHERE org_id = ?),"
        " (SELECT list(username ORDER BY username) FROM users WHERE org_id = ?)",
        [ctx.org_id, ctx.org_id],
    ).fetchall()[0]
    return {
        "providers": distinct[0] or [],
        "models": distinct[1] or [],
        "operations": distinct[2] or [],
        "projects": names[0] or [],
        "users": names[1] or [],
    }


# how far back from the period's end (or now) `calls` looks first, then further: the newest calls
# are found near the end, and a database read through another engine (PostgreSQL, on the team
# profile) copies out only those rows instead of the whole period's (6 s for 30 days at 10M calls)
_LOOK_BACK = (timedelta(hours=1), timedelta(days=1), timedelta(days=7))


def calls(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, *, limit: int = 500) -> pl.DataFrame:
    """The single calls behind a chart selection (the newest first): the one raw-row query. Single
    calls need `metering:read` besides `usage:read`."""
    ctx.require("usage:read")
    ctx.require("metering:read")
    where, params = _where(ctx, f, raw=True)
    sql = (
        "SELECT r.created_at, coalesce(u.username, '(deleted user)') AS user,"
        " coalesce(p.name, '') AS project, r.provider, r.model, r.operation_type AS operation,"
        " r.prompt_tokens, r.cached_tokens, r.completion_tokens, r.embedding_tokens,"
        " r.total_tokens, r.tokens_estimated, r.cost_usd, r.latency_ms, r.status,"
        " v.uuid::VARCHAR AS conversation, r.uuid::VARCHAR AS call"
        f" FROM (SELECT * FROM llm_calls r WHERE {where} AND r.created_at >= ?"
        " ORDER BY r.created_at DESC LIMIT ?) r"
        " LEFT JOIN projects p ON p.id = r.project_id LEFT JOIN users u ON u.id = r.user_id"
        " LEFT JOIN conversations v ON v.id = r.conversation_id ORDER BY r.created_at DESC"
    )
    start = datetime.combine(f.start, time.min)
    end = min(datetime.combine(f.end, time.min), datetime.now().replace(microsecond=0) + timedelta(hours=1))
    for back in _LOOK_BACK:
        since = end - back
        if since <= start:
            break
        found = _frame(con, sql, [*params, since, limit])
        if len(found) >= limit:  # every call after `since` was looked at: these are the newest
            return found
    return _frame(con, sql, [*params, start, limit])


def report(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    days: int = 30,
    by: str = "model",
    today: date | None = None,
) -> dict:
    """What `workbench usage report` prints: the page's totals and breakdown for the last `days`."""
    start, end = last_days(days, today)
    f = Filters(start, end)
    current = totals(ctx, con, f)["current"]
    rows = breakdown(ctx, con, f, by=by)
    return {
        "organization": ctx.org_name,
        "from": start,
        "to": end - timedelta(days=1),
        "by": by,
        "totals": current,
        "rows": rows.to_dicts(),
    }
