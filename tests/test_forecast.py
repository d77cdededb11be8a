"""Forecasts on a real MLflow SQLite store in a temp folder: the methods beat seasonal naive on a
seasonal series with a trend, training logs and registers a staging version mirrored in
model_artifacts, the gate keeps a worse forecast out of production, scoring writes
analytics_results, permissions, bad input and tenant isolation of the workbench's series."""

from __future__ import annotations

import json
import re
from datetime import date, datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
import polars as pl
import pytest
from mlflow.tracking import MlflowClient

from tests.conftest import DEMO_TODAY, copy_home, ctx_of
from workbench import home
from workbench.errors import InvalidInput, NotAllowed
from workbench.models import promotion, registry, tabular
from workbench.models.forecast import frequency
from workbench.models.forecast import methods as fm
from workbench.models.forecast import service as forecast_service
from workbench.models.forecast import training as forecast
from workbench.settings import Settings

HORIZON = 14
DEMO_HORIZON = 30  # the default; the demo's last weeks are flat after months of growth
DAILY = frequency.named("daily")


def seasonal(n_series: int = 3, days: int = 120, seed: int = 7) -> pl.DataFrame:
    """Daily series with a weekly pattern, a trend and noise."""
    rng, t = np.random.default_rng(seed), np.arange(days)
    start = date(2026, 1, 1)
    frames = []
    for i in range(n_series):
        level = rng.uniform(50, 300)
        weekly = 0.3 * level * np.sin(2 * np.pi * (t + i) / 7)
        values = level * (1 + 0.004 * t) + weekly + rng.normal(0, level * 0.04, days)
        frames.append(pl.DataFrame({"series": f"s{i}", "value": values}).with_columns(
            time=pl.date_range(start, start + timedelta(days=days - 1), eager=True)))
    return fm.history_frame(pl.concat(frames))


@pytest.mark.parametrize("method", ["ets", "gbm", "combination"])
def test_the_methods_beat_seasonal_naive_on_a_seasonal_series_with_trend(method):
    history = seasonal()
    predict = lambda part: fm.several([method, "seasonal_naive"], part, HORIZON, DAILY)  # noqa: E731
    points = fm.backtest(history, predict, HORIZON, fm.windows_for(history, HORIZON, DAILY), DAILY.season)
    table = fm.summarise(points)
    assert set(table["window"]) == {"1", "2", "3", "all"}
    assert fm.overall(table, method)["mase"] < 0.9 * fm.overall(table, "seasonal_naive")["mase"]
    quantiles = fm.conformal_quantiles(points.filter(pl.col("method") == method), HORIZON)
    ahead = fm.forecast(method, history, HORIZON, DAILY, quantiles)
    assert ahead.height == 3 * HORIZON and ahead["time"].min() == history["time"].max() + timedelta(days=1)
    assert (ahead["lo95"] <= ahead["lo80"]).all() and (ahead["lo80"] <= ahead["value"]).all()
    assert (ahead["value"] <= ahead["hi80"]).all() and (ahead["hi80"] <= ahead["hi95"]).all()


def test_a_series_of_zeros_is_forecast_as_zeros_beside_busy_ones():
    history = seasonal(2)
    idle = history.filter(pl.col("series") == "s0").with_columns(series=pl.lit("idle"), value=pl.lit(0.0))
    history = pl.concat([history, idle])
    for method in fm.METHODS:
        ahead = fm.forecast(method, history, HORIZON, DAILY, np.ones((HORIZON, 2)))
        idle = ahead.filter(pl.col("series") == "idle")
        assert idle.height == HORIZON and idle.select(pl.col(fm.COLUMNS[2:])).to_numpy().max() == 0


def test_a_one_day_spike_does_not_become_a_weekly_peak():
    history = seasonal(1).with_columns(
        value=pl.when(pl.int_range(pl.len()) == 100).then(pl.col("value") * 20).otherwise("value")
    )
    ahead = fm.forecast("ets", history, HORIZON, DAILY)
    assert ahead["value"].max() < 2 * history["value"].head(100).max()


@pytest.fixture(scope="module")
def northwind(demo_home, tmp_path_factory):
    """A copy of the demo where dan trained a forecast of daily calls (AutoETS, 30 days), promoted
    to production, and then a seasonal-naive challenger under the same name, left in staging."""
    target = tmp_path_factory.mktemp("forecast") / "home"
    copy_home(demo_home, target)
    cfg = Settings(home=target, lock_wait_s=1.0, embedding_backend="hash")
    wb = home.Workbench(cfg)
    steps = []
    dan = ctx_of(wb.store, "dan")
    good = forecast_service.train(dan, wb, metric="calls", method="ets", end=DEMO_TODAY.date(),
                                  progress=lambda fraction, message: steps.append(fraction))
    with wb.store.connect() as con:
        promotion.promote(dan, con, cfg, good["name"], good["version"])
    worse = forecast_service.train(dan, wb, metric="calls", method="seasonal_naive", end=DEMO_TODAY.date())
    return cfg, wb, good, worse, steps


def test_train_logs_a_run_and_registers_a_staging_version_mirrored_in_model_artifacts(northwind):
    cfg, wb, good, worse, steps = northwind
    assert good["name"] == "forecast-calls" and worse["version"] == good["version"] + 1
    assert worse["stage"] == "staging" and steps[-1] == 1.0 and steps == sorted(steps)
    assert good["metrics"]["mase"] < good["metrics"]["baseline_mase"]
    assert {r["method"] for r in good["backtest"]} == {"ets", "seasonal_naive"}
    assert len(good["forecast"]) == DEMO_HORIZON
    client = MlflowClient(tracking_uri=cfg.mlflow_tracking_uri)
    run = client.get_run(worse["run_id"])
    assert run.data.params["method"] == "seasonal_naive" and run.data.params["horizon"] == str(DEMO_HORIZON)
    names = {"mase", "smape", "mae", "baseline_mase", "baseline_smape", "baseline_mae"}
    assert names <= run.data.metrics.keys()
    assert run.data.metrics["log_model_seconds"] < 2
    files = {a.path for a in client.list_artifacts(worse["run_id"])}
    assert {"backtest.csv", "forecast.png", "forecast.parquet", "history.parquet"} <= files
    rname = registry.registered_name(1, "forecast-calls")
    assert str(client.get_model_version_by_alias(rname, "staging").version) == str(worse["version"])
    with wb.store.connect() as con:
        mirror = con.execute("SELECT version, stage, kind, mlflow_run_id FROM model_artifacts WHERE name = ?"
                             " ORDER BY version", ["forecast-calls"]).fetchall()
    assert mirror == [(str(good["version"]), "production", "forecast", good["run_id"]),
                      (str(worse["version"]), "staging", "forecast", worse["run_id"])]


def test_the_gate_keeps_a_worse_forecast_out_of_production(northwind):
    cfg, wb, good, worse, _ = northwind
    with wb.store.connect() as con:
        dan = ctx_of(wb.store, "dan")
        state = lambda: (registry.versions(dan, con, "forecast-calls"),  # noqa: E731
                         len(registry.history(dan, con, "forecast-calls")))
        before = state()
        with pytest.raises(registry.GateFailed, match="did not pass the gate on mase"):
            promotion.promote(dan, con, cfg, "forecast-calls", worse["version"])
        assert state() == before
        assert registry.production(dan, con, "forecast-calls")["version"] == good["version"]
    rname = registry.registered_name(1, "forecast-calls")
    client = MlflowClient(tracking_uri=cfg.mlflow_tracking_uri)
    assert str(client.get_model_version_by_alias(rname, "production").version) == str(good["version"])


class _Stub:
    """A stand-in for a version's pyfunc model in the gate's backtest."""

    def __init__(self, predict):
        self.predict = predict


def _gate_rows(northwind):
    cfg, wb, good, worse, _ = northwind
    with wb.store.connect() as con:
        dan = ctx_of(wb.store, "dan")
        return [registry.version_of(dan, con, "forecast-calls", v["version"]) for v in (worse, good)]


def test_gate_metrics_give_every_metric_of_both_versions(northwind):
    cfg = northwind[0]
    challenger, champion = _gate_rows(northwind)
    mine, theirs = forecast.gate_metrics(cfg, challenger, champion)
    assert mine.keys() == theirs.keys() == {"mase", "smape", "mae"}
    assert theirs["mase"] < mine["mase"]  # AutoETS beats seasonal naive on the challenger's history


def test_gate_metrics_say_when_a_version_cannot_be_backtested(northwind, monkeypatch):
    cfg = northwind[0]
    challenger, champion = _gate_rows(northwind)
    real = forecast._load

    def broken(message):
        def predict(frame):
            raise ValueError(message)
        return _Stub(predict)

    def with_champion(model):
        def load(settings, uri):
            return model if uri == champion["artifact_uri"] else real(settings, uri)
        monkeypatch.setattr(forecast, "_load", load)

    with_champion(broken("needs 400 days"))
    cannot = rf"Version {champion['version']} \(ets\) cannot be backtested on the challenger's history"
    with pytest.raises(InvalidInput, match=cannot + r": it cannot forecast it \(needs 400 days\)"):
        forecast.gate_metrics(cfg, challenger, champion)
    with_champion(_Stub(lambda frame: pd.DataFrame({c: [] for c in fm.COLUMNS})))
    with pytest.raises(InvalidInput, match="forecasts none of the days the other one does"):
        forecast.gate_metrics(cfg, challenger, champion)

    def nan_forecast(frame):  # every day "forecast", none of them a number
        ahead = fm.forecast("seasonal_naive", fm.history_frame(pl.from_pandas(frame)), HORIZON, DAILY)
        return ahead.with_columns(pl.col(fm.COLUMNS[2:]) * float("nan")).to_pandas()

    with_champion(_Stub(nan_forecast))
    with pytest.raises(InvalidInput, match="forecasts none of the days the other one does"):
        forecast.gate_metrics(cfg, challenger, champion)


def test_a_metric_one_version_leaves_undefined_is_none_in_both(northwind, monkeypatch):
    cfg = northwind[0]
    challenger, champion = _gate_rows(northwind)
    overall = fm.overall  # as for flat series, whose MASE is undefined
    monkeypatch.setattr(fm, "overall", lambda table, m: overall(table, m) | ({"mase": None} if m == "champion"
                                                                             else {}))
    mine, theirs = forecast.gate_metrics(cfg, challenger, champion)
    assert mine.keys() == theirs.keys() == {"mase", "smape", "mae"}
    assert mine["mase"] is theirs["mase"] is None and None not in (mine["mae"], theirs["mae"])


def test_score_writes_the_forecast_and_its_chart_for_the_organisation(northwind):
    cfg, wb, good, _, _ = northwind
    result = forecast_service.score(ctx_of(wb.store, "dan"), wb, "forecast-calls")
    with wb.store.connect() as con:
        rows = con.execute("SELECT org_id, result_type, artifact_path, meta, model_artifact_id"
                           " FROM analytics_results WHERE batch_id = ? ORDER BY id",
                           [result["batch_id"]]).fetchall()
        production = con.execute("SELECT id FROM model_artifacts WHERE name = 'forecast-calls' AND stage ="
                                 " 'production'").fetchall()[0][0]
    assert result["version"] == good["version"] and result["rows"] == DEMO_HORIZON
    assert [r[1] for r in rows] == ["timeseries_forecast"] * DEMO_HORIZON + ["viz_image"]
    assert {r[0] for r in rows} == {1} and {r[4] for r in rows} == {production}
    meta = json.loads(rows[0][3])
    assert {"series", "time", "value", "lo80", "hi80", "lo95", "hi95", "model", "version"} <= set(meta)
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", meta["time"]) and result["frequency"] == "daily"  # days alone
    assert meta["lo95"] <= meta["lo80"] <= meta["value"] <= meta["hi80"] <= meta["hi95"]
    assert Path(rows[-1][2]).is_file() and Path(rows[-1][2]).is_relative_to(cfg.home / "results")


def test_permissions_to_train_and_score(northwind):
    _, wb, _, _, _ = northwind
    store = wb.store
    for user in ("anna", "mike"):  # an analyst lacks models:train; a manager may only read models
        with pytest.raises(NotAllowed, match="models:train"):
            forecast_service.train(ctx_of(store, user), wb, metric="calls", horizon=HORIZON)
    with pytest.raises(NotAllowed, match="models:train"):
        forecast_service.score(ctx_of(store, "mike"), wb, "forecast-calls")
    with pytest.raises(InvalidInput, match="no production version"):  # helio has no such model
        forecast_service.score(ctx_of(store, "diego"), wb, "forecast-calls")
    with store.connect() as con, pytest.raises(NotAllowed, match="usage:read"):
        forecast.workbench_series(ctx_of(store, "anna"), con, "cost")


def test_workbench_series_stay_in_the_organisation(demo_store):
    end = DEMO_TODAY.date()
    with demo_store.connect() as con:
        for user in ("dan", "diego"):
            ctx = ctx_of(demo_store, user)
            total = forecast.workbench_series(ctx, con, "calls", end=end)
            by_model = forecast.workbench_series(ctx, con, "tokens", by="model", end=end)
            conversations = forecast.workbench_series(ctx, con, "conversations", by="provider", end=end)
            expected = con.execute("SELECT sum(calls), sum(total_tokens), ?::DATE - min(day) + 1"
                                   " FROM usage_daily WHERE org_id = ? AND day <= ?",
                                   [end, ctx.org_id, end]).fetchall()[0]
            models = {m for (m,) in con.execute("SELECT DISTINCT model FROM usage_daily WHERE org_id = ?"
                                                 " AND day <= ?", [ctx.org_id, end]).fetchall()}
            chats = con.execute("SELECT count(*) FROM conversations WHERE org_id = ?"
                                " AND created_at::DATE <= ?", [ctx.org_id, end]).fetchall()[0][0]
            assert (total["value"].sum(), by_model["value"].sum(), total.height) == expected
            assert set(by_model["series"]) == models and conversations["value"].sum() == chats
            lengths = by_model.group_by("series").len()["len"].unique().to_list()
            assert lengths == [total.height]  # days without usage are zeros
            latest = forecast.workbench_series(ctx, con, "calls")["time"].max()
            assert latest < datetime.combine(date.today(), datetime.min.time())  # today is not over


def test_bad_input_says_why_and_logs_nothing(demo_copy):
    wb = home.Workbench(demo_copy)
    store = wb.store
    dan = ctx_of(store, "dan")
    short = b"day,sales\n" + b"".join(f"2026-01-{d:02d},{d}\n".encode() for d in range(1, 21))
    not_dates = b"day,sales\n" + b"".join(f"soon-{d},{d}\n".encode() for d in range(60))
    cases = [
        (dict(metric="revenue"), "Unknown metric 'revenue'"),
        (dict(metric="calls", by="user"), "split by provider or model"),
        (dict(metric="calls", method="prophet"), "Unknown forecast method"),
        (dict(metric="calls", name="Calls forecast"), "is not a model name"),
        (dict(metric="calls", horizon=365), "365 days ahead needs at least 373 days"),
        (dict(dataset="Short", date_col="day", value_col="sales"), "14 days ahead needs at least 22 days"),
        (dict(dataset="Not dates", date_col="day", value_col="sales"), "'day' is not a date column"),
        (dict(dataset="Short", date_col="when", value_col="sales"), "when"),
        (dict(dataset="Short", date_col="day", value_col="sales", aggregate="fortnightly"),
         "Unknown frequency 'fortnightly'"),
        (dict(metric="calls", aggregate="weekly"), "only a dataset can be aggregated"),
    ]
    with store.connect() as con:
        tabular.register_file(dan, con, demo_copy, short, "Short", filename="short.csv")
        tabular.register_file(dan, con, demo_copy, not_dates, "Not dates", filename="not-dates.csv")
    for options, message in cases:
        with pytest.raises(InvalidInput, match=message):
            forecast_service.train(dan, wb, **{"horizon": HORIZON, **options})
    with store.connect() as con:
        assert con.execute("SELECT count(*) FROM model_artifacts").fetchall()[0][0] == 0
    assert not (demo_copy.home / "mlflow.db").exists()  # nothing reached MLflow


def test_a_dataset_with_several_series_trains_and_scores(demo_copy):
    wb = home.Workbench(demo_copy)
    store = wb.store
    dan = ctx_of(store, "dan")
    rows = seasonal(2, 90).with_columns(pl.col("value").round(2)).rename({"series": "store", "time": "date"})
    gappy = rows.filter(pl.col("date") != datetime(2026, 2, 1))  # a missing day is interpolated
    with store.connect() as con:
        tabular.register_file(dan, con, demo_copy, gappy.write_csv().encode(), "Daily sales",
                              filename="sales.csv")
    trained = forecast_service.train(dan, wb, dataset="Daily sales", date_col="date", value_col="value",
                                     series_col="store", method="gbm", horizon=HORIZON)
    with store.connect() as con:
        promotion.promote(dan, con, demo_copy, trained["name"], trained["version"])
    scored = forecast_service.score(dan, wb, trained["name"])
    assert trained["name"] == "forecast-daily-sales" and trained["params"]["series"] == 2
    assert trained["metrics"]["mase"] < trained["metrics"]["baseline_mase"]
    assert scored["series"] == 2 and scored["rows"] == 2 * HORIZON
    assert trained["params"]["frequency"] == "daily" and trained["params"]["interpolated"] == 2  # both stores
    assert {r["series"] for r in scored["forecast"]} == {"s0", "s1"}


@pytest.mark.slow  # two processes that import MLflow, statsforecast and scikit-learn
def test_the_cli_trains_with_json_and_explains_a_missing_production_version(cli_env):
    import subprocess
    import sys

    workbench = str(Path(sys.executable).parent / "workbench")
    args = ["--metric", "cost", "--by", "provider", "--method", "gbm", "--horizon", str(HORIZON)]
    trained = subprocess.run([workbench, "forecast", "train", *args, "--as", "dan", "--json"],
                             env=cli_env, capture_output=True, text=True, timeout=120)
    assert trained.returncode == 0, trained.stderr
    result = json.loads(trained.stdout)
    assert result["name"] == "forecast-cost-provider" and result["stage"] == "staging"
    assert result["params"]["by"] == "provider" and "100% Registered" in trained.stderr
    # only the product's own words: its progress lines, no library warning (MLflow's CloudPickle one)
    assert all(re.match(r"\s*\d+% \S", line) for line in trained.stderr.splitlines()), trained.stderr
    scored = subprocess.run([workbench, "forecast", "score", "forecast-cost-provider", "--as", "dan"],
                            env=cli_env, capture_output=True, text=True, timeout=120)
    assert scored.returncode == 1
    assert scored.stderr.startswith("error: forecast-cost-provider has no production version")


def test_an_unreachable_mlflow_server_fails_before_training_and_registers_nothing(demo_copy, monkeypatch):
    import dataclasses

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    offline = dataclasses.replace(demo_copy, mlflow_tracking_uri="http://127.0.0.1:9")
    wb = home.Workbench(offline)
    steps = []
    with pytest.raises(registry.RegistryUnavailable, match="Nothing was changed"):
        forecast_service.train(ctx_of(wb.store, "dan"), wb, metric="calls", horizon=HORIZON,
                               progress=lambda fraction, message: steps.append(message))
    with wb.store.connect() as con:
        assert con.execute("SELECT count(*) FROM model_artifacts").fetchall()[0][0] == 0
    assert not any(step.startswith("Backtest") for step in steps)


def test_the_database_is_free_while_a_forecast_fits(demo_copy, cli_env):
    """Training reads on a connection that is then closed and holds none while the method is
    backtested and fitted, so another process (the CLI) opens the file mid-fit; the version is
    registered on a connection of its own after."""
    import subprocess
    import sys

    wb = home.Workbench(demo_copy)
    dan = ctx_of(wb.store, "dan")
    workbench = str(Path(sys.executable).parent / "workbench")
    others = []

    def progress(fraction, message):
        if message.startswith("Backtest") and not others:
            others.append(subprocess.run([workbench, "models", "list", "--as", "dan", "--json"], env=cli_env,
                                         capture_output=True, text=True, timeout=60))

    result = forecast_service.train(dan, wb, metric="calls", method="seasonal_naive", horizon=HORIZON,
                                    end=DEMO_TODAY.date(), progress=progress)
    assert others and others[0].returncode == 0, others[0].stderr
    assert json.loads(others[0].stdout) == []  # nothing registered yet
    with wb.store.connect() as con:
        assert [m["name"] for m in registry.list_models(dan, con)] == ["forecast-calls"]
    assert (result["name"], result["version"], result["stage"]) == ("forecast-calls", 1, "staging")
    assert result["params"]["horizon"] == HORIZON
