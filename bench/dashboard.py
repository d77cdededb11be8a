"""How fast the Usage page's queries are at scale, on the rollups and on the raw table.

    .venv/bin/python bench/dashboard.py [N]             # demo + N extra llm_calls (default 10,000,000)
    .venv/bin/python bench/dashboard.py --home DIR      # an existing data home (`workbench demo --scale N`)
    .venv/bin/python bench/dashboard.py --home DIR --add N   # ... with N more calls written first

A home on the team profile (`workbench team up`: its profile.env) is measured on PostgreSQL; there
the baseline's raw views are DuckDB views over PostgreSQL's llm_calls, run once each (a scan of
millions of rows through the postgres extension takes seconds).

For each query the Usage page runs (last 30 days, Northwind, as the manager mike), prints p50 and
p95 over 30 runs, then the same query with every rollup replaced by a view that aggregates the raw
llm_calls rows on the fly (the baseline: the dashboard without rollups). Then the time of the
whole page rendered headless by Streamlit's AppTest (server side, every chart and table built).

With --finest, every usage query reads usage_daily, as the release before the smaller rollups
(usage_model_daily, usage_project_user_daily) did: their baseline, in the same run.
"""

import argparse
import statistics
import tempfile
import time
from datetime import timedelta
from pathlib import Path

from workbench import home, teamdb
from workbench.accounts import auth
from workbench.ops import demo
from workbench.ops.demo import people
from workbench.ops.demo import usage as demo_usage
from workbench.settings import Settings
from workbench.usage import budgets, rollup
from workbench.usage import queries as usage

RUNS = 30


def queries(ctx, f):
    """(name, callable(con)) for each query of the Usage page."""
    drill = usage.Filters(f.start, f.end, extra={"model": "gpt-4.1", "day": f.end - timedelta(days=2)})
    return [
        ("KPI totals, this and previous period", lambda con: usage.totals(ctx, con, f)),
        ("cost over time by model", lambda con: usage.over_time(ctx, con, f, by="model")),
        (
            "tokens over time by provider",
            lambda con: usage.over_time(ctx, con, f, by="provider", measure="tokens"),
        ),
        ("breakdown by provider", lambda con: usage.breakdown(ctx, con, f, by="provider")),
        ("breakdown by model", lambda con: usage.breakdown(ctx, con, f, by="model")),
        ("breakdown by operation", lambda con: usage.breakdown(ctx, con, f, by="operation")),
        ("latency p50/p95/p99 by model", lambda con: usage.latency_percentiles(ctx, con, f)),
        ("token types", lambda con: usage.token_types(ctx, con, f)),
        ("top users", lambda con: usage.top_users(ctx, con, f)),
        ("top conversations", lambda con: usage.top_conversations(ctx, con, f)),
        ("unpriced models", lambda con: usage.unpriced(ctx, con, f)),
        ("filter options", lambda con: usage.options(ctx, con)),
        ("budget status", lambda con: budgets.budget_status(ctx, con)),
        ("anomalies, 90 days", lambda con: budgets.anomalies(ctx, con)),
        ("plan usage per user", lambda con: budgets.plan_usage(ctx, con)),
        ("drill-down: one day, one model (raw rows)", lambda con: usage.calls(ctx, con, drill)),
    ]


def timed(fn, con, runs_of: int = RUNS) -> tuple[float, float]:
    if runs_of > 1:
        fn(con)  # warm
    runs = []
    for _ in range(runs_of):
        started = time.perf_counter()
        fn(con)
        runs.append((time.perf_counter() - started) * 1000)
    runs.sort()
    return statistics.median(runs), runs[int(0.95 * (runs_of - 1))]


def raw_views(con, team: bool) -> None:
    """A schema `raw` whose usage_* views aggregate llm_calls on the fly, first on the search path
    (on the team profile in DuckDB's own memory, over PostgreSQL's table)."""
    schema, facts, rest = ("memory.raw", "state.public.llm_calls", "state.public") if team else \
        ("raw", "llm_calls", "main")
    con.execute(f"CREATE SCHEMA IF NOT EXISTS {schema}")
    for table in rollup.TABLES:
        sql = rollup._aggregate(table, "true").replace("FROM llm_calls", f"FROM {facts}")
        con.execute(f"CREATE OR REPLACE VIEW {schema}.{table} AS {sql}")
    con.execute(f"SET search_path = '{schema},{rest}'")


def render_page(cfg: Settings) -> float:
    import os

    from streamlit.testing.v1 import AppTest

    os.environ["WORKBENCH_HOME"] = str(cfg.home)
    with home.open_store(cfg).connect() as con:
        ctx = auth.context_for(con, "mike")
    times = []
    for _ in range(3):
        page = Path(__file__).parents[1] / "pages" / "usage" / "overview.py"
        at = AppTest.from_file(str(page), default_timeout=60)
        at.session_state["ctx"] = ctx
        started = time.perf_counter()
        at.run()
        times.append(time.perf_counter() - started)
        assert not at.exception, at.exception
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("n", nargs="?", type=int, default=10_000_000)
    parser.add_argument("--home", type=Path)
    parser.add_argument("--add", type=int, default=0, help="with --home: write this many calls first")
    parser.add_argument("--runs", type=int, default=RUNS, help="timed runs of each query")
    parser.add_argument("--no-raw", action="store_true", help="skip the baseline without rollups")
    parser.add_argument("--finest", action="store_true", help="read only the finest rollups (the baseline"
                        " of the smaller ones)")
    args = parser.parse_args()
    if args.finest:
        rollup.USAGE = ("usage_daily",)
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(home=args.home or Path(tmp) / "home", embedding_backend="hash")
        store = home.open_store(cfg)
        if not args.home:
            home.init(cfg)
            store = home.open_store(cfg)
            demo.load(cfg, store)
        extra = args.add if args.home else args.n
        if extra:
            started = time.perf_counter()
            with store.transaction() as con:
                demo_usage.write_scale(con, extra, seed=7, fading_usernames=people.FADING)
            print(f"wrote {extra:,} llm_calls in {time.perf_counter() - started:.1f} s")
        team = isinstance(store, teamdb.TeamStore)
        print(f"profile: {'team (PostgreSQL)' if team else 'embedded (DuckDB file)'}")
        with store.connect() as con:
            rollup.compact(con)
            ctx = auth.context_for(con, "mike")
            total = con.execute("SELECT count(*) FROM llm_calls").fetchall()[0][0]
            sizes = {t: con.execute(f"SELECT count(*) FROM {t}").fetchall()[0][0] for t in rollup.TABLES}
            print(f"llm_calls: {total:,} rows; rollups: " + ", ".join(f"{t} {n:,}" for t, n in sizes.items()))
            start, end = usage.period("Last 30 days")
            f = usage.Filters(start, end)
            fast = [(name, *timed(fn, con, args.runs)) for name, fn in queries(ctx, f)]
            slow = [(float("nan"), float("nan"))] * len(fast)
            if not args.no_raw:
                raw_views(con, team)
                slow = [timed(fn, con, 1 if team else args.runs) for _name, fn in queries(ctx, f)]
                con.execute(f"SET search_path = '{'state.public' if team else 'main'}'")
        print(
            f"{'query (last 30 days, as mike)':<44} {'rollup p50':>10} {'p95':>8}"
            f" {'raw p50':>10} {'p95':>8}  ms"
        )
        for (name, p50, p95), (r50, r95) in zip(fast, slow, strict=True):
            print(f"{name:<44} {p50:>10.1f} {p95:>8.1f} {r50:>10.1f} {r95:>8.1f}")
        print(f"slowest rollup p95: {max(x[2] for x in fast):.1f} ms")
        print(f"Usage page rendered (AppTest, server side, best of 3): {render_page(cfg):.2f} s")


if __name__ == "__main__":
    main()
