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

# What a chart can be stacked or broken down by: name -> (the rollup column grouped on, for an id
# the table, column and missing-row text that label it). Groups are formed on ids and named after
# aggregating, so a query never joins millions of rows.
DIMENSIONS = {
    "provider": ("provider", None),
    "model": ("model", None),
    "operation": ("operation_type", None),
    "project": ("project_id", ("projects", "name", "(no project)")),
    "user": ("user_id", ("users", "username", "(deleted user)")),
}
# The cost of a group: NULL (unknown) when every call in it is unpriced, never $0.
PRICED_COST = "CASE WHEN sum(calls) = sum(unpriced_calls) THEN NULL ELSE sum(cost_usd) END"
MEASURES = {"cost": "cost_usd", "tokens": "total_tokens", "calls": "calls"}  # a chart's measure -> its sum
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


def _dimension(name: str) -> tuple[str, tuple[str, str, str] | None]:
    if name not in DIMENSIONS:
        raise InvalidInput(f"Unknown dimension {name!r}: choose one of {', '.join(DIMENSIONS)}.")
    return DIMENSIONS[name]


def _label(name: str, key: str, alias: str) -> tuple[str, str]:
    """The label of dimension `name` whose value is `key` (SQL), and the join that label needs
    (its table named `alias`)."""
    _column, named = _dimension(name)
    if named is None:
        return key, ""
    table, title, missing = named
    return f"coalesce({alias}.{title}, '{missing}')", f" LEFT JOIN {table} {alias} ON {alias}.id = {key}"


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
    calls (indexing, search, imported logs) belong to none. One query: one pass over both periods
    of each rollup (on the team profile each query of the lake first reads its catalog)."""
    ctx.require("usage:read")
    both = replace(f, start=f.previous().start)
    where, params = _where(ctx, both)
    now, params = "(r.day >= ?::DATE) AS current", [f.start, *params]
    rows = con.execute(
        f"WITH d AS (SELECT {now}, coalesce(sum(calls), 0)::BIGINT AS calls,"
        f" coalesce(sum(total_tokens), 0)::BIGINT AS tokens, {PRICED_COST} AS cost,"
        " coalesce(sum(unpriced_calls), 0)::BIGINT AS unpriced_calls, coalesce(sum(error_calls), 0)::BIGINT"
        " AS errors, round(sum(latency_ms_sum) / nullif(sum(latency_calls), 0))::BIGINT AS mean_latency_ms,"
        f" count(DISTINCT user_id) AS active_users FROM {_usage_table(both, ('user',))} r WHERE {where}"
        " GROUP BY ALL),"
        f" c AS (SELECT {now}, count(DISTINCT conversation_id) AS conversations,"
        " coalesce(sum(calls), 0)::BIGINT AS conversation_calls,"
        " coalesce(sum(cost_usd), 0) AS conversation_cost,"
        " coalesce(sum(unpriced_calls), 0)::BIGINT AS conversation_unpriced"
        f" FROM usage_conversation_daily r WHERE {where} GROUP BY ALL),"
        " h AS (SELECT current, list(bucket ORDER BY bucket) AS buckets, list(n ORDER BY bucket) AS counts"
        f" FROM (SELECT {now}, r.bucket, sum(r.calls)::BIGINT AS n FROM {_latency_table(both)} r"
        f" WHERE {where} GROUP BY ALL) GROUP BY ALL)"
        " SELECT * FROM d FULL JOIN c USING (current) FULL JOIN h USING (current)",
        params * 3,
    )
    names = [column[0] for column in rows.description]
    figures = ("calls", "tokens", "cost", "unpriced_calls", "errors", "mean_latency_ms", "active_users")
    empty = dict.fromkeys(figures, 0) | {"mean_latency_ms": None, "p95_latency_ms": None, "conversations": 0,
                                         "conversation_calls": 0, "conversation_cost": 0.0,
                                         "cost_per_conversation": None}
    out = {key: dict(empty) for key in ("current", "previous")}
    for row in rows.fetchall():
        got = dict(zip(names, row, strict=True))
        part = out["current" if got["current"] else "previous"]
        if got["calls"] is not None:  # the period has calls
            part |= {k: got[k] for k in figures}
        if got["conversations"] is not None:  # an unpriced call makes it unknown, never $0
            n = got["conversations"]
            known = None if got["conversation_unpriced"] else got["conversation_cost"]
            part |= {"conversations": n, "conversation_calls": got["conversation_calls"],
                     "conversation_cost": known, "cost_per_conversation": None if known is None or not n
                     else known / n}
        if got["buckets"] is not None:
            part["p95_latency_ms"] = _quantiles(got["buckets"], got["counts"])[1]
    return out


def _needs(f: Filters, dims=()) -> set[str]:
    """The rollup key columns that `f` and a grouping by `dims` read (besides day and org)."""
    named = {DIMENSIONS[d][0] for d in (*dims, *f.extra) if d in DIMENSIONS}
    filtered = {column for values, column in ((f.providers, "provider"), (f.models, "model"),
                (f.operations, "operation_type"), (f.projects, "project_id"), (f.users, "user_id")) if values}
    return named | filtered


def _usage_table(f: Filters, dims=()) -> str:
    """The smallest usage rollup that answers `f` grouped by `dims`."""
    return rollup.smallest(rollup.USAGE, _needs(f, dims))


def _latency_table(f: Filters, by: str | None = None) -> str:
    """The smallest latency histogram that answers `f` grouped by `by`."""
    return rollup.smallest(rollup.LATENCY, _needs(f, (by,)))


# The sums of the usage rollups that a grouping of the Usage page shows (over_time, breakdown,
# token_types, unpriced): name -> SQL; a query computes those its groupings need
_SUMS = {
    "calls": "sum(r.calls)::BIGINT",
    "total_tokens": "sum(r.total_tokens)::BIGINT",
    "prompt_tokens": "sum(r.prompt_tokens)::BIGINT",
    "completion_tokens": "sum(r.completion_tokens)::BIGINT",
    "cached_tokens": "sum(r.cached_tokens)::BIGINT",
    "embedding_tokens": "sum(r.embedding_tokens)::BIGINT",
    "uncached_prompt_tokens": "sum(r.prompt_tokens - r.cached_tokens)::BIGINT",
    "cost_usd": PRICED_COST,
    "unpriced_calls": "sum(r.unpriced_calls)::BIGINT",
    "unpriced_tokens": "sum(r.unpriced_tokens)::BIGINT",
    "errors": "sum(r.error_calls)::BIGINT",
    "mean_latency_ms": "round(sum(r.latency_ms_sum) / nullif(sum(r.latency_calls), 0))::BIGINT",
    "first_day": "min(r.day) FILTER (WHERE r.unpriced_calls > 0)",
    "last_day": "max(r.day) FILTER (WHERE r.unpriced_calls > 0)",
}
BREAKDOWN_COLUMNS = ("calls", "total_tokens", "prompt_tokens", "completion_tokens", "cached_tokens",
                     "embedding_tokens", "cost_usd", "unpriced_calls", "errors", "mean_latency_ms")
TOKEN_TYPES = {
    "prompt (uncached)": "uncached_prompt_tokens",
    "prompt (cached)": "cached_tokens",
    "completion": "completion_tokens",
    "embedding": "embedding_tokens",
}
UNPRICED_COLUMNS = ("unpriced_calls", "unpriced_tokens", "first_day", "last_day")


def _groupings(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    f: Filters,
    sets: dict[str, tuple[str, ...]],
    sums: tuple[str, ...],
) -> dict[str, pl.DataFrame]:
    """For each name in `sets`, the usage rollup's `sums` (names of `_SUMS`) under `f` grouped by its
    dimensions ('day' or a name of DIMENSIONS; () for one row of the whole), each dimension
    labelled: all of them from one pass (GROUPING SETS). One query instead of one per grouping
    matters on the team profile, where each query of the lake first reads the lake's catalog
    (about 15 ms)."""
    dims = list(dict.fromkeys(d for grouping in sets.values() for d in grouping if d != "day"))
    keys = {"day": "r.day"} if any("day" in grouping for grouping in sets.values()) else {}
    keys |= {d: f"r.{_dimension(d)[0]}" for d in dims}
    where, params = _where(ctx, f)
    columns = ", ".join(f"{key} AS k_{name}, grouping({key}) AS g_{name}" for name, key in keys.items())
    groupings = ", ".join(dict.fromkeys(f"({', '.join(keys[d] for d in g)})" for g in sets.values()))
    inner = (
        f"SELECT {columns}{', ' if columns else ''}{', '.join(f'{_SUMS[c]} AS {c}' for c in sums)}"
        f" FROM {_usage_table(f, dims)} r WHERE {where}"
        f" GROUP BY GROUPING SETS ({groupings})"
    )
    labelled = [_label(name, f"a.k_{name}", f"n{i}") for i, name in enumerate(dims)]
    labels = [f"{label} AS {name}" for name, (label, _join) in zip(dims, labelled, strict=True)]
    joins = "".join(join for _label_sql, join in labelled)
    frame = _frame(con, f"SELECT {', '.join(['a.*', *labels])} FROM ({inner}) a{joins}", params)
    out = {}
    for name, grouping in sets.items():
        grouped = pl.all_horizontal(
            [pl.col(f"g_{key}") == (0 if key in grouping else 1) for key in keys] or [pl.lit(True)]
        )
        out[name] = frame.filter(grouped).rename({"k_day": "day"}, strict=False).select(*grouping, *sums)
    return out


def _time_series(rows: pl.DataFrame, by: str, measure: str) -> pl.DataFrame:
    return rows.select(by, "day", pl.col(MEASURES[measure]).alias(measure), "unpriced_calls").sort("day", by)


def _breakdown(rows: pl.DataFrame, by: str) -> pl.DataFrame:
    return rows.select(by, *BREAKDOWN_COLUMNS).sort(
        "cost_usd", "calls", by, descending=[True, True, False], nulls_last=True
    )


def _token_types(rows: pl.DataFrame) -> pl.DataFrame:
    total = rows.row(0, named=True) if len(rows) else {}
    return pl.DataFrame(
        {"token_type": list(TOKEN_TYPES), "tokens": [int(total.get(c) or 0) for c in TOKEN_TYPES.values()]}
    )


def _unpriced(rows: pl.DataFrame) -> pl.DataFrame:
    return (
        rows.filter(pl.col("unpriced_calls") > 0)
        .select("provider", "model", pl.col("unpriced_calls").alias("calls"),
                pl.col("unpriced_tokens").alias("tokens"), "first_day", "last_day")
        .sort("calls", "provider", "model", descending=[True, False, False])
    )


def _measure(measure: str) -> str:
    if measure not in MEASURES:
        raise InvalidInput(f"Unknown measure {measure!r}: choose one of {', '.join(MEASURES)}.")
    return measure


def over_time(
    ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, *, by: str = "provider", measure: str = "cost"
) -> pl.DataFrame:
    """One row per day and `by` value: the measure (cost, tokens or calls), for a stacked chart."""
    ctx.require("usage:read")
    _measure(measure)
    rows = _groupings(ctx, con, f, {"time": ("day", by)}, (MEASURES[measure], "unpriced_calls"))
    return _time_series(rows["time"], by, measure)


def breakdown(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters, *, by: str = "model") -> pl.DataFrame:
    """Calls, tokens by type, cost and unpriced calls per `by` value, the costliest first."""
    ctx.require("usage:read")
    return _breakdown(_groupings(ctx, con, f, {"by": (by,)}, BREAKDOWN_COLUMNS)["by"], by)


def token_types(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> pl.DataFrame:
    """Tokens by type: uncached prompt, cached prompt, completion, embedding."""
    ctx.require("usage:read")
    return _token_types(_groupings(ctx, con, f, {"all": ()}, tuple(TOKEN_TYPES.values()))["all"])


def unpriced(ctx: Context, con: duckdb.DuckDBPyConnection, f: Filters) -> pl.DataFrame:
    """The models with unpriced calls in the period: what to add to the price catalogue."""
    ctx.require("usage:read")
    return _unpriced(_groupings(ctx, con, f, {"models": ("provider", "model")}, UNPRICED_COLUMNS)["models"])


def charts(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    f: Filters,
    *,
    by: str = "provider",
    measure: str = "cost",
    breakdowns: tuple[str, ...] = ("provider", "model", "operation"),
) -> dict:
    """What the Usage page shows under its KPIs, from one query: `over_time` (by, measure) as
    "time", `breakdown` of each of `breakdowns` under its name, `token_types` as "token_types" and
    `unpriced` as "unpriced", each equal to that function's answer."""
    ctx.require("usage:read")
    _measure(measure)
    sets = {"time": ("day", by), **{b: (b,) for b in breakdowns}, "token_types": (),
            "unpriced": ("provider", "model")}
    sums = (*BREAKDOWN_COLUMNS, *TOKEN_TYPES.values(), *UNPRICED_COLUMNS)
    rows = _groupings(ctx, con, f, sets, tuple(dict.fromkeys(sums)))
    return {
        "time": _time_series(rows["time"], by, measure),
        **{b: _breakdown(rows[b], b) for b in breakdowns},
        "token_types": _token_types(rows["token_types"]),
        "unpriced": _unpriced(rows["unpriced"]),
    }


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
        key, name = f"r.{_dimension(by)[0]}", by
        label, join = _label(by, "a.k", "n")
    table = _latency_table(f, by)
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
        f" FROM {_usage_table(f, ('user',))} r WHERE {where} GROUP BY ALL ORDER BY cost_usd DESC, tokens DESC"
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


def options(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, list[str]]:
    """The values each filter offers: the organisation's projects, users, providers, models, operations."""
    ctx.require("usage:read")
    distinct = con.execute(
        "SELECT list(DISTINCT provider ORDER BY provider), list(DISTINCT model ORDER BY model),"
        " list(DISTINCT operation_type ORDER BY operation_type)"
        f" FROM {rollup.smallest(rollup.USAGE, {'provider', 'model', 'operation_type'})} WHERE org_id = ?",
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
