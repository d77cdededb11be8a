"""The home page's numbers: the tenant's last 30 days against the 30 before, with daily trends."""

from __future__ import annotations

from datetime import date, timedelta

import duckdb
import polars as pl

from workbench.accounts.context import Context

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
    # LLM usage reads the daily rollups (rollup.py), fast at ten million calls
    ("tokens", "Tokens", "usage:read",
     "SELECT day, sum(total_tokens) AS value FROM usage_daily WHERE org_id = ?"
     " AND day >= ? AND day < ? GROUP BY day"),
    ("cost", "Cost (USD)", "usage:read",
     "SELECT day, sum(cost_usd) AS value FROM usage_daily WHERE org_id = ?"
     " AND day >= ? AND day < ? GROUP BY day"),
    ("active_users", "Active users", "usage:read",
     "SELECT day, count(DISTINCT user_id) AS value FROM usage_daily"
     " WHERE org_id = ? AND day >= ? AND day < ? GROUP BY day"),
]


def kpis(ctx: Context, con: duckdb.DuckDBPyConnection, *, today: date | None = None,
         days: int = 30) -> list[dict]:
    """Each KPI's total over the last `days` days, the previous period's, and its daily series.

    Active users counts distinct users over the whole period, not the sum of daily counts."""
    end = (today or date.today()) + timedelta(days=1)
    start, prev = end - timedelta(days=days), end - timedelta(days=2 * days)
    out = []
    for key, label, permission, sql in KPIS:
        rows = con.execute(sql, [ctx.org_id, prev, end]).fetchall()
        frame = pl.DataFrame(rows, schema={"day": pl.Date, "value": pl.Float64}, orient="row")
        frame = frame.sort("day")
        current = frame.filter(pl.col("day") >= start)
        previous = frame.filter(pl.col("day") < start)
        if key == "active_users":
            total = _distinct_users(con, ctx.org_id, start, end)
            before = _distinct_users(con, ctx.org_id, prev, start)
        else:
            total, before = current["value"].sum(), previous["value"].sum()
        out.append({"key": key, "label": label, "permission": permission,
                    "value": total, "previous": before,
                    "series": _daily(current, start, days)})
        if key == "cost":  # priced calls only: the unpriced ones are counted, never added as $0
            out[-1]["unpriced_calls"] = con.execute(
                "SELECT coalesce(sum(unpriced_calls), 0)::BIGINT FROM usage_daily WHERE org_id = ?"
                " AND day >= ? AND day < ?", [ctx.org_id, start, end]).fetchone()[0]
    return out


def _distinct_users(con, org_id: int, start: date, end: date) -> int:
    return con.execute("SELECT count(DISTINCT user_id) FROM usage_daily WHERE org_id = ?"
                       " AND day >= ? AND day < ?", [org_id, start, end]).fetchone()[0]


def _daily(frame: pl.DataFrame, start: date, days: int) -> pl.DataFrame:
    """The series with a row for every day, zero where nothing happened."""
    calendar = pl.DataFrame({"day": pl.date_range(start, start + timedelta(days=days - 1),
                                                  eager=True)})
    return calendar.join(frame, on="day", how="left").fill_null(0.0)
