"""Monthly budgets, month-end spend projections, cost anomalies and plan limits.

Everything reads the daily usage rollups (the smallest that holds a query's columns), never the
raw llm_calls, and always sums over their groups (a key may repeat until a rollup is compacted).
Every query is filtered by the acting user's organisation. Costs are over priced calls only; calls
without a price are counted apart as `unpriced_calls`, never as $0.
"""

from __future__ import annotations

import calendar
import math
import statistics
from datetime import date, datetime, timedelta

import duckdb

from workbench.accounts import audit
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotFound
from workbench.usage import rollup

SCOPES = ("organization", "project", "user")
WARNING_SHARE = 0.8  # a budget or a plan limit is at 'warning' from 80% used
Z90 = 1.645  # a two-sided 90% interval of a normal distribution
HISTORY_DAYS = 28  # complete days before today the projection learns its weekday pattern from
WEEKS_BACK = 4  # an anomaly's expectation: the median of the same weekday over 4 weeks
MAD_SCALE = 1.4826  # median absolute deviation -> standard deviation, for normal data
ANOMALY_FLOOR_USD = 1.0  # a day costing less is never an anomaly, however unusual
DRIVERS = 3  # models and users named per anomaly


def _day(today: date | datetime | None) -> date:
    if today is None:
        return date.today()
    return today.date() if isinstance(today, datetime) else today


def _days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def _month(day: date) -> tuple[date, date]:
    return day.replace(day=1), day.replace(day=calendar.monthrange(day.year, day.month)[1])


def _where(ctx: Context, project_id: int | None = None, user_id: int | None = None) -> tuple[str, list]:
    """A usage_daily filter for the organisation, optionally one project or one user."""
    sql, params = "org_id = ?", [ctx.org_id]
    if project_id is not None:
        sql, params = sql + " AND project_id = ?", [*params, project_id]
    if user_id is not None:
        sql, params = sql + " AND user_id = ?", [*params, user_id]
    return sql, params


def _rollup(where: str, column: str = "") -> str:
    """The smallest usage rollup for a `_where` filter (the key columns it names) and a breakdown
    by `column`: for the whole organisation's cost by day, hundreds of times fewer rows."""
    named = {key for key in ("project_id", "user_id") if f" {key} = ?" in where}
    return rollup.smallest(rollup.USAGE, named | ({column} if column else set()))


def _daily(con, where: str, params: list, first: date, last: date) -> tuple[dict, dict]:
    """Priced cost and unpriced calls per day with any usage between `first` and `last` (days
    without usage are absent)."""
    rows = con.execute(
        f"SELECT day, sum(cost_usd), sum(unpriced_calls) FROM {_rollup(where)} WHERE {where}"
        " AND day BETWEEN ? AND ? GROUP BY day",
        [*params, first, last],
    ).fetchall()
    return {day: cost for day, cost, _ in rows}, {day: unpriced for day, _, unpriced in rows}


# --- budgets -----------------------------------------------------------------------------------


def _project_id(ctx: Context, con, project: str | int) -> int:
    row = fetch_one(
        con,
        "SELECT id FROM projects WHERE org_id = ? AND (name = ? OR uuid::VARCHAR = ?"
        " OR id::VARCHAR = ?) ORDER BY name = ? DESC, owner_id = ? DESC, id LIMIT 1",
        [ctx.org_id, *[str(project).strip()] * 4, ctx.user_id],
    )
    if row is None:
        raise NotFound(f"No project {project!r} in {ctx.org_name}.")
    return row["id"]


def _user_id(ctx: Context, con, username: str) -> int:
    row = fetch_one(
        con, "SELECT id FROM users WHERE org_id = ? AND username = ?", [ctx.org_id, str(username).strip()]
    )
    if row is None:
        raise NotFound(f"No user {username!r} in {ctx.org_name}.")
    return row["id"]


def _scope_ids(ctx: Context, con, project, user) -> tuple[int | None, int | None]:
    """The ids of an optional project and user of the organisation."""
    return (
        None if project is None else _project_id(ctx, con, project),
        None if user is None else _user_id(ctx, con, user),
    )


def _target(ctx: Context, con, scope: str, project, user) -> tuple[int | None, int | None]:
    if scope not in SCOPES:
        raise InvalidInput(f"Unknown budget scope {scope!r}. Scopes: {', '.join(SCOPES)}.")
    if scope == "organization" and (project is not None or user is not None):
        raise InvalidInput("An organisation budget names no project and no user.")
    if scope == "project" and (project is None or user is not None):
        raise InvalidInput("A project budget needs a project (and no user).")
    if scope == "user" and (user is None or project is not None):
        raise InvalidInput("A user budget needs a username (and no project).")
    return _scope_ids(ctx, con, project, user)


def _amount(monthly_usd) -> float:
    try:
        amount = float(monthly_usd) if not isinstance(monthly_usd, bool) else math.nan
    except (TypeError, ValueError):
        amount = math.nan
    if not math.isfinite(amount) or amount <= 0:
        raise InvalidInput(f"A monthly budget must be a number of USD above 0, not {monthly_usd!r}.")
    return amount


def set_budget(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    scope: str,
    monthly_usd: float,
    project: str | int | None = None,
    user: str | None = None,
) -> int:
    """Set the monthly USD budget of the organisation, a project (name, UUID or id) or a user
    (username); setting it again for the same target updates it. Returns the budget's id."""
    ctx.require("prices:manage")
    amount = _amount(monthly_usd)
    project_id, user_id = _target(ctx, con, scope, project, user)
    with atomic(con):
        audit.record(ctx, con, "budget.set", scope if scope == "organization" else str(project or user),
                     scope=scope, monthly_usd=amount)
        row = fetch_one(
            con,
            "SELECT id FROM budgets WHERE org_id = ? AND scope = ?"
            " AND project_id IS NOT DISTINCT FROM ?::INTEGER"
            " AND user_id IS NOT DISTINCT FROM ?::INTEGER ORDER BY id LIMIT 1",
            [ctx.org_id, scope, project_id, user_id],
        )
        if row is not None:
            con.execute(
                "UPDATE budgets SET monthly_usd = ?, updated_at = current_localtimestamp() WHERE id = ?",
                [amount, row["id"]],
            )
            return row["id"]
        return con.execute(
            "INSERT INTO budgets (org_id, scope, project_id, user_id, monthly_usd, created_by)"
            " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
            [ctx.org_id, scope, project_id, user_id, amount, ctx.user_id],
        ).fetchone()[0]


def delete_budget(ctx: Context, con: duckdb.DuckDBPyConnection, budget_id: int) -> None:
    """Delete a budget of the acting user's organisation."""
    ctx.require("prices:manage")
    row = fetch_one(con, "SELECT scope, monthly_usd FROM budgets WHERE id = ? AND org_id = ?",
                    [budget_id, ctx.org_id])
    if row is None:  # one answer for an unknown budget and another organisation's
        raise NotFound(f"No budget {budget_id}.")
    with atomic(con):
        con.execute("DELETE FROM budgets WHERE id = ?", [budget_id])
        audit.record(
            ctx, con, "budget.delete", f"#{budget_id}", scope=row["scope"], monthly_usd=row["monthly_usd"]
        )


def list_budgets(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's budgets: the organisation's first, then projects', then users'."""
    ctx.require("usage:read")
    return fetch_dicts(
        con,
        """
        SELECT b.id, b.scope, CASE b.scope WHEN 'organization' THEN o.name WHEN 'project' THEN p.name
                                   ELSE u.username END AS target,
               b.project_id, b.user_id, b.monthly_usd, c.username AS created_by, b.created_at, b.updated_at
        FROM budgets b JOIN organizations o ON o.id = b.org_id
        LEFT JOIN projects p ON p.id = b.project_id LEFT JOIN users u ON u.id = b.user_id
        LEFT JOIN users c ON c.id = b.created_by
        WHERE b.org_id = ? ORDER BY b.scope <> 'organization', b.scope, target, b.id""",
        [ctx.org_id],
    )


def _share(used: float, limit: float | None) -> float | None:
    if limit is None:
        return None
    return used / limit if limit > 0 else math.inf


def _budget_state(share: float) -> str:
    return "exceeded" if share >= 1 else "warning" if share >= WARNING_SHARE else "ok"


# budget_status's fields taken from the budget and from its month's forecast
_BUDGET_FIELDS = ("id", "scope", "target", "project_id", "user_id", "monthly_usd")
_FORECAST_FIELDS = {
    "spent_usd": "actual",
    "unpriced_calls": "unpriced_calls",
    "projected_usd": "projected",
    "projected_low": "low",
    "projected_high": "high",
    "month_end": "month_end",
}


def _budget_row(budget: dict, forecast: dict) -> dict:
    row = {k: budget[k] for k in _BUDGET_FIELDS} | {k: forecast[v] for k, v in _FORECAST_FIELDS.items()}
    row["share"] = _share(row["spent_usd"], row["monthly_usd"])
    row["projected_share"] = _share(row["projected_usd"], row["monthly_usd"])
    row["status"] = _budget_state(row["share"])
    row["projected_status"] = _budget_state(row["projected_share"])
    return row


def budget_status(
    ctx: Context, con: duckdb.DuckDBPyConnection, *, today: date | datetime | None = None
) -> list[dict]:
    """Each budget with its month-to-date priced spend, unpriced calls, share used and status
    (ok / warning from 80% / exceeded from 100%), and the projected month-end spend with its 90%
    interval and the status it would reach."""
    ctx.require("usage:read")
    day = _day(today)
    chosen = list_budgets(ctx, con)
    if not chosen:
        return []
    # one pass over the smallest rollup that holds every budget's scope: the organisation's daily
    # cost and unpriced calls, and each project's or user's as filtered sums beside them
    picks, sums, params, needs = [], [], [], set()  # picks: each budget's two columns
    for b in chosen:
        scoped = {column: b[column] for column in ("project_id", "user_id") if b[column] is not None}
        if not scoped:
            picks.append(("cost", "unpriced"))
            continue
        i, scope = len(sums) // 2, " AND ".join(f"{column} = ?" for column in scoped)
        sums += [f"sum(cost_usd) FILTER (WHERE {scope}) AS cost_{i}",
                 f"sum(unpriced_calls) FILTER (WHERE {scope}) AS unpriced_{i}"]
        params += 2 * list(scoped.values())
        needs |= set(scoped)
        picks.append((f"cost_{i}", f"unpriced_{i}"))
    result = con.execute(
        f"SELECT day, sum(cost_usd) AS cost, sum(unpriced_calls) AS unpriced{''.join(', ' + s for s in sums)}"
        f" FROM {rollup.smallest(rollup.USAGE, needs)} WHERE org_id = ? AND day BETWEEN ? AND ? GROUP BY day",
        [*params, ctx.org_id, _history_from(day), day],
    )
    names = [column[0] for column in result.description]
    rows = [dict(zip(names, row, strict=True)) for row in result.fetchall()]
    out = []
    for b, (cost, unpriced) in zip(chosen, picks, strict=True):  # the days with rows of the budget's
        costs = {r["day"]: r[cost] for r in rows if r[cost] is not None}
        unpriced_calls = {r["day"]: r[unpriced] for r in rows if r[cost] is not None}
        out.append(_budget_row(b, _forecast_from(costs, unpriced_calls, day)))
    return out


# --- anomalies ---------------------------------------------------------------------------------


def _expectation(costs: dict, day: date) -> tuple[float, float]:
    """The expected cost of `day` (median of the same weekday over the previous 4 weeks) and the
    threshold above which it is unusual (4 robust deviations, and at least 50% above)."""
    previous = [costs.get(day - timedelta(weeks=k), 0.0) for k in range(1, WEEKS_BACK + 1)]
    expected = statistics.median(previous)
    mad = statistics.median(abs(x - expected) for x in previous)
    return expected, expected + max(4 * MAD_SCALE * mad, 0.5 * expected)


def _is_anomaly(costs: dict, day: date) -> bool:
    # A day is judged only once four weeks of usage precede it: a new tenant's first busy days
    # are not anomalies.
    if not costs or min(costs) > day - timedelta(weeks=WEEKS_BACK):
        return False
    cost = costs.get(day, 0.0)
    return cost >= ANOMALY_FLOOR_USD and cost > _expectation(costs, day)[1]


def _breakdown(con, where: str, params: list, column: str, days: list[date]) -> dict[tuple, float]:
    """Cost per (day, `column` value) on the given days."""
    rows = con.execute(
        f"SELECT day, {column}, sum(cost_usd) FROM {_rollup(where, column)} WHERE {where}"
        " AND day BETWEEN ? AND ? AND list_contains(?::DATE[], day) GROUP BY ALL",
        [*params, min(days), max(days), days],
    ).fetchall()
    return {(day, key): cost for day, key, cost in rows}


def _top_drivers(cells: dict, day: date, excess: float, labels: dict | None = None) -> list[dict]:
    """The keys whose cost on `day` rose most above their own same-weekday median."""
    by_key: dict = {}
    for (d, key), cost in cells.items():
        by_key.setdefault(key, {})[d] = cost
    rows = []
    for key, mine in by_key.items():
        expected = _expectation(mine, day)[0]
        cost = mine.get(day, 0.0)
        if cost > expected:
            rows.append(
                {
                    "name": (labels or {}).get(key, key),
                    "cost": cost,
                    "expected": expected,
                    "excess": cost - expected,
                    "share": (cost - expected) / excess,
                }
            )
    return sorted(rows, key=lambda r: -r["excess"])[:DRIVERS]


def _explain(ctx: Context, con, where: str, params: list, costs: dict, flagged: list[date]) -> list[dict]:
    needed = sorted({d - timedelta(weeks=k) for d in flagged for k in range(WEEKS_BACK + 1)})
    models = _breakdown(con, where, params, "model", needed)
    users = _breakdown(con, where, params, "user_id", needed)
    names = dict(con.execute("SELECT id, username FROM users WHERE org_id = ?", [ctx.org_id]).fetchall())
    out = []
    for day in flagged:
        expected, threshold = _expectation(costs, day)
        excess = costs[day] - expected
        out.append(
            {
                "day": day,
                "cost": costs[day],
                "expected": expected,
                "threshold": threshold,
                "excess": excess,
                "models": _top_drivers(models, day, excess),
                "users": _top_drivers(users, day, excess, names),
            }
        )
    return out


def anomalies(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    days: int = 90,
    today: date | datetime | None = None,
    project: str | int | None = None,
    user: str | None = None,
) -> list[dict]:
    """Days of the last `days` (today included) whose cost is far above the same weekday's median
    over the previous four weeks, oldest first, each with the models and users that drove it."""
    ctx.require("usage:read")
    if isinstance(days, bool) or not isinstance(days, int) or days < 1:
        raise InvalidInput(f"Look back a whole number of days, at least 1, not {days!r}.")
    last = _day(today)
    first = last - timedelta(days=days - 1)
    where, params = _where(ctx, *_scope_ids(ctx, con, project, user))
    costs, _ = _daily(con, where, params, first - timedelta(weeks=2 * WEEKS_BACK), last)
    flagged = [d for d in _days(first, last) if _is_anomaly(costs, d)]
    return _explain(ctx, con, where, params, costs, flagged) if flagged else []


# --- projection --------------------------------------------------------------------------------


def _weekday_model(costs: dict, today: date) -> dict:
    """Mean cost per weekday over the last 28 complete days, leaving out anomalous days (one batch
    job should not inflate the month); how many days each mean rests on; the standard deviation of
    the residuals; and the history used."""
    history = _days(today - timedelta(days=HISTORY_DAYS), today - timedelta(days=1))
    unusual = {d for d in history if _is_anomaly(costs, d)}
    kept = [d for d in history if d not in unusual]
    overall = statistics.fmean([costs.get(d, 0.0) for d in kept]) if kept else 0.0
    same = {w: [costs.get(d, 0.0) for d in kept if d.weekday() == w] for w in range(7)}
    means = {w: statistics.fmean(v) if v else overall for w, v in same.items()}
    residuals = [costs.get(d, 0.0) - means[d.weekday()] for d in kept]
    return {
        "means": means,
        "counts": {w: len(v) or len(kept) for w, v in same.items()},
        "sigma": math.sqrt(sum(r * r for r in residuals) / max(len(kept) - 7, 1)),
        "history": [
            {"day": d, "cost": costs.get(d, 0.0), "expected": means[d.weekday()], "unusual": d in unusual}
            for d in history
        ],
    }


def _series(costs: dict, model: dict, today: date, actual: float) -> list[dict]:
    """Every day of the month: actual days to today, then projected days with a cumulative 90% band.
    The band's variance counts each day's own spread and the error of the weekday means."""
    rows, running, ahead = [], 0.0, dict.fromkeys(range(7), 0)
    for day in _days(*_month(today)):
        projected = day > today
        ahead[day.weekday()] += projected
        cost = model["means"][day.weekday()] if projected else costs.get(day, 0.0)
        running += cost
        variance = sum(k + k * k / max(model["counts"][w], 1) for w, k in ahead.items())
        spread = Z90 * model["sigma"] * math.sqrt(variance)
        rows.append(
            {
                "day": day,
                "kind": "projected" if projected else "actual",
                "cost": cost,
                "cumulative": running,
                "low": max(actual, running - spread),
                "high": running + spread,
            }
        )
    return rows


def _history_from(today: date) -> date:
    """The first day a forecast reads: the history, and the 8 weeks before it to tell its anomalous days."""
    return min(_month(today)[0], today - timedelta(days=HISTORY_DAYS, weeks=2 * WEEKS_BACK))


def _forecast(con, where: str, params: list, today: date) -> dict:
    return _forecast_from(*_daily(con, where, params, _history_from(today), today), today)


def _forecast_from(costs: dict, unpriced: dict, today: date) -> dict:
    start, end = _month(today)
    model = _weekday_model(costs, today)
    actual = sum(c for d, c in costs.items() if d >= start)
    series = _series(costs, model, today, actual)
    return {
        "month_start": start,
        "month_end": end,
        "today": today,
        "actual": actual,
        "projected": series[-1]["cumulative"],
        "low": series[-1]["low"],
        "high": series[-1]["high"],
        "days_elapsed": today.day,
        "days_left": (end - today).days,
        "daily_sigma": model["sigma"],
        "unpriced_calls": sum(n for d, n in unpriced.items() if d >= start),
        "series": series,
        "history": model["history"],
    }


def projection(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    today: date | datetime | None = None,
    project: str | int | None = None,
    user: str | None = None,
) -> dict:
    """Month-end spend: month-to-date actual (today counts as elapsed) plus each remaining day's
    weekday mean over the last 28 complete days (anomalous days left out), with a 90% interval
    (never below the actual), and the daily series: every day of the month, actual then projected
    with its cumulative band, and the 28 days of history used."""
    ctx.require("usage:read")
    return _forecast(con, *_where(ctx, *_scope_ids(ctx, con, project, user)), _day(today))


# --- plans -------------------------------------------------------------------------------------

def _by_user() -> str:
    """The smallest usage rollup with users: {users} in the plans' SQL."""
    return rollup.smallest(rollup.USAGE, {"user_id"})


_PLAN_SQL = """
SELECT u.username, u.plan, coalesce(t.today, 0) AS tokens_today, coalesce(t.month, 0) AS tokens_month,
       coalesce(t.total, 0) AS total_tokens, coalesce(d.n, 0) AS documents, coalesce(s.n, 0) AS sessions,
       p.daily_token_limit AS daily_limit, p.monthly_token_limit AS monthly_limit,
       p.max_documents AS documents_limit, p.max_sessions AS sessions_limit
FROM users u LEFT JOIN plans p ON p.name = u.plan
LEFT JOIN (SELECT user_id, sum(total_tokens) FILTER (WHERE day = ?) AS today,
                  sum(total_tokens) FILTER (WHERE day >= ?) AS month, sum(total_tokens) AS total
           FROM {users} WHERE org_id = ? AND day <= ? GROUP BY user_id) t ON t.user_id = u.id
LEFT JOIN (SELECT uploaded_by_id, count(*) AS n FROM documents WHERE org_id = ? GROUP BY ALL) d
       ON d.uploaded_by_id = u.id
LEFT JOIN (SELECT user_id, count(*) AS n FROM conversations WHERE org_id = ? GROUP BY ALL) s
       ON s.user_id = u.id
WHERE u.org_id = ? ORDER BY u.username
"""
# the users over their plan's daily token limit (plan_usage's daily status 'over'), from today's
# rollup rows only: what the Home page's alerts need, without every user's all-time tokens
_OVER_TODAY_SQL = """
SELECT u.username, u.plan, coalesce(t.tokens, 0) AS tokens_today, p.daily_token_limit AS daily_limit
FROM users u JOIN plans p ON p.name = u.plan
LEFT JOIN (SELECT user_id, sum(total_tokens) AS tokens FROM {users} WHERE org_id = ? AND day = ?
           GROUP BY user_id) t ON t.user_id = u.id
WHERE u.org_id = ? AND (p.daily_token_limit <= 0 OR coalesce(t.tokens, 0) >= p.daily_token_limit)
ORDER BY u.username
"""
# (name, used column): each compared with the `{name}_limit` column
_LIMITS = (
    ("daily", "tokens_today"),
    ("monthly", "tokens_month"),
    ("documents", "documents"),
    ("sessions", "sessions"),
)
_SEVERITY = ("no limit", "ok", "warning", "over")


def _limit_state(share: float | None) -> str:
    if share is None:
        return "no limit"
    return "over" if share >= 1 else "warning" if share >= WARNING_SHARE else "ok"


def plan_usage(
    ctx: Context, con: duckdb.DuckDBPyConnection, *, today: date | datetime | None = None
) -> list[dict]:
    """Seed 002's per-user stats (tokens today, this month and in all, documents, sessions) against
    each user's plan limits, with a share and a status per limit (ok / warning from 80% / over from
    100% / 'no limit') and the worst of them as `status`. Users without calls show zeros."""
    ctx.require("usage:read")
    day = _day(today)
    rows = fetch_dicts(
        con, _PLAN_SQL.format(users=_by_user()),
        [day, day.replace(day=1), ctx.org_id, day, ctx.org_id, ctx.org_id, ctx.org_id],
    )
    for row in rows:
        for name, used in _LIMITS:
            row[f"{name}_share"] = _share(row[used], row[f"{name}_limit"])
            row[f"{name}_status"] = _limit_state(row[f"{name}_share"])
        row["status"] = max((row[f"{name}_status"] for name, _ in _LIMITS), key=_SEVERITY.index)
    return rows


def over_daily_limit(
    ctx: Context, con: duckdb.DuckDBPyConnection, *, today: date | datetime | None = None
) -> list[dict]:
    """The users over their plan's daily token limit today (username, plan, tokens_today,
    daily_limit): plan_usage's rows whose daily status is 'over', read from today's rollup rows."""
    ctx.require("usage:read")
    day = _day(today)
    return fetch_dicts(con, _OVER_TODAY_SQL.format(users=_by_user()), [ctx.org_id, day, ctx.org_id])


# --- home page ---------------------------------------------------------------------------------


def _money(usd: float) -> str:
    return f"${usd:,.2f}"


def _alert(level: str, kind: str, text: str) -> dict:
    return {"level": level, "kind": kind, "text": text}


def _budget_alerts(status: dict) -> list[dict]:
    target = f"{'organisation' if status['scope'] == 'organization' else status['scope']} {status['target']}"
    unpriced = f" (+{status['unpriced_calls']:,} unpriced calls)" if status["unpriced_calls"] else ""
    limit = _money(status["monthly_usd"])
    spent = f"{_money(status['spent_usd'])}{unpriced} of {limit} this month ({status['share']:.0%})"
    if status["status"] == "exceeded":
        return [_alert("error", "budget", f"Budget exceeded: {target} has spent {spent}.")]
    alerts = []
    if status["status"] == "warning":
        alerts.append(_alert("warning", "budget", f"Budget nearly spent: {target} has spent {spent}."))
    if status["projected_status"] == "exceeded":
        band = f"90%: {_money(status['projected_low'])}-{_money(status['projected_high'])}"
        text = f"Budget on course to be exceeded: {target} is projected at {_money(status['projected_usd'])}"
        text += f" ({band}) of {limit} by {status['month_end']:%d %b}."
        alerts.append(_alert("warning", "projection", text))
    return alerts


def _anomaly_alert(anomaly: dict) -> dict:
    drivers = [str(d["name"]) for d in anomaly["models"][:1] + anomaly["users"][:1]]
    mostly = f", mostly {' and '.join(drivers)}" if drivers else ""
    text = f"Unusual spend on {anomaly['day']:%a %d %b}: {_money(anomaly['cost'])}"
    return _alert("warning", "anomaly", f"{text} against {_money(anomaly['expected'])} expected{mostly}.")


def _plan_alert(usage: dict) -> dict:
    text = f"{usage['username']} is over the {usage['plan']} plan's daily limit:"
    return _alert(
        "warning", "plan", f"{text} {usage['tokens_today']:,} of {usage['daily_limit']:,} tokens today."
    )


def home_alerts(
    ctx: Context, con: duckdb.DuckDBPyConnection, *, today: date | datetime | None = None
) -> list[dict]:
    """Short lines for the Home page ({level: error|warning, kind, text}): budgets at warning or
    exceeded, budgets projected to exceed, anomalies of the last 7 days, users over their plan's
    daily token limit. Empty when all is well or the user may not read usage."""
    if not ctx.can("usage:read"):
        return []
    day = _day(today)
    alerts = [a for status in budget_status(ctx, con, today=day) for a in _budget_alerts(status)]
    alerts += [_anomaly_alert(a) for a in anomalies(ctx, con, days=7, today=day)]
    return alerts + [_plan_alert(u) for u in over_daily_limit(ctx, con, today=day)]
