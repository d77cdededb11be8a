"""Forecasts of daily series: the workbench's own usage (tokens, cost, calls, conversations of the
acting user's organisation, in total or per provider or model) or a registered dataset. Training
backtests the method against the seasonal-naive baseline (rolling origin), fits on all history,
logs one MLflow run with its artifacts and a pyfunc model, and registers a staging version;
scoring forecasts with the production version. Both come in steps (`prepare`, `fit`,
`register_fitted`; `prepare_score`, `predict_score`) that `forecast.service` composes into one job
each, holding the database only to read and to write, never during a fit. The methods live in
`forecast.methods`."""

from __future__ import annotations

import io
import logging
import re
import tempfile
import time
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path

import duckdb
import polars as pl

from workbench import csv_safe
from workbench.accounts.context import Context
from workbench.errors import InvalidInput
from workbench.models import registry, tabular
from workbench.models.forecast import methods as fm
from workbench.settings import Settings

# MLflow warns on every log_model that a Python object is pickled. The object is the workbench's own
# forecast class, and a model is only ever loaded back from this home's own store: the warning says
# nothing a user can act on, so it is not printed (any other MLflow message still is).
logging.getLogger("mlflow.pyfunc").addFilter(lambda record: "CloudPickle" not in record.getMessage())

# What can be forecast from the rollup: metric -> its column in usage_daily (conversations are
# counted from the conversations table, by their provider and model when split).
METRICS = {"tokens": "total_tokens", "cost": "cost_usd", "calls": "calls", "conversations": None}
BY = ("provider", "model")
CHOICES = ("auto", *fm.METHODS)
MAX_WINDOWS = 3
# AutoETS fits about 0.14 s per series of a year on these cores, and a backtest fits it 4 times:
# `auto` compares it with gradient boosting up to this many series and uses gradient boosting above.
AUTO_ETS_MAX_SERIES = 20
Progress = Callable[[float, str], None]


def workbench_series(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    metric: str,
    by: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """Daily `metric` (tokens, cost of priced calls, calls, conversations) of the organisation,
    one series in total or one per provider or model, from `start` to `end` (both included; by
    default from the first to the last day with usage before today, which is not over), days
    without usage as 0."""
    ctx.require("usage:read")
    if metric not in METRICS:
        raise InvalidInput(f"Unknown metric {metric!r}: choose one of {', '.join(METRICS)}.")
    if by not in (None, *BY):
        raise InvalidInput(f"A forecast can be split by {' or '.join(BY)}, not {by!r}.")
    if metric == "conversations":
        keys = {b: f"coalesce(llm_{b}, '(unknown)')" for b in BY}
        day, value, table = "created_at::DATE", "count(*)", "conversations"
    else:
        keys, day, value, table = {b: b for b in BY}, "day", f"sum({METRICS[metric]})", "usage_daily"
    open_ended, end = end is None, end or date.today() - timedelta(days=1)
    sql = (f"SELECT {keys.get(by, repr('total'))} AS series, {day} AS day, {value}::DOUBLE AS value"
           f" FROM {table} WHERE org_id = ? AND (?::DATE IS NULL OR {day} >= ?)"
           f" AND (?::DATE IS NULL OR {day} <= ?) GROUP BY ALL")
    frame = pl.from_arrow(con.sql(sql, params=[ctx.org_id, start, start, end, end]).to_arrow_table())
    if frame.is_empty():
        raise InvalidInput(f"Your organisation has no {metric} to forecast in this period yet.")
    first, last = start or frame["day"].min(), frame["day"].max() if open_ended else end
    days = pl.DataFrame({"day": pl.date_range(first, last, eager=True)})
    grid = frame.select(pl.col("series").unique()).join(days, how="cross")
    filled = grid.join(frame, on=["series", "day"], how="left").with_columns(pl.col("value").fill_null(0.0))
    return fm.history_frame(filled)


def dataset_series(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    date_col: str,
    value_col: str,
    series_col: str | None = None,
    *,
    horizon: int = 30,
) -> pl.DataFrame:
    """A registered dataset's daily series (series, day, value); days missing inside a series are
    interpolated. InvalidInput when it is no daily series or one is too short for `horizon`."""
    frame = tabular.check_series(tabular.load_frame(ctx, con, dataset), date_col, value_col, series_col,
                                 min_length=fm.min_length(horizon))
    frame = frame.select(series=pl.col(series_col).cast(pl.String) if series_col else pl.lit(value_col),
                         day=date_col, value=value_col)
    spans = frame.group_by("series").agg(first=pl.col("day").min(), last=pl.col("day").max())
    grid = spans.select("series", day=pl.date_ranges("first", "last")).explode("day")
    filled = grid.join(frame, on=["series", "day"], how="left").sort("series", "day")
    return fm.history_frame(filled.with_columns(pl.col("value").interpolate().over("series")))


def prepare(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    metric: str | None = None,
    by: str | None = None,
    dataset: str | None = None,
    date_col: str | None = None,
    value_col: str | None = None,
    series_col: str | None = None,
    horizon: int = 30,
    name: str | None = None,
    start: date | None = None,
    end: date | None = None,
    progress: Progress | None = None,
) -> dict:
    """What a forecast trains on, read now: {history, params (its source), name (`name` or the
    default one), horizon, windows}. Every check on the input happens here (permissions, the
    source, the horizon, the model name and its kind, series long enough for one backtest
    window), before anything is logged."""
    ctx.require("models:train")
    _check_horizon(horizon)
    params = _source_params(metric, by, dataset, date_col, value_col, series_col)
    name = registry.check_name(name or _default_name(params))
    registry.check_kind(ctx, con, name, "forecast")
    (progress or (lambda fraction, message: None))(0.02, "Reading the series")
    history = _history(ctx, con, params, int(horizon), start, end)
    windows = fm.windows_for(history, int(horizon), MAX_WINDOWS)
    return {"history": history, "params": params, "name": name, "horizon": int(horizon), "windows": windows}


def fit(
    ctx: Context,
    settings: Settings,
    prepared: dict,
    *,
    method: str = "auto",
    horizon: int | None = None,
    name: str | None = None,
    progress: Progress | None = None,
) -> dict:
    """Backtest the method against seasonal naive on `prepare`'s history, fit it on all of it and
    log one MLflow run with its artifacts and the pyfunc model. Needs no database connection: the
    file stays free for other processes during the fit. `horizon` and `name` default to the
    prepared ones. An unreachable MLflow store fails before the backtest; nothing is registered yet."""
    ctx.require("models:train")
    report = progress or (lambda fraction, message: None)
    _check_method(method)
    name = registry.check_name(name or prepared["name"])
    horizon = int(prepared["horizon"] if horizon is None else horizon)
    _check_horizon(horizon)
    history = prepared["history"]
    windows = fm.windows_for(history, horizon, MAX_WINDOWS)
    experiment = registry.experiment_id(settings, ctx.org_id, "forecast")  # an unreachable store fails now
    n_series = history["series"].n_unique()
    chosen, points, table = _backtest(history, method, horizon, windows, report)
    report(0.7, f"Fitting {chosen} on all {history.height:,} days of {n_series} series")
    gbm_points = points.filter(pl.col("method") == "gbm")
    quantiles = fm.conformal_quantiles(gbm_points, horizon) if chosen == "gbm" else None
    forecast = fm.forecast(chosen, history, horizon, quantiles)
    baseline = fm.overall(table, "seasonal_naive")
    metrics = fm.overall(table, chosen) | {f"baseline_{k}": v for k, v in baseline.items()}
    params = prepared["params"] | {
        "method": chosen, "requested_method": method, "horizon": horizon, "season": fm.SEASON,
        "windows": windows, "series": n_series, "first_day": str(history["day"].min()),
        "last_day": str(history["day"].max())}
    report(0.85, "Logging the run and the model to MLflow")
    model = fm.ForecastModel(chosen, horizon, quantiles)
    run_id, model_uri = _log_run(settings, experiment, history, table, forecast, model, params, metrics, name)
    return {"run_id": run_id, "model_uri": model_uri, "name": name, "method": chosen, "metrics": metrics,
            "params": params, "backtest": table.to_dicts(), "forecast": forecast_rows(forecast)}


def register_fitted(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    fitted: dict,
    progress: Progress | None = None,
) -> dict:
    """Register `fit`'s run as a new staging version (in MLflow and model_artifacts): what `train`
    returns (run_id, name, version, stage, method, metrics, params, backtest, forecast)."""
    report = progress or (lambda fraction, message: None)
    report(0.95, f"Registering {fitted['name']}")
    params = fitted["params"]
    version = registry.register(ctx, con, settings, kind="forecast", name=fitted["name"],
                                run_id=fitted["run_id"], metrics=_known(fitted["metrics"]), params=params,
                                source=params["source"], model_uri=fitted["model_uri"])
    report(1.0, f"Registered {fitted['name']} version {version['version']} in staging")
    return {"run_id": fitted["run_id"], "name": fitted["name"], "version": version["version"],
            "stage": version["stage"], "method": fitted["method"], "metrics": fitted["metrics"],
            "params": params, "backtest": fitted["backtest"], "forecast": fitted["forecast"]}


def gate_metrics(settings: Settings, challenger: dict, champion: dict) -> tuple[dict, dict]:
    """Both versions backtested on the challenger's training series with the same windows (each
    refits its own method), compared on the days both forecast (a NaN is no forecast): (challenger,
    champion) metrics, each with every key (mase, smape, mae); a metric either version leaves
    undefined there (MASE of flat series) is None in both, as they cannot be compared on it.
    InvalidInput when a version cannot forecast that history or forecasts none of its days."""
    with registry.reachable(settings) as client, tempfile.TemporaryDirectory() as tmp:
        history = fm.history_frame(pl.read_parquet(client.download_artifacts(challenger["run_id"],
                                                                            "history.parquet", tmp)))
    horizon = int(challenger["params"]["horizon"])
    windows = fm.windows_for(history, horizon, int(challenger["params"].get("windows", MAX_WINDOWS)))
    versions = {"challenger": challenger, "champion": champion}
    models = {key: _load(settings, row["artifact_uri"]) for key, row in versions.items()}
    forecasters = {key: (lambda h, key=key: _gate_predict(versions[key], models[key], h)) for key in models}
    points = fm.backtest(history, forecasters, horizon, windows).filter(pl.col("forecast").is_finite())
    both = points.group_by("window", "series", "day").len().filter(pl.col("len") == 2).drop("len")
    points = points.join(both, on=["window", "series", "day"])
    for key, row in versions.items():
        if points.filter(pl.col("method") == key).is_empty():
            raise InvalidInput(_not_comparable(row, "forecasts none of the days the other one does"))
    table = fm.summarise(points)
    mine, theirs = fm.overall(table, "challenger"), fm.overall(table, "champion")
    undefined = {key for key in mine if mine[key] is None or theirs[key] is None}
    return ({key: None if key in undefined else value for key, value in mine.items()},
            {key: None if key in undefined else value for key, value in theirs.items()})


def _gate_predict(row: dict, model, history: pl.DataFrame) -> pl.DataFrame:
    """A version's forecast on part of the challenger's history, for the gate's backtest."""
    try:
        return _predict(model, history)
    except Exception as exc:  # whatever the method raised: the versions cannot be compared this way
        reason = str(exc).strip().splitlines()[0][:300] if str(exc).strip() else type(exc).__name__
        raise InvalidInput(_not_comparable(row, f"cannot forecast it ({reason})")) from exc


def _not_comparable(row: dict, why: str) -> str:
    method = (row.get("params") or {}).get("method", "its method")
    return (f"Version {row['version']} ({method}) cannot be backtested on the challenger's history: it {why}."
            " Compare the two by hand on the Models page and force the promotion with a reason, or train the "
            "challenger on a history both can forecast.")


def prepare_score(ctx: Context, con: duckdb.DuckDBPyConnection, name: str, end: date | None = None) -> dict:
    """The production version of `name` and its series read now, up to `end` when given (else up
    to yesterday for usage, every day of a dataset): {name, version, history}."""
    ctx.require("models:read")
    ctx.require("models:train")
    current = registry.production_of_kind(ctx, con, name, "forecast")
    history = _history(ctx, con, current["params"], int(current["params"]["horizon"]), end=end)
    series, days = fm.shortest(history)
    if days < 2 * fm.SEASON:
        raise InvalidInput(f"Series {series!r} has {days} days; a forecast needs at least {2 * fm.SEASON}.")
    return {"name": name, "version": current, "history": history}


def predict_score(ctx: Context, settings: Settings, prepared: dict) -> dict:
    """The production model's forecast of `prepare_score`'s history and its chart (PNG bytes);
    needs no database connection."""
    ctx.require("models:train")
    current = prepared["version"]
    model = _load(settings, current["artifact_uri"])  # the version read, even if promotions happen meanwhile
    forecast = _predict(model, prepared["history"])
    png = io.BytesIO()
    chart(prepared["history"], forecast, f"{prepared['name']} v{current['version']}").savefig(
        png, format="png", dpi=90, bbox_inches="tight")
    return prepared | {"forecast": forecast, "png": png.getvalue()}


def chart(history: pl.DataFrame, forecast: pl.DataFrame, title: str, most: int = 6, days: int = 120):
    """History (the last `days`), forecast and 80%/95% intervals: one panel per series, the `most`
    largest series when there are more. A matplotlib Figure (no pyplot: safe in threads)."""
    from matplotlib.figure import Figure

    largest = history.group_by("series").agg(pl.col("value").abs().sum()).sort("value", descending=True)
    names = sorted(largest["series"].head(most).to_list())
    figure = Figure(figsize=(9, 2.4 * len(names)), layout="constrained")
    for axes, series in zip(figure.subplots(len(names), 1, squeeze=False)[:, 0], names, strict=True):
        past = history.filter(pl.col("series") == series).tail(days)
        ahead = forecast.filter(pl.col("series") == series)
        axes.plot(past["day"], past["value"], color="#333333", linewidth=1, label="history")
        for level, alpha in (("95", 0.15), ("80", 0.3)):
            if ahead[f"lo{level}"].is_not_nan().any():
                axes.fill_between(ahead["day"], ahead[f"lo{level}"], ahead[f"hi{level}"], color="#1f77b4",
                                  alpha=alpha, linewidth=0, label=f"{level}% interval")
        axes.plot(ahead["day"], ahead["value"], color="#1f77b4", linewidth=1.5, label="forecast")
        axes.set_title(series, fontsize=9, loc="left")
    figure.axes[0].legend(fontsize=8, loc="upper left")
    shown = "" if largest.height <= most else f" (the {most} largest of {largest.height} series)"
    figure.suptitle(title + shown, fontsize=10)
    return figure


def _check_method(method: str) -> None:
    if method not in CHOICES:
        raise InvalidInput(f"Unknown forecast method {method!r}: choose one of {', '.join(CHOICES)}.")


def _check_horizon(horizon) -> None:
    if not 1 <= int(horizon) <= 365:
        raise InvalidInput("The horizon is a number of days from 1 to 365.")


def _source_params(metric, by, dataset, date_col, value_col, series_col) -> dict:
    if dataset:
        if metric or by:
            raise InvalidInput("Forecast either a workbench metric or a dataset, not both.")
        if not (date_col and value_col):
            raise InvalidInput("A dataset forecast needs its date column and its value column.")
        return {"source": f"dataset {dataset}", "dataset": dataset, "date_col": date_col,
                "value_col": value_col, "series_col": series_col}
    if metric not in METRICS:
        raise InvalidInput(f"Unknown metric {metric!r}: choose one of {', '.join(METRICS)}, or a dataset.")
    if by not in (None, *BY):
        raise InvalidInput(f"A forecast can be split by {' or '.join(BY)}, not {by!r}.")
    return {"source": "workbench usage", "metric": metric, "by": by}


def _backtest(history: pl.DataFrame, method: str, horizon: int, windows: int, report: Progress):
    """Backtest the method (for `auto`: AutoETS and gradient boosting while AutoETS is affordable,
    else gradient boosting) and the seasonal-naive baseline; the method with the lowest MASE wins."""
    n_series = history["series"].n_unique()
    candidates = [method]
    if method == "auto":
        candidates = ["ets", "gbm"] if n_series <= AUTO_ETS_MAX_SERIES else ["gbm"]
    forecasters = {m: (lambda h, m=m: fm.forecast(m, h, horizon)) for m in [*candidates, "seasonal_naive"]}
    total, done = windows * len(forecasters), iter(range(1, windows * len(forecasters) + 1))
    points = fm.backtest(history, forecasters, horizon, windows,
                         progress=lambda text: report(0.05 + 0.6 * next(done) / total, f"Backtest {text}"))
    table = fm.summarise(points)
    chosen = min(candidates, key=lambda m: fm.overall(table, m)["mase"] or float("inf"))
    return chosen, points, table


def _history(ctx: Context, con, params: dict, horizon: int, start=None, end=None) -> pl.DataFrame:
    """The series a model's parameters describe, read now, from `start` to `end` when given."""
    if params.get("dataset"):
        frame = dataset_series(ctx, con, params["dataset"], params["date_col"], params["value_col"],
                               params.get("series_col"), horizon=horizon)
        return frame.filter(pl.col("day").is_between(start or date.min, end or date.max))
    return workbench_series(ctx, con, params["metric"], params.get("by"), start, end)


def _default_name(params: dict) -> str:
    if params.get("dataset"):
        slug = re.sub(r"[^a-z0-9]+", "-", params["dataset"].lower()).strip("-")[:40]
        return f"forecast-{slug or 'dataset'}"
    return "-".join(["forecast", params["metric"], *([params["by"]] if params.get("by") else [])])


def _log_run(settings, experiment, history, table, forecast, model, params, metrics, name) -> tuple[str, str]:
    """One MLflow run: parameters, metrics, the backtest table, chart, forecast and training series
    (which the promotion gate re-evaluates on), and the pyfunc model with explicit requirements."""
    import mlflow
    from mlflow.models import infer_signature

    # three weeks of one series: enough for any method to refit when MLflow checks the example
    example = history.filter(pl.col("series") == history["series"][0]).tail(3 * fm.SEASON).to_pandas()
    with registry.tracking(settings), tempfile.TemporaryDirectory() as tmp, \
            mlflow.start_run(experiment_id=experiment, run_name=f"{name} {params['method']}") as run:
        mlflow.log_params({k: "" if v is None else v for k, v in params.items()})
        mlflow.log_metrics({k: v for k, v in metrics.items() if v is not None})
        folder = Path(tmp)
        (folder / "backtest.csv").write_bytes(csv_safe.write_csv(table))
        forecast.write_parquet(folder / "forecast.parquet")
        history.write_parquet(folder / "history.parquet")
        chart(history, forecast, name).savefig(folder / "forecast.png", dpi=90, bbox_inches="tight")
        mlflow.log_artifacts(tmp)
        started = time.perf_counter()
        info = mlflow.pyfunc.log_model(name="model", python_model=model, pip_requirements=fm.requirements(),
                                       signature=infer_signature(example, model.predict(None, example)),
                                       input_example=example)
        mlflow.log_metric("log_model_seconds", time.perf_counter() - started)
        return run.info.run_id, info.model_uri


def _load(settings: Settings, uri: str):
    """A registered version's pyfunc model (`models:/name/version` or `models:/name@alias`)."""
    import mlflow

    with registry.tracking(settings):
        return mlflow.pyfunc.load_model(uri)


def _predict(model, history: pl.DataFrame) -> pl.DataFrame:
    out = pl.from_pandas(model.predict(history.to_pandas()))
    return out.with_columns(pl.col("series").cast(pl.String), pl.col("day").cast(pl.Date)).select(fm.COLUMNS)


def _known(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if value is not None}


def forecast_rows(frame: pl.DataFrame) -> list[dict]:
    """A forecast (or any frame with a `day`) as rows for JSON: days as text."""
    return frame.with_columns(pl.col("day").cast(pl.String)).to_dicts()
