"""Forecasting methods for daily series, each a frame (series, day, value): the seasonal-naive
baseline, statsforecast's AutoETS and a global gradient-boosting model on lags, rolling means and
calendar features forecast recursively, all with 80% and 95% intervals; the rolling-origin
backtest and its metrics (MAE, sMAPE, MASE); and the MLflow pyfunc that refits a method on the
history it is given, which is how statistical forecasters are used."""

from __future__ import annotations

from collections.abc import Callable
from importlib.metadata import version

import mlflow.pyfunc
import numpy as np
import pandas as pd
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from workbench.errors import InvalidInput

SEASON = 7
LEVELS = (80, 95)
METHODS = ("seasonal_naive", "ets", "gbm")
LAGS = (*range(1, 15), 21, 28)
LOOKBACK = max(LAGS)  # days a gradient-boosting feature row looks back on
COLUMNS = ["series", "day", "value", "lo80", "hi80", "lo95", "hi95"]
Forecaster = Callable[[pl.DataFrame], pl.DataFrame]


def min_length(horizon: int, season: int = SEASON) -> int:
    """Days a series needs: two seasons to fit on, then one backtest window of `horizon` days."""
    return 2 * season + horizon


def shortest(history: pl.DataFrame) -> tuple[str, int]:
    """The shortest series and its number of days; InvalidInput when there is no row at all."""
    lengths = history.group_by("series").len().sort("len", "series")
    if lengths.is_empty():
        raise InvalidInput("There is no data to forecast: the series has no rows.")
    return lengths.row(0)


def windows_for(history: pl.DataFrame, horizon: int, most: int = 3, season: int = SEASON) -> int:
    """How many backtest windows of `horizon` days every series allows (at most `most`)."""
    series, days = shortest(history)
    if days < min_length(horizon, season):
        raise InvalidInput(
            f"Series {series!r} has {days} days; a {horizon}-day forecast needs at least "
            f"{min_length(horizon, season)} (two {season}-day seasons plus one backtest window of "
            f"{horizon} days). Use a shorter horizon or a longer history."
        )
    return min(most, (days - 2 * season) // horizon)


def forecast(
    method: str, history: pl.DataFrame, horizon: int, quantiles: np.ndarray | None = None
) -> pl.DataFrame:
    """The next `horizon` days of every series with intervals (gbm: only when given the conformal
    `quantiles`, scaled absolute errors per step at each level). Never below 0 when the history
    never is. AutoETS and gradient boosting fit on the history with outliers capped."""
    if method == "gbm":
        out = _gbm(tame_outliers(history), horizon, quantiles)
    elif method in ("ets", "seasonal_naive"):
        out = _statsforecast(tame_outliers(history) if method == "ets" else history, method, horizon)
    else:
        raise InvalidInput(f"Unknown forecast method {method!r}: choose one of {', '.join(METHODS)}.")
    if history.is_empty() or history["value"].min() >= 0:
        out = out.with_columns(pl.col(COLUMNS[2:]).clip(lower_bound=0.0))
    return out.select(COLUMNS).sort("series", "day")


def tame_outliers(history: pl.DataFrame, k: float = 9.0) -> pl.DataFrame:
    """Values further than `k` robust deviations from the centred median of the same weekday in the
    weeks around them, capped there: a one-day spike (an incident, a bulk job) otherwise becomes a
    weekly peak in every forecast week. The deviation is the series' median absolute residual, at
    least a tenth of the mean one (sparse series)."""
    phase = pl.int_range(pl.len()).over("series") % SEASON
    level = pl.col("value").rolling_median(window_size=5, center=True, min_samples=1).over("series", "phase")
    framed = history.with_columns(phase=phase).with_columns(level=level)
    framed = framed.with_columns(residual=(pl.col("value") - pl.col("level")).abs())
    spread = pl.max_horizontal(pl.col("residual").median(), 0.1 * pl.col("residual").mean()).over("series")
    bound = k * spread
    capped = pl.col("value").clip(pl.col("level") - bound, pl.col("level") + bound)
    framed = framed.with_columns(value=pl.when(bound > 0).then(capped).otherwise("value"))
    return framed.select(history.columns)


def _statsforecast(history: pl.DataFrame, method: str, horizon: int) -> pl.DataFrame:
    from statsforecast import StatsForecast
    from statsforecast.models import AutoETS, SeasonalNaive

    model = AutoETS(season_length=SEASON) if method == "ets" else SeasonalNaive(season_length=SEASON)
    data = history.select(unique_id="series", ds=pl.col("day").cast(pl.Datetime("ns")), y="value")
    raw = StatsForecast(models=[model], freq="D", n_jobs=1).forecast(
        df=data.to_pandas(), h=horizon, level=list(LEVELS)
    )
    alias = repr(model)
    names = {"unique_id": "series", "ds": "day", alias: "value"}
    names |= {f"{alias}-{side}-{level}": f"{side}{level}" for level in LEVELS for side in ("lo", "hi")}
    out = pl.from_pandas(raw.reset_index() if "unique_id" not in raw else raw).rename(names)
    out = out.with_columns(pl.col("series").cast(pl.String), pl.col("day").cast(pl.Date))
    if method == "ets" and out.select(pl.col(COLUMNS[2:]).is_nan().any()).row(0) != (False,) * 5:
        # AutoETS finds no model for a few degenerate series (e.g. all zeros): naive for those
        naive = _statsforecast(history, "seasonal_naive", horizon)
        broken = out.filter(pl.any_horizontal(pl.col(COLUMNS[2:]).is_nan()))["series"].unique()
        out = pl.concat([out.filter(~pl.col("series").is_in(broken)),
                         naive.filter(pl.col("series").is_in(broken))])
    return out.select(COLUMNS)


# Gradient boosting: one model for all series. Each row is a day t of one series; its features are
# that series' lags and rolling means relative to the mean of the week before t, divided by the
# series' scale (mean absolute value), and t's calendar. The target is y[t] on the same footing, so
# series of any size share the model and a trend carries on through the relative target.


def _scale(values: np.ndarray) -> float:
    scale = float(np.mean(np.abs(values))) if len(values) else 0.0
    return scale if scale > 0 else 1.0


def _padded(values: np.ndarray) -> np.ndarray:
    """At least LOOKBACK + SEASON values: a short series is extended backwards by whole copies of
    its first week, so weekdays stay aligned."""
    short = LOOKBACK + SEASON - len(values)
    if short <= 0:
        return values
    weeks = -(-short // SEASON)
    return np.concatenate([np.tile(values[:SEASON], weeks), values])


def _features(past: np.ndarray, days: np.ndarray, scale: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows for the days `days` (datetime64[D]) from each row's LOOKBACK values before it."""
    ref = past[:, -SEASON:].mean(axis=1)
    rel = lambda values: (values - ref[:, None]) / scale[:, None]  # noqa: E731
    lags = rel(past[:, [LOOKBACK - k for k in LAGS]])
    means = rel(np.stack([past[:, -w:].mean(axis=1) for w in (14, 28)], axis=1))
    months = days.astype("datetime64[M]")
    calendar = np.stack([
        (days.astype(np.int64) + 3) % 7,  # day of week, Monday 0 (1970-01-01 was a Thursday)
        (days - months).astype(np.int64) + 1,  # day of month
        months.astype(np.int64) % 12 + 1,  # month
    ], axis=1)
    return np.hstack([lags, means, (ref / scale)[:, None], calendar]), ref


def _gbm(history: pl.DataFrame, horizon: int, quantiles: np.ndarray | None) -> pl.DataFrame:
    # One OpenMP thread (scikit-learn is imported above, so its OpenMP is loaded for the limit to
    # reach): the recursive loop predicts a few rows at a time, and with two threads on a busy
    # 2-core machine the 100-series bench took 117 s instead of 5 s (threads spin-wait).
    with threadpool_limits(limits=1, user_api="openmp"):
        return _gbm_fit_predict(history, horizon, quantiles)


def _gbm_fit_predict(history: pl.DataFrame, horizon: int, quantiles: np.ndarray | None) -> pl.DataFrame:
    names, tails, last_days, scales, flat, xs, ys = [], [], [], [], [], [], []
    parts = history.sort("series", "day").partition_by("series", as_dict=True, maintain_order=True)
    for (name,), part in parts.items():
        values = part["value"].to_numpy().astype(float)
        scale, padded = _scale(values), _padded(values)
        last = np.datetime64(part["day"][-1], "D")
        flat.append(not np.any(values != 0))  # an all-zero series teaches nothing; its forecast is 0
        if not flat[-1]:
            days = last - np.arange(len(padded) - 1, -1, -1)
            rows = np.lib.stride_tricks.sliding_window_view(padded, LOOKBACK + 1)
            x, ref = _features(rows[:, :LOOKBACK], days[LOOKBACK:], np.full(len(rows), scale))
            xs.append(x)
            ys.append((rows[:, LOOKBACK] - ref) / scale)
        names.append(name)
        tails.append(padded[-LOOKBACK:])
        last_days.append(last)
        scales.append(scale)
    model = HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=31, early_stopping=False, random_state=0
    ).fit(np.vstack(xs), np.concatenate(ys)) if xs else None
    past, scale, last, flat = np.vstack(tails), np.array(scales), np.array(last_days), np.array(flat)
    steps = []
    for step in range(1, horizon + 1):  # recursive: each forecast becomes a lag of the next day
        x, ref = _features(past, last + step, scale)
        predicted = np.where(flat, 0.0, ref + (model.predict(x) * scale if model else 0.0))
        steps.append(predicted)
        past = np.hstack([past[:, 1:], predicted[:, None]])
    values = np.stack(steps, axis=1).ravel()  # series by step
    out = {"series": np.repeat(names, horizon), "day": (last[:, None] + np.arange(1, horizon + 1)).ravel(),
           "value": values}
    for i, level in enumerate(LEVELS):
        width = np.nan if quantiles is None else (quantiles[:horizon, i][None, :] * scale[:, None]).ravel()
        width = np.where(np.repeat(flat, horizon), 0.0, width)
        out |= {f"lo{level}": values - width, f"hi{level}": values + width}
    return pl.DataFrame(out).with_columns(pl.col("day").cast(pl.Date))


def conformal_quantiles(points: pl.DataFrame, horizon: int) -> np.ndarray:
    """Split-conformal half-widths per horizon step (rows) and level (columns), as multiples of a
    series' scale, from backtest errors; neighbouring steps are pooled (+-2) and widths never
    shrink with the step."""
    errors = points.select("step", e=(pl.col("actual") - pl.col("forecast")).abs() / pl.col("scale"))
    steps, values = errors["step"].to_numpy(), errors["e"].to_numpy()
    out = np.zeros((horizon, len(LEVELS)))
    for h in range(1, horizon + 1):
        near = np.sort(values[np.abs(steps - h) <= 2])
        for i, level in enumerate(LEVELS):
            if len(near):
                rank = min(len(near), int(np.ceil((len(near) + 1) * level / 100)))
                out[h - 1, i] = near[rank - 1]
    return np.maximum.accumulate(out, axis=0)


def backtest(
    history: pl.DataFrame,
    forecasters: dict[str, Forecaster],
    horizon: int,
    windows: int,
    season: int = SEASON,
    progress: Callable[[str], None] | None = None,
) -> pl.DataFrame:
    """Rolling origin: window k holds each series' last k*horizon days out, fits on the rest and
    forecasts `horizon` days; windows are numbered oldest first. One row per forecast point: window,
    method, series, day, step, actual, forecast, naive_mae (the training part's in-sample seasonal
    naive MAE, for MASE) and scale (its mean absolute value, for conformal intervals)."""
    ranked = history.sort("series", "day").with_columns(
        back=pl.int_range(pl.len()).reverse().over("series")
    )
    parts = []
    for number, k in enumerate(range(windows, 0, -1), start=1):
        train = ranked.filter(pl.col("back") >= k * horizon).drop("back")
        test = ranked.filter((pl.col("back") >= (k - 1) * horizon) & (pl.col("back") < k * horizon))
        scales = train.group_by("series").agg(
            naive_mae=(pl.col("value") - pl.col("value").shift(season)).abs().mean(),
            scale=pl.col("value").abs().mean(),
            cutoff=pl.col("day").max(),
        )
        for method, forecaster in forecasters.items():
            if progress:
                progress(f"window {number} of {windows}: {method}")
            predicted = forecaster(train).select("series", "day", forecast="value")
            parts.append(
                test.join(predicted, on=["series", "day"]).join(scales, on="series").select(
                    window=pl.lit(number), method=pl.lit(method), series="series", day="day",
                    step=(pl.col("day") - pl.col("cutoff")).dt.total_days(), actual="value",
                    forecast="forecast", naive_mae="naive_mae",
                    scale=pl.when(pl.col("scale") > 0).then("scale").otherwise(1.0),
                )
            )
    return pl.concat(parts)


def summarise(points: pl.DataFrame) -> pl.DataFrame:
    """MAE, sMAPE (%) and MASE per window and method, then over all windows ('all'); MASE is the
    mean over series (and windows) of MAE / in-sample seasonal-naive MAE, skipping flat series."""
    points = points.filter(pl.col("forecast").is_finite())  # no forecast is not a perfect forecast
    error = (pl.col("actual") - pl.col("forecast")).abs()
    denominator = pl.col("actual").abs() + pl.col("forecast").abs()
    scored = points.with_columns(
        err=error, sape=pl.when(denominator > 0).then(200 * error / denominator).otherwise(0.0)
    )
    per_series = scored.group_by("window", "method", "series").agg(
        mase=pl.col("err").mean() / pl.col("naive_mae").first()
    ).filter(pl.col("mase").is_finite())
    cutoffs = scored.group_by("window").agg(cutoff=(pl.col("day") - pl.duration(days=pl.col("step"))).max())

    def table(keys: list[str]) -> pl.DataFrame:
        points_part = scored.group_by(keys).agg(mae=pl.col("err").mean(), smape=pl.col("sape").mean())
        return points_part.join(per_series.group_by(keys).agg(pl.col("mase").mean()), on=keys, how="left")

    windows = table(["window", "method"]).join(cutoffs, on="window").sort("window", "method")
    windows = windows.with_columns(pl.col("window").cast(pl.String), pl.col("cutoff").cast(pl.String))
    overall = table(["method"]).sort("method")
    overall = overall.with_columns(window=pl.lit("all"), cutoff=pl.lit(None, pl.String))
    columns = ["window", "cutoff", "method", "mae", "smape", "mase"]
    return pl.concat([windows.select(columns), overall.select(columns)])


def overall(table: pl.DataFrame, method: str) -> dict[str, float | None]:
    """A method's metrics over all windows: mae, smape, mase (None where undefined)."""
    row = table.filter((pl.col("window") == "all") & (pl.col("method") == method)).row(0, named=True)
    return {key: float(row[key]) if row[key] is not None and np.isfinite(row[key]) else None
            for key in ("mase", "smape", "mae")}


def history_frame(frame: pl.DataFrame) -> pl.DataFrame:
    """A history (series, day, value) with the types the methods expect, sorted."""
    missing = {"series", "day", "value"} - set(frame.columns)
    if missing:
        raise InvalidInput(f"A forecast history needs the columns series, day and value; {sorted(missing)} "
                           "missing.")
    return frame.select(
        pl.col("series").cast(pl.String), pl.col("day").cast(pl.Date), pl.col("value").cast(pl.Float64)
    ).sort("series", "day")


def requirements() -> list[str]:
    """Pinned requirements of the logged model (explicit, so logging infers nothing)."""
    packages = ("mlflow", "statsforecast", "scikit-learn", "threadpoolctl", "polars", "pandas", "numpy",
                "pyarrow", "cloudpickle")
    return [f"{name}=={version(name)}" for name in packages]


class ForecastModel(mlflow.pyfunc.PythonModel):
    """A forecast method with its horizon: predict(history with series, day, value) refits on that
    history and returns the next `horizon` days with 80% and 95% intervals."""

    def __init__(self, method: str, horizon: int, quantiles: np.ndarray | None = None) -> None:
        self.method = method
        self.horizon = horizon
        self.quantiles = None if quantiles is None else np.asarray(quantiles, dtype=float)

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        history = history_frame(pl.from_pandas(pd.DataFrame(model_input)))
        return forecast(self.method, history, self.horizon, self.quantiles).to_pandas()
