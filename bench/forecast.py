"""Forecast training at the scale the issue names: 100 synthetic daily series of 365 days (weekly
seasonality, a trend, noise, a few one-day spikes) registered as a Parquet dataset, then trained
through the service (`forecast.service.train`) with each method: the 3-window rolling-origin
backtest (horizon 30 days) against seasonal naive (for `auto`, of every candidate), the fit on all
history, the MLflow run with its artifacts and pyfunc model, and the registered staging version.
Prints seconds and MASE / sMAPE for the method and the baseline. Accuracy across frequencies is
bench/forecast_accuracy.py's.

    python bench/forecast.py [series] [days]        # default 100 365
"""

from __future__ import annotations

import io
import os
import platform
import sys
import tempfile
import time
from datetime import date
from pathlib import Path

import numpy as np
import polars as pl

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from mlflow.tracking import MlflowClient  # noqa: E402

from workbench import home  # noqa: E402
from workbench.accounts import (  # noqa: E402
    auth,
    organisations,
    users,
)
from workbench.models import tabular  # noqa: E402
from workbench.models.forecast import service as forecast_service  # noqa: E402
from workbench.models.forecast import training as forecast  # noqa: E402
from workbench.settings import Settings  # noqa: E402

METHODS = ("seasonal_naive", "ets", "theta", "mstl", "gbm", "combination", "auto")
HORIZON = 30  # steps: days


def synthetic(n_series: int, days: int, seed: int = 3) -> pl.DataFrame:
    """Daily series: level 20-2000, weekly pattern (weekend dip), linear trend, 8% noise, spikes."""
    rng, t = np.random.default_rng(seed), np.arange(days)
    weekend = np.isin((t + 3) % 7, (5, 6))  # 2025-01-01 was a Wednesday
    frames = []
    for i in range(n_series):
        level = rng.uniform(20, 2000)
        trend = 1 + rng.uniform(-0.3, 1.0) * t / days
        weekly = 1 - rng.uniform(0.1, 0.5) * weekend + 0.05 * np.sin(2 * np.pi * t / 7)
        values = level * trend * weekly * (1 + rng.normal(0, 0.08, days))
        spikes = rng.random(days) < 0.005
        values[spikes] *= rng.uniform(3, 8, spikes.sum())
        frames.append(pl.DataFrame({"store": f"s{i:03d}", "sales": np.maximum(values, 0).round(2)}))
    stamps = pl.date_range(date(2025, 1, 1), date(2025, 1, 1) + (days - 1) * pl.duration(days=1), eager=True)
    return pl.concat([f.with_columns(day=stamps) for f in frames]).select("store", "day", "sales")


def setup(root: Path, frame: pl.DataFrame) -> home.Workbench:
    cfg = Settings(home=root / "home", embedding_backend="hash")
    home.init(cfg)
    wb = home.Workbench(cfg)
    with wb.store.transaction() as con:
        org = organisations.create_organization(con, "Bench")
        users.insert_user(con, org, "ds", "ds@bench.example", "x", "data_scientist")
    buffer = io.BytesIO()
    frame.write_parquet(buffer)
    with wb.store.connect() as con:
        tabular.register_file(auth.context_for(con, "ds"), con, cfg, buffer.getvalue(), "Sales",
                              filename="sales.parquet")
    return wb


def main() -> None:
    n_series = int(sys.argv[1]) if len(sys.argv) > 1 else 100
    days = int(sys.argv[2]) if len(sys.argv) > 2 else 365
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}),"
          f" Python {platform.python_version()}")
    print(f"{n_series} series x {days} days, horizon {HORIZON}, <= {forecast.MAX_WINDOWS} backtest windows")
    with tempfile.TemporaryDirectory() as tmp:
        wb = setup(Path(tmp), synthetic(n_series, days))
        print(f"{'method':<15} {'chosen':<15} {'train s':>8} {'MASE':>7} {'naive MASE':>11} {'sMAPE %':>8}"
              f" {'naive sMAPE':>12} {'log_model s':>12}")
        for method in METHODS:
            with wb.store.connect() as con:
                ctx = auth.context_for(con, "ds")
            started = time.perf_counter()
            result = forecast_service.train(ctx, wb, dataset="Sales", date_col="day",
                                            value_col="sales", series_col="store", method=method,
                                            horizon=HORIZON, name=f"bench-{method}")
            seconds = time.perf_counter() - started
            m = result["metrics"]
            logged = MlflowClient(wb.settings.mlflow_tracking_uri).get_run(result["run_id"]).data.metrics
            print(f"{method:<15} {result['method']:<15} {seconds:>8.1f} {m['mase']:>7.3f}"
                  f" {m['baseline_mase']:>11.3f} {m['smape']:>8.2f} {m['baseline_smape']:>12.2f}"
                  f" {logged['log_model_seconds']:>12.2f}")


if __name__ == "__main__":
    main()
