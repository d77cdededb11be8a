"""Forecasts of series at their own frequency: the workbench's own daily usage (tokens, cost, calls,
conversations of the acting user's organisation, in total or per provider or model) or a registered
dataset's series (hourly to yearly, inferred from its dates, or aggregated to one). Training
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
from workbench.models.forecast import frequency
from workbench.models.forecast import methods as fm
from workbench.models.forecast.frequency import Frequency
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
MAX_HORIZON = 1000  # steps
Progress = Callable[[float, str], None]


def workbench_series(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    metric: str,
    by: str | None = None,
    start: date | None = None,
    end: date | None = None,
) -> pl.DataFrame:
    """Daily `metric` (tokens, cost of priced calls, calls, conversations) of the organisation, as a
    history (series, time, value),
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
    return fm.history_frame(filled.rename({"day": "time"}))


def dataset_series(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    dataset: str,
    date_col: str,
    value_col: str,
    series_col: str | None = None,
    *,
    aggregate: str | None = None,
    how: str = "sum",
) -> tuple[pl.DataFrame, Frequency, int]:
    """A registered dataset's series (series, time, value) at its frequency, inferred from its dates
    or, with `aggregate`, the one named (values summed or averaged per period, as `how` says); the
    steps missing inside a series interpolated. Returns the history, its frequency and how many steps
    were interpolated. InvalidInput when it is no series or its dates are irregular."""
    frame = tabular.check_series(tabular.load_frame(ctx, con, dataset), date_col, value_col, series_col)
    frame = frame.select(series=pl.col(series_col).cast(pl.String) if series_col else pl.lit(value_col),
                         time=date_col, value=value_col)
    if aggregate:
        frame = frequency.aggregate(frame, aggregate, how)
    freq = frequency.infer(frame, repr(date_col))
    filled, missing = frequency.fill_gaps(frame, freq)
    return fm.history_frame(filled), freq, missing


def series(ctx: Context, con, params: dict, start=None, end=None) -> tuple[pl.DataFrame, Frequency, int]:
    """The series a model's parameters (or a page's choice) describe, read now, from `start` to `end`
    when given: (history, frequency, steps interpolated)."""
    if params.get("dataset"):
        frame, freq, missing = dataset_series(
            ctx, con, params["dataset"], params["date_col"], params["value_col"], params.get("series_col"),
            aggregate=params.get("aggregate") or None, how=params.get("how") or "sum")
        within = pl.col("time").dt.date().is_between(start or date.min, end or date.max)
        return frame.filter(within), freq, missing
    history = workbench_series(ctx, con, params["metric"], params.get("by"), start, end)
    return history, frequency.named("daily"), 0


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
    aggregate: str | None = None,
    how: str = "sum",
    horizon: int | None = None,
    name: str | None = None,
    start: date | None = None,
    end: date | None = None,
    progress: Progress | None = None,
) -> dict:
    """What a forecast trains on, read now: {history, frequency (with the seasons the history
    carries), params (its source), name (`name` or the default one), horizon (in steps of the
    frequency; default its usual one), windows, interpolated}. Every check on the input happens here
    (permissions, the source, the frequency, the horizon, the model name and its kind, series long
    enough for one backtest window), before anything is logged."""
    ctx.require("models:train")
    params = _source_params(metric, by, dataset, date_col, value_col, series_col, aggregate, how)
    name = registry.check_name(name or _default_name(params))
    registry.check_kind(ctx, con, name, "forecast")
    (progress or (lambda fraction, message: None))(0.02, "Reading the series")
    history, freq, missing = series(ctx, con, params, start, end)
    horizon = _check_horizon(freq.default_horizon if horizon is None else horizon)
    freq = frequency.fitting(freq, fm.shortest(history)[1], horizon)
    windows = fm.windows_for(history, horizon, freq, MAX_WINDOWS)
    return {"history": history, "frequency": freq, "params": params, "name": name, "horizon": horizon,
            "windows": windows, "interpolated": missing}


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
    horizon = _check_horizon(prepared["horizon"] if horizon is None else horizon)
    history = prepared["history"]
    freq = frequency.fitting(prepared["frequency"], fm.shortest(history)[1], horizon)
    windows = fm.windows_for(history, horizon, freq, MAX_WINDOWS)
    experiment = registry.experiment_id(settings, ctx.org_id, "forecast")  # an unreachable store fails now
    n_series = history["series"].n_unique()
    chosen, points, table = select_method(history, method, horizon, windows, freq, report)
    report(0.7, f"Fitting {chosen} on all {freq.steps(history.height)} of {n_series} series")
    quantiles = fm.conformal_quantiles(points.filter(pl.col("method") == chosen), horizon) \
        if chosen in fm.CONFORMAL else None
    forecast = fm.forecast(chosen, history, horizon, freq, quantiles)
    baseline = fm.overall(table, "seasonal_naive")
    metrics = fm.overall(table, chosen) | {f"baseline_{k}": v for k, v in baseline.items()}
    labels = history.select(frequency.label(pl.col("time")))["time"]  # one format for all: sorts as text
    first, last = labels.min(), labels.max()
    params = prepared["params"] | {
        "method": chosen, "requested_method": method, "horizon": horizon, "frequency": freq.name,
        "seasons": ",".join(map(str, freq.seasons)), "season": freq.season, "windows": windows,
        "series": n_series, "first_time": first, "last_time": last,
        "interpolated": int(prepared.get("interpolated", 0))}
    report(0.85, "Logging the run and the model to MLflow")
    model = fm.ForecastModel(chosen, horizon, quantiles, freq)
    run_id, model_uri = _log_run(settings, experiment, history, table, forecast, model, params, metrics, name,
                                 freq)
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
    freq = frequency.named(challenger["params"].get("frequency"), challenger["params"].get("seasons"))
    windows = fm.windows_for(history, horizon, freq, int(challenger["params"].get("windows", MAX_WINDOWS)))
    versions = {"challenger": challenger, "champion": champion}
    models = {key: _load(settings, row["artifact_uri"]) for key, row in versions.items()}
    points = fm.backtest(history, lambda part: {key: _gate_predict(versions[key], models[key], part)
                                                for key in models}, horizon, windows, freq.season)
    points = points.filter(pl.col("forecast").is_finite())
    both = points.group_by("window", "series", "time").len().filter(pl.col("len") == 2).drop("len")
    points = points.join(both, on=["window", "series", "time"])
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
    params = current["params"]
    history, freq, _ = series(ctx, con, params, end=end)
    trained = frequency.named(params.get("frequency"), params.get("seasons"))
    if freq.name != trained.name:
        raise InvalidInput(f"{name} version {current['version']} forecasts {trained.name} series, and its "
                           f"data is now {freq.name}: train a new version on it.")
    shortest, steps = fm.shortest(history)
    need = frequency.fit_length(trained)
    if steps < need:
        raise InvalidInput(f"Series {shortest!r} has {trained.steps(steps)}; a forecast needs at least "
                           f"{trained.steps(need)}.")
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


def chart(history: pl.DataFrame, forecast: pl.DataFrame, title: str, most: int = 6, steps: int = 120):
    """History (the last `steps`, at least twice the forecast's), forecast and 80%/95% intervals:
    one panel per series, the `most`
    largest series when there are more. A matplotlib Figure (no pyplot: safe in threads)."""
    from matplotlib.figure import Figure

    largest = history.group_by("series").agg(pl.col("value").abs().sum()).sort("value", descending=True)
    names = sorted(largest["series"].head(most).to_list())
    figure = Figure(figsize=(9, 2.4 * len(names)), layout="constrained")
    for axes, series in zip(figure.subplots(len(names), 1, squeeze=False)[:, 0], names, strict=True):
        ahead = forecast.filter(pl.col("series") == series)
        past = history.filter(pl.col("series") == series).tail(max(steps, 2 * ahead.height))
        axes.plot(past["time"], past["value"], color="#333333", linewidth=1, label="history")
        for level, alpha in (("95", 0.15), ("80", 0.3)):
            if ahead[f"lo{level}"].is_not_nan().any():
                axes.fill_between(ahead["time"], ahead[f"lo{level}"], ahead[f"hi{level}"], color="#1f77b4",
                                  alpha=alpha, linewidth=0, label=f"{level}% interval")
        axes.plot(ahead["time"], ahead["value"], color="#1f77b4", linewidth=1.5, label="forecast")
        axes.set_title(series, fontsize=9, loc="left")
    figure.axes[0].legend(fontsize=8, loc="upper left")
    shown = "" if largest.height <= most else f" (the {most} largest of {largest.height} series)"
    figure.suptitle(title + shown, fontsize=10)
    return figure


def _check_method(method: str) -> None:
    if method not in CHOICES:
        raise InvalidInput(f"Unknown forecast method {method!r}: choose one of {', '.join(CHOICES)}.")


def _check_horizon(horizon) -> int:
    if not 1 <= int(horizon) <= MAX_HORIZON:
        raise InvalidInput(f"The horizon is a number of steps at the series' frequency, 1 to {MAX_HORIZON}.")
    return int(horizon)


def _source_params(metric, by, dataset, date_col, value_col, series_col, aggregate=None, how="sum") -> dict:
    if dataset:
        if metric or by:
            raise InvalidInput("Forecast either a workbench metric or a dataset, not both.")
        if not (date_col and value_col):
            raise InvalidInput("A dataset forecast needs its date column and its value column.")
        if aggregate:
            frequency.named(aggregate)
        return {"source": f"dataset {dataset}", "dataset": dataset, "date_col": date_col,
                "value_col": value_col, "series_col": series_col, "aggregate": aggregate or None,
                "how": how if aggregate else None}
    if aggregate:
        raise InvalidInput("The workbench's usage is daily; only a dataset can be aggregated.")
    if metric not in METRICS:
        raise InvalidInput(f"Unknown metric {metric!r}: choose one of {', '.join(METRICS)}, or a dataset.")
    if by not in (None, *BY):
        raise InvalidInput(f"A forecast can be split by {' or '.join(BY)}, not {by!r}.")
    return {"source": "workbench usage", "metric": metric, "by": by}


def select_method(
    history: pl.DataFrame,
    method: str,
    horizon: int,
    windows: int,
    freq: Frequency,
    report: Progress | None = None,
) -> tuple[str, pl.DataFrame, pl.DataFrame]:
    """Backtest the method (for `auto`: every candidate for the frequency) and the seasonal-naive
    baseline over `windows` rolling origins: (the method with the lowest MASE, the backtest's points,
    its summary table)."""
    report = report or (lambda fraction, message: None)
    candidates = list(fm.candidates(freq)) if method == "auto" else [method]
    methods = list(dict.fromkeys([*candidates, "seasonal_naive"]))
    points = fm.backtest(history, lambda part: fm.several(methods, part, horizon, freq), horizon, windows,
                         freq.season, progress=lambda number: report(
                             0.05 + 0.6 * number / windows, f"Backtest window {number} of {windows} done"))
    table = fm.summarise(points)
    mase = {m: fm.overall(table, m)["mase"] for m in candidates}
    chosen = min(candidates, key=lambda m: float("inf") if mase[m] is None else mase[m])
    return chosen, points, table


def _default_name(params: dict) -> str:
    if params.get("dataset"):
        slug = re.sub(r"[^a-z0-9]+", "-", params["dataset"].lower()).strip("-")[:40]
        return f"forecast-{slug or 'dataset'}"
    return "-".join(["forecast", params["metric"], *([params["by"]] if params.get("by") else [])])


def _log_run(settings, experiment, history, table, forecast, model, params, metrics, name,
             freq) -> tuple[str, str]:
    """One MLflow run: parameters, metrics, the backtest table, chart, forecast and training series
    (which the promotion gate re-evaluates on), and the pyfunc model with explicit requirements."""
    import mlflow
    from mlflow.models import infer_signature

    # three of the longest seasons of one series: enough for any method to refit when MLflow checks it
    longest = max((*freq.seasons, frequency.MIN_FIT))
    example = history.filter(pl.col("series") == history["series"][0]).tail(3 * longest).to_pandas()
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
    return out.with_columns(pl.col("series").cast(pl.String), pl.col("time").cast(pl.Datetime("us"))).select(
        fm.COLUMNS)


def _known(metrics: dict) -> dict:
    return {key: value for key, value in metrics.items() if value is not None}


def forecast_rows(frame: pl.DataFrame) -> list[dict]:
    """A forecast (or any frame with a `time`) as rows for JSON: times as text (dates alone at midnight)."""
    return frame.with_columns(frequency.label(pl.col("time"))).to_dicts()
