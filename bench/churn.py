"""Churn training at scale, and on the demo: how long `churn.train` takes on 100,000 rows (both
algorithms, 5-fold cross-validation, holdout metrics, plots, permutation importance, MLflow logging
and registration), and the holdout ROC AUC on the demo's own users.

    .venv/bin/python bench/churn.py [rows]        # default 100000

The baseline in the same run: the bare scikit-learn fits of the same two pipelines on the same
rows (no cross-validation, metrics, plots or MLflow), so the figure shows what the rest costs.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import polars as pl

from workbench import home
from workbench.accounts import auth
from workbench.models.churn import service as churn_service
from workbench.models.churn import training as churn
from workbench.ops import demo
from workbench.settings import Settings


def customers(n: int, seed: int = 7) -> pl.DataFrame:
    """A customer table with numeric and categorical columns and a learnable churn signal."""
    rng = np.random.default_rng(seed)
    plan = rng.choice(["free", "pro", "team"], n, p=[0.55, 0.35, 0.10])
    region = rng.choice(["north", "south", "east", "west"], n)
    tenure = rng.gamma(2.0, 9.0, n)
    recency = rng.exponential(8, n)
    sessions = rng.poisson(6, n)
    tickets = rng.poisson(0.6, n)
    spend = rng.lognormal(3, 0.6, n)
    satisfaction = np.where(rng.random(n) < 0.05, np.nan, rng.normal(3.8, 0.8, n))
    logit = (
        0.12 * recency
        - 0.25 * sessions
        + 0.5 * tickets
        - 0.03 * tenure
        + 0.7 * (plan == "free")
        - 0.4 * np.nan_to_num(satisfaction - 3.8)
        - 0.2
    )
    return pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "plan": plan,
            "region": region,
            "tenure_months": tenure,
            "recency_days": recency,
            "sessions_30d": sessions,
            "tickets_90d": tickets,
            "monthly_spend": spend,
            "satisfaction": satisfaction,
            "churned": rng.random(n) < 1 / (1 + np.exp(-logit)),
        }
    )


def main() -> None:
    rows = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, Python {platform.python_version()}")
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(home=Path(tmp) / "home", embedding_backend="hash")
        home.init(cfg)
        wb = home.Workbench(cfg)
        demo.load(cfg, wb.store)
        with wb.store.connect() as con:
            dan = auth.context_for(con, "dan")
        frame = customers(rows)

        x, y, numeric, categorical, _ = churn.prepare(frame, "churned")
        started = time.perf_counter()
        for algorithm in churn.ALGORITHMS:
            churn.pipeline(algorithm, numeric, categorical).fit(x[numeric + categorical], y)
        bare = time.perf_counter() - started

        started = time.perf_counter()
        result = churn_service.train(dan, wb, frame=frame, target="churned", source="bench")
        full = time.perf_counter() - started
        print(f"{rows:,} rows, churn rate {frame['churned'].mean():.2f}")
        print(f"churn training, both algorithms, CV, metrics, plots, MLflow: {full:.1f} s (goal: under 60 s)")
        print(f"baseline: bare fits of the same two pipelines: {bare:.1f} s")
        for run in result["runs"]:
            m = run["metrics"]
            print(
                f"  {run['algorithm']:<20} holdout ROC AUC {m['roc_auc']:.3f}  PR AUC {m['pr_auc']:.3f}  "
                f"Brier {m['brier']:.3f}  CV {m['cv_roc_auc_mean']:.3f}"
            )

        telecom_like(dan, wb)

        started = time.perf_counter()
        own = churn_service.train(dan, wb, name="member-churn")
        print(
            f"demo users (Northwind's members, cutoff {own['params']['source'].split('cutoff ')[1][:10]}): "
            f"{own['params']['rows']} users, churn rate {own['params']['churn_rate']:.2f}, "
            f"holdout ROC AUC {own['metrics']['roc_auc']:.3f} ({own['algorithm']}), "
            f"trained in {time.perf_counter() - started:.1f} s (goal: ROC AUC at least 0.80)"
        )


def telecom_like(dan, wb, n: int = 7043) -> None:
    """The public telecom churn table's shape: 7,043 customers, money in a text column with 11 blank
    cells (" "). Read as a data scientist reads it (blanks missing, the column numeric) against the
    way it was read before (the money as text: one category per distinct amount)."""
    frame = customers(n, seed=11).with_columns(
        total_charges=pl.when(pl.int_range(pl.len()) % 640 == 5).then(pl.lit(" ")).otherwise(
            (pl.col("monthly_spend") * pl.col("tenure_months")).round(2).cast(pl.String)))
    as_text = frame.with_columns(pl.col("total_charges").str.replace(r"^\s*$", "blank"))
    for label, table in (("money as numbers, blanks missing (now)", frame),
                         ("money as text categories (how it was read before)", as_text)):
        started = time.perf_counter()
        result = churn_service.train(dan, wb, frame=table, target="churned", source="bench", name="telecom")
        print(f"telecom-like, {n:,} rows, {label}: {time.perf_counter() - started:.1f} s, holdout ROC AUC "
              f"{result['metrics']['roc_auc']:.4f} ({result['algorithm']}; goal: under 30 s)")


if __name__ == "__main__":
    main()
