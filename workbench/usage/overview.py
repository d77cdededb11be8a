"""The home page's numbers: the tenant's last 30 days against the 30 before, with daily trends."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from workbench.accounts.context import Context
from workbench.usage import rollup

# Each KPI: (key, label, the permission of the page it links to, SQL of a daily series).
# Every query is filtered by the acting user's organisation; ? are (org_id, start, end).
KPIS = [
    ("calls", "Calls", "calls:read",
     "SELECT c.started_at::DATE AS day, count(*) AS value FROM calls c"
     " JOIN projects p ON p.id = c.project_id WHERE p.org_id = ?"
     " AND c.started_at >= ? AND c.started_at < ? GROUP BY day"),
    ("documents", "Documents added", "documents:read",
     "SELECT uploaded_at::DATE AS day, count(*) AS value FROM documents WHERE org_id = ?"
     " AND uploaded_at >= ? AND uploaded_at < ? GROUP BY day"),
    ("conversations", "Conversations", "chat:use",
     "SELECT created_at::DATE AS day, count(*) AS value FROM conversations WHERE org_id = ?"
     " AND created_at >= ? AND created_at < ? GROUP BY day"),
    # LLM usage (tokens, cost, active users) comes from one query on the daily rollups: USAGE_SQL
]
USAGE_KPIS = [("tokens", "Tokens"), ("cost", "Cost (USD)"), ("active_users", "Active users")]
# the smallest rollup with users (rollup.py), both periods in one pass: a row per day, then a row
# per period (its distinct users are not the sum of the days'); ? are (start, org_id, previous
# start, end)
USAGE_SQL = (
    "SELECT day, current, coalesce(sum(total_tokens), 0)::DOUBLE, coalesce(sum(cost_usd), 0)::DOUBLE,"
    " count(DISTINCT user_id)::DOUBLE, coalesce(sum(unpriced_calls), 0)::BIGINT"
    " FROM (SELECT day, day >= ? AS current, user_id, total_tokens, cost_usd, unpriced_calls"
    " FROM {users} WHERE org_id = ? AND day >= ? AND day < ?)"
    " GROUP BY GROUPING SETS ((day), (current))"
)


def kpis(ctx: Context, con: duckdb.DuckDBPyConnection, *, today: date | None = None,
         days: int = 30) -> list[dict]:
    """Each KPI the user may open: its total over the last `days` days, the previous period's, and
    its daily series. Active users counts distinct users over the whole period, not the sum of
    daily counts."""
    end = (today or date.today()) + timedelta(days=1)
    start, prev = end - timedelta(days=days), end - timedelta(days=2 * days)
    out = []
    for key, label, permission, sql in KPIS:
        if not ctx.can(permission):
            continue
        rows = con.execute(sql, [ctx.org_id, prev, end]).fetchall()
        frame = pl.DataFrame(rows, schema={"day": pl.Date, "value": pl.Float64}, orient="row")
        out.append(_kpi(key, label, permission, frame, start, days))
    if ctx.can("usage:read"):
        out += _usage(ctx, con, prev, start, end, days)
    return out


def _kpi(key: str, label: str, permission: str, frame: pl.DataFrame, start: date, days: int,
         totals: tuple | None = None) -> dict:
    """A KPI from its daily values over both periods (`totals`: the two periods' own, when they are
    not the sums of the days')."""
    current, previous = frame.filter(pl.col("day") >= start), frame.filter(pl.col("day") < start)
    value, before = totals or (current["value"].sum(), previous["value"].sum())
    return {"key": key, "label": label, "permission": permission, "value": value, "previous": before,
            "series": _daily(current.sort("day"), start, days)}


def _usage(ctx: Context, con: duckdb.DuckDBPyConnection, prev: date, start: date, end: date,
           days: int) -> list[dict]:
    by_user = rollup.smallest(rollup.USAGE, {"user_id"})
    rows = con.execute(USAGE_SQL.format(users=by_user), [start, ctx.org_id, prev, end]).fetchall()
    daily = [r for r in rows if r[0] is not None]
    periods = {r[1]: r for r in rows if r[0] is None and r[1] is not None}
    out = []
    for i, (key, label) in enumerate(USAGE_KPIS):
        frame = pl.DataFrame([(r[0], r[2 + i]) for r in daily], schema={"day": pl.Date, "value": pl.Float64},
                             orient="row")
        totals = (periods[True][2 + i] if True in periods else 0.0,
                  periods[False][2 + i] if False in periods else 0.0)
        out.append(_kpi(key, label, "usage:read", frame, start, days, totals))
    # priced calls only: the unpriced ones are counted, never added as $0
    out[1]["unpriced_calls"] = periods[True][5] if True in periods else 0
    return out


def _daily(frame: pl.DataFrame, start: date, days: int) -> pl.DataFrame:
    """The series with a row for every day, zero where nothing happened."""
    calendar = pl.DataFrame({"day": pl.date_range(start, start + timedelta(days=days - 1),
                                                  eager=True)})
    return calendar.join(frame, on="day", how="left").fill_null(0.0)
