"""The forecast jobs the app, the CLI and the notebooks run: train (on a workbench metric or a
registered dataset's series) and score with the production version. Each holds the database only
to read and to write, never while a method backtests, fits or forecasts, so the app and other
commands keep working meanwhile (DESIGN.md, who holds the database)."""

from __future__ import annotations

from datetime import date

import polars as pl

from workbench.accounts.context import Context
from workbench.home import Workbench
from workbench.models import results
from workbench.models.forecast import frequency, training
from workbench.models.forecast import methods as fm


def train(
    ctx: Context,
    wb: Workbench,
    *,
    metric: str | None = None,
    by: str | None = None,
    dataset: str | None = None,
    date_col: str | None = None,
    value_col: str | None = None,
    series_col: str | None = None,
    aggregate: str | None = None,
    how: str = "sum",
    method: str = "auto",
    horizon: int | None = None,
    name: str | None = None,
    start: date | None = None,
    end: date | None = None,
    progress: training.Progress | None = None,
) -> dict:
    """Backtest `method` against seasonal naive, fit it, log the run to MLflow and register a new
    staging version in the data home `wb`: of the organisation's daily `metric` (in total or split
    `by` provider or model), or of a registered `dataset`'s `value_col` by `date_col` (one series
    per `series_col`) at the frequency its dates have (or `aggregate`d to one, by `how`), from
    `start` to `end` (default: all). `horizon` counts steps of that frequency (default: its usual
    one). Returns the version with its metrics, backtest and forecast. Needs models:train (and
    usage:read or datasets:read)."""
    with wb.store.connect() as con:  # read the series, then let the file go while the method fits
        prepared = training.prepare(ctx, con, metric=metric, by=by, dataset=dataset, date_col=date_col,
                                    value_col=value_col, series_col=series_col, aggregate=aggregate, how=how,
                                    horizon=horizon, name=name,
                                    start=start, end=end, progress=progress)
    fitted = training.fit(ctx, wb.settings, prepared, method=method, progress=progress)
    with wb.store.transaction() as con:
        return training.register_fitted(ctx, con, wb.settings, fitted, progress=progress)


def score(ctx: Context, wb: Workbench, name: str, *, end: date | None = None) -> dict:
    """Forecast with the production version of `name` in the data home `wb` from its series read
    now (up to `end` when given) and write each series' forecast steps (`timeseries_forecast` rows)
    and the chart (a `viz_image` row) to analytics_results as one batch. Needs models:read and
    models:train."""
    with wb.store.connect() as con:
        prepared = training.prepare_score(ctx, con, name, end=end)
    predicted = training.predict_score(ctx, wb.settings, prepared)  # the file is free while it forecasts
    current, forecast = predicted["version"], predicted["forecast"]
    about = {"model": current["name"], "version": int(current["version"])}
    with wb.store.transaction() as con:
        saved = results.save_batch(ctx, con, wb.settings, result_type="timeseries_forecast",
                                   metas=_metas(forecast, about), model_artifact_id=current["id"],
                                   chart_png=predicted["png"], chart_prefix="forecast",
                                   chart_meta=about | {"chart": "history, forecast, 80% and 95% intervals"})
    return {"batch_id": saved["batch_id"], "model": name, "version": current["version"],
            "method": current["params"].get("method"), "series": forecast["series"].n_unique(),
            "rows": forecast.height, "frequency": current["params"].get("frequency") or "daily",
            "chart": saved["chart"], "forecast": training.forecast_rows(forecast)}


def _metas(forecast: pl.DataFrame, about: dict) -> pl.Series:
    """Each forecast step as the JSON text of its result row, with the model and version."""
    meta = forecast.with_columns(frequency.label(pl.col("time")), pl.col(fm.COLUMNS[2:]).fill_nan(None),
                                 model=pl.lit(about["model"]), version=pl.lit(about["version"]))
    return meta.select(meta=pl.struct(pl.all()).struct.json_encode())["meta"]
