"""Forecasting methods for series at any frequency, each a frame (series, time, value): the naive
baselines (seasonal naive, naive, random walk with drift), statsforecast's AutoETS, AutoTheta,
AutoARIMA and MSTL, a combination of the statistical ones and a global gradient-boosting model on
lags, rolling means and calendar features forecast recursively, all with 80% and 95% intervals;
the rolling-origin backtest and its metrics (MAE, sMAPE, MASE); and the MLflow pyfunc that refits
a method on the history it is given, which is how statistical forecasters are used. Seasons come
from the frequency (`forecast.frequency`)."""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import replace
from importlib.metadata import version

import mlflow.pyfunc
import numpy as np
import pandas as pd
import polars as pl
from sklearn.ensemble import HistGradientBoostingRegressor
from threadpoolctl import threadpool_limits

from workbench.errors import InvalidInput
from workbench.models.forecast import METHODS, frequency
from workbench.models.forecast.frequency import Frequency

LEVELS = (80, 95)
# `auto` backtests every method but AutoARIMA, which costs about ten times the others
# (bench/forecast_accuracy.py measures it: on 100 series per frequency it was never the best).
AUTO = tuple(m for m in METHODS if m != "arima")
# Their intervals are split-conformal, from their own backtest errors (`conformal_quantiles`).
CONFORMAL = ("gbm", "combination")
ETS_MAX_SEASON = 24  # statsforecast's AutoETS and (affordably) AutoARIMA model seasons up to this long
COLUMNS = ["series", "time", "value", "lo80", "hi80", "lo95", "hi95"]
Forecaster = Callable[[pl.DataFrame], pl.DataFrame]


def members(freq: Frequency) -> tuple[str, ...]:
    """The methods `combination` averages: those that model every season of the frequency, gradient
    boosting among them (AutoETS a season up to 24 steps, AutoTheta one season, MSTL and boosting
    all); without a season, AutoETS, AutoTheta and drift. bench/forecast_accuracy.py chose these:
    boosting, unlike the statistical methods, adds errors of another kind, and a member that leaves
    a season out (AutoETS on 52 weeks) costs the mean more than it brings."""
    if not freq.seasons:
        return ("ets", "theta", "drift")
    single = len(freq.seasons) == 1
    return (*(("ets",) if single and freq.season <= ETS_MAX_SEASON else ()), *(("theta",) if single else ()),
            "mstl", "gbm")


def candidates(freq: Frequency) -> tuple[str, ...]:
    """The methods `auto` compares on a history of this frequency: MSTL needs a season, and AutoETS
    is left out where there are several (hourly data with its 168-hour week): it models the 24 hours
    only, costs more than all the others together and was the worst but naive there (MASE 1.66 vs
    MSTL 0.47, bench/forecast_accuracy.py)."""
    return tuple(m for m in AUTO if (freq.seasons or m != "mstl") and (len(freq.seasons) < 2 or m != "ets"))


def shortest(history: pl.DataFrame) -> tuple[str, int]:
    """The shortest series and its number of steps; InvalidInput when there is no row at all."""
    lengths = history.group_by("series").len().sort("len", "series")
    if lengths.is_empty():
        raise InvalidInput("There is no data to forecast: the series has no rows.")
    return lengths.row(0)


def windows_for(history: pl.DataFrame, horizon: int, freq: Frequency, most: int = 3) -> int:
    """How many backtest windows of `horizon` steps every series allows (at most `most`)."""
    series, steps = shortest(history)
    need = frequency.min_length(freq, horizon)
    if steps < need:
        fit = frequency.fit_length(freq)
        raise InvalidInput(
            f"Series {series!r} has {freq.steps(steps)}; a forecast {freq.steps(horizon)} ahead needs at "
            f"least {freq.steps(need)} ({freq.steps(fit)} to fit on plus one backtest window of "
            f"{freq.steps(horizon)})."
            " Use a shorter horizon or a longer history."
        )
    return min(most, (steps - need) // horizon + 1)


def forecast(
    method: str, history: pl.DataFrame, horizon: int, freq: Frequency, quantiles: np.ndarray | None = None
) -> pl.DataFrame:
    """The next `horizon` steps of every series with intervals: for gbm and combination, conformal
    ones when given `quantiles` (scaled absolute errors per step at each level; without them, gbm
    has none and combination its members' mean). Never below 0 when the history
    never is. Every method but the naive ones fits on the history with outliers capped."""
    if method not in METHODS:
        raise InvalidInput(f"Unknown forecast method {method!r}: choose one of {', '.join(METHODS)}.")
    return several([method], history, horizon, freq, quantiles)[method]


def several(
    methods: list[str],
    history: pl.DataFrame,
    horizon: int,
    freq: Frequency,
    quantiles: np.ndarray | None = None,
) -> dict[str, pl.DataFrame]:
    """`forecast` of several methods at once: the statistical ones share one statsforecast pass and a
    combination reuses its members' forecasts."""
    if "mstl" in methods and not freq.seasons:
        raise InvalidInput("MSTL models seasons, and this history has none (yearly data, or too short for "
                           "two whole seasons): choose another method.")
    wanted = set(methods) | (set(members(freq)) if "combination" in methods else set())
    tamed = tame_outliers(history, freq) if wanted - {"seasonal_naive", "naive", "drift"} else history
    out = {}
    if plain := sorted(wanted & {"seasonal_naive", "naive", "drift"}):
        out |= _statsforecast(history, plain, horizon, freq)
    if fitted := sorted(wanted & {"ets", "theta", "arima", "mstl"}):
        out |= _statsforecast(tamed, fitted, horizon, freq)
    if "gbm" in wanted:
        out["gbm"] = _gbm(tamed, horizon, freq)
    if "combination" in wanted:
        out["combination"] = _mean([out[m] for m in members(freq)])
    if quantiles is not None:
        out |= {m: _conformal(out[m], history, quantiles) for m in set(CONFORMAL) & set(methods)}
    floor = history.is_empty() or history["value"].min() >= 0
    return {m: (out[m].with_columns(pl.col(COLUMNS[2:]).clip(lower_bound=0.0)) if floor else out[m])
            .select(COLUMNS).sort("series", "time") for m in methods}


def _mean(forecasts: list[pl.DataFrame]) -> pl.DataFrame:
    """The mean of forecasts point by point; the bounds are the mean of the members' that exist
    (gradient boosting has none before its conformal widths)."""
    return pl.concat([f.select(COLUMNS) for f in forecasts]).with_columns(
        pl.col(COLUMNS[3:]).fill_nan(None)).group_by("series", "time").agg(
        pl.col("value").mean(), pl.col(COLUMNS[3:]).mean().fill_null(float("nan")))


def _conformal(forecast: pl.DataFrame, history: pl.DataFrame, quantiles: np.ndarray) -> pl.DataFrame:
    """The forecast with split-conformal intervals: each step's half-width at each level is its
    quantile (`conformal_quantiles`) times the series' scale, the mean absolute value of its
    history (0 for an all-zero series: its forecast is 0, without doubt)."""
    widths = pl.DataFrame({"step": np.arange(len(quantiles)),
                           **{f"w{level}": quantiles[:, i] for i, level in enumerate(LEVELS)}})
    scales = history.group_by("series").agg(scale=pl.col("value").abs().mean())
    framed = forecast.sort("series", "time").with_columns(step=pl.int_range(pl.len()).over("series"))
    framed = framed.join(scales, on="series", how="left").join(widths, on="step", how="left")
    return framed.with_columns(
        **{f"{side}{level}": pl.col("value") + sign * pl.col(f"w{level}") * pl.col("scale")
           for level in LEVELS for side, sign in (("lo", -1), ("hi", 1))}).select(COLUMNS)


def tame_outliers(history: pl.DataFrame, freq: Frequency, k: float = 9.0) -> pl.DataFrame:
    """Values further than `k` robust deviations from the centred median of the same phase of the
    main season around them, capped there: a one-off spike (an incident, a bulk job) otherwise
    becomes a seasonal peak in every forecast season. The deviation is the series' median absolute
    residual, at least a tenth of the mean one (sparse series)."""
    phase = pl.int_range(pl.len()).over("series") % freq.season
    level = pl.col("value").rolling_median(window_size=5, center=True, min_samples=1).over("series", "phase")
    framed = history.with_columns(phase=phase).with_columns(level=level)
    framed = framed.with_columns(residual=(pl.col("value") - pl.col("level")).abs())
    spread = pl.max_horizontal(pl.col("residual").median(), 0.1 * pl.col("residual").mean()).over("series")
    bound = k * spread
    capped = pl.col("value").clip(pl.col("level") - bound, pl.col("level") + bound)
    framed = framed.with_columns(value=pl.when(bound > 0).then(capped).otherwise("value"))
    return framed.select(history.columns)


def _model(method: str, freq: Frequency):
    from statsforecast.models import (
        MSTL,
        AutoARIMA,
        AutoETS,
        AutoTheta,
        Naive,
        RandomWalkWithDrift,
        SeasonalNaive,
    )

    season = freq.season
    short = season if season <= ETS_MAX_SEASON else 1  # AutoETS has no longer season; it goes without
    return {
        "seasonal_naive": lambda: SeasonalNaive(season_length=season, alias=method) if season > 1
        else Naive(alias=method),
        "naive": lambda: Naive(alias=method),
        "drift": lambda: RandomWalkWithDrift(alias=method),
        "ets": lambda: AutoETS(season_length=short, alias=method),
        "theta": lambda: AutoTheta(season_length=season, alias=method),
        "arima": lambda: AutoARIMA(season_length=short, approximation=True, max_p=3, max_q=3, nmodels=30,
                                   alias=method),
        "mstl": lambda: MSTL(season_length=list(freq.seasons), alias=method),
    }[method]()


def _statsforecast(history: pl.DataFrame, methods: list[str], horizon: int, freq: Frequency) -> dict:
    """statsforecast's forecasts on step numbers (it knows no months or Monday weeks), mapped back to
    times; a series a model finds no fit for (e.g. all zeros) gets the naive forecast instead."""
    from statsforecast import StatsForecast

    numbered = history.with_columns(ds=pl.int_range(pl.len()).over("series"))
    data = numbered.select(unique_id="series", ds="ds", y="value").to_pandas()
    with warnings.catch_warnings():  # convergence notes per series, which the backtest judges anyway
        warnings.simplefilter("ignore")
        raw = StatsForecast(models=[_model(m, freq) for m in methods], freq=1, n_jobs=1).forecast(
            df=data, h=horizon, level=list(LEVELS))
    raw = pl.from_pandas(raw.reset_index() if "unique_id" not in raw else raw)
    lasts = numbered.group_by("series").agg(last=pl.col("time").max(), n=pl.len())
    raw = raw.with_columns(pl.col("unique_id").cast(pl.String))
    raw = raw.join(lasts, left_on="unique_id", right_on="series")
    times = frequency.ahead(pl.col("last"), pl.col("ds") - pl.col("n") + 1, freq)
    out = {}
    for method in methods:
        names = {method: "value"} | {f"{method}-{side}-{level}": f"{side}{level}"
                                    for level in LEVELS for side in ("lo", "hi")}
        frame = raw.select(series="unique_id", time=times, **{new: pl.col(old) for old, new in names.items()})
        broken = frame.filter(pl.any_horizontal(pl.col(COLUMNS[2:]).is_nan()))["series"].unique()
        if len(broken) and method != "naive":
            naive = _statsforecast(history.filter(pl.col("series").is_in(broken)), ["naive"], horizon, freq)
            frame = pl.concat([frame.filter(~pl.col("series").is_in(broken)), naive["naive"]])
        out[method] = frame.select(COLUMNS)
    return out


# Gradient boosting: one model for all series. Each row is a step t of one series; its features are
# that series' lags and rolling means relative to the mean of the main season before t, divided by
# the series' scale (mean absolute value), and t's calendar. The target is y[t] on the same footing,
# so series of any size share the model and a trend carries on through the relative target.


def lags(freq: Frequency) -> tuple[int, ...]:
    """The lags gradient boosting reads: the last steps, whole main seasons (four when short, two
    when long) and the longer seasons."""
    season = freq.season
    recent = range(1, min(max(2 * season, frequency.MIN_FIT), 14) + 1)
    wholes = 4 if season <= ETS_MAX_SEASON else 2
    seasonal = (season * k for k in range(1, wholes + 1)) if season > 1 else ()
    return tuple(sorted({*recent, *seasonal, *freq.seasons}))


def calendar(times: pl.Series, freq: Frequency) -> np.ndarray:
    """Calendar features of each time for the frequency (hour and weekday of hourly data, weekday,
    day of month and month of daily data, the week, month or quarter of longer steps)."""
    parts = {"hourly": ("hour", "weekday"), "daily": ("weekday", "day", "month"), "weekly": ("week",),
             "monthly": ("month",), "quarterly": ("quarter",), "yearly": ()}[freq.name]
    if not parts:
        return np.zeros((len(times), 0))
    return np.stack([getattr(times.dt, part)().to_numpy().astype(float) for part in parts], axis=1)


def _scale(values: np.ndarray) -> float:
    scale = float(np.mean(np.abs(values))) if len(values) else 0.0
    return scale if scale > 0 else 1.0


def _padded(values: np.ndarray, lookback: int, season: int) -> np.ndarray:
    """At least `lookback` + `season` values: a short series is extended backwards by whole copies of
    its first season, so phases stay aligned."""
    short = lookback + season - len(values)
    if short <= 0:
        return values
    return np.concatenate([np.tile(values[:season], -(-short // season)), values])


def _features(
    past: np.ndarray, when: np.ndarray, scale: np.ndarray, freq: Frequency
) -> tuple[np.ndarray, np.ndarray]:
    """Feature rows from each row's lookback values before it and its calendar features `when`."""
    lookback, season = past.shape[1], freq.season
    ref = past[:, -season:].mean(axis=1)
    rel = lambda values: (values - ref[:, None]) / scale[:, None]  # noqa: E731
    lagged = rel(past[:, [lookback - k for k in lags(freq)]])
    means = rel(np.stack([past[:, -w:].mean(axis=1) for w in (min(2 * season, lookback), lookback)], axis=1))
    return np.hstack([lagged, means, (ref / scale)[:, None], when]), ref


def _stamps(last: list, steps: np.ndarray, freq: Frequency) -> pl.Series:
    """The times `steps` (per series, a row each) after each series' `last` time, series by step."""
    grid = pl.DataFrame({"last": np.repeat(np.array(last, dtype="datetime64[us]"), steps.shape[1]),
                         "step": steps.ravel()})
    return grid.select(time=frequency.ahead(pl.col("last"), pl.col("step"), freq))["time"]


def _gbm(history: pl.DataFrame, horizon: int, freq: Frequency) -> pl.DataFrame:
    """Gradient boosting's forecast, without intervals (NaN): `several` gives it conformal ones."""
    # One OpenMP thread (scikit-learn is imported above, so its OpenMP is loaded for the limit to
    # reach): the recursive loop predicts a few rows at a time, and with two threads on a busy
    # 2-core machine the 100-series bench took 117 s instead of 5 s (threads spin-wait).
    with threadpool_limits(limits=1, user_api="openmp"):
        return _gbm_fit_predict(history, horizon, freq)


def _gbm_fit_predict(history: pl.DataFrame, horizon: int, freq: Frequency) -> pl.DataFrame:
    lookback, season = max(lags(freq)), freq.season
    names, tails, lasts, scales, flat, xs, ys = [], [], [], [], [], [], []
    parts = history.sort("series", "time").partition_by("series", as_dict=True, maintain_order=True)
    for (name,), part in parts.items():
        values = part["value"].to_numpy().astype(float)
        scale, padded = _scale(values), _padded(values, lookback, season)
        flat.append(not np.any(values != 0))  # an all-zero series teaches nothing; its forecast is 0
        if not flat[-1]:
            rows = np.lib.stride_tricks.sliding_window_view(padded, lookback + 1)
            when = _stamps([part["time"][-1]], np.arange(-len(rows) + 1, 1)[None, :], freq)
            x, ref = _features(rows[:, :lookback], calendar(when, freq), np.full(len(rows), scale), freq)
            xs.append(x)
            ys.append((rows[:, lookback] - ref) / scale)
        names.append(name)
        tails.append(padded[-lookback:])
        lasts.append(part["time"][-1])
        scales.append(scale)
    model = HistGradientBoostingRegressor(
        max_iter=200, learning_rate=0.05, max_leaf_nodes=31, early_stopping=False, random_state=0
    ).fit(np.vstack(xs), np.concatenate(ys)) if xs else None
    past, scale, flat = np.vstack(tails), np.array(scales), np.array(flat)
    times = _stamps(lasts, np.tile(np.arange(1, horizon + 1), (len(names), 1)), freq)
    when = calendar(times, freq).reshape(len(names), horizon, -1)
    steps = []
    for step in range(horizon):  # recursive: each forecast becomes a lag of the next step
        x, ref = _features(past, when[:, step, :], scale, freq)
        predicted = np.where(flat, 0.0, ref + (model.predict(x) * scale if model else 0.0))
        steps.append(predicted)
        past = np.hstack([past[:, 1:], predicted[:, None]])
    values = np.stack(steps, axis=1).ravel()  # series by step
    bounds = {f"{side}{level}": np.full(len(values), np.nan) for level in LEVELS for side in ("lo", "hi")}
    return pl.DataFrame({"series": np.repeat(names, horizon), "time": times, "value": values} | bounds)


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
    predict: Callable[[pl.DataFrame], dict[str, pl.DataFrame]],
    horizon: int,
    windows: int,
    season: int,
    progress: Callable[[int], None] | None = None,
) -> pl.DataFrame:
    """Rolling origin: window k holds each series' last k*horizon steps out, and `predict` forecasts
    `horizon` steps from the rest with each of its methods; windows are numbered oldest first. One
    row per forecast point: window, method, series, time, cutoff (the last time fitted on), step,
    actual, forecast, naive_mae (the training part's in-sample seasonal-naive MAE at `season`, for
    MASE) and scale (its mean absolute value, for conformal intervals)."""
    ranked = history.sort("series", "time").with_columns(back=pl.int_range(pl.len()).reverse().over("series"))
    parts = []
    for number, k in enumerate(range(windows, 0, -1), start=1):
        train = ranked.filter(pl.col("back") >= k * horizon).drop("back")
        test = ranked.filter((pl.col("back") >= (k - 1) * horizon) & (pl.col("back") < k * horizon))
        scales = train.group_by("series").agg(
            naive_mae=(pl.col("value") - pl.col("value").shift(season)).abs().mean(),
            scale=pl.col("value").abs().mean(),
            cutoff=pl.col("time").max(),
        )
        for method, predicted in predict(train).items():
            parts.append(
                test.join(predicted.select("series", "time", forecast="value"), on=["series", "time"])
                .join(scales, on="series").select(
                    window=pl.lit(number), method=pl.lit(method), series="series", time="time",
                    cutoff="cutoff", step=k * horizon - pl.col("back"), actual="value", forecast="forecast",
                    naive_mae="naive_mae",
                    scale=pl.when(pl.col("scale") > 0).then("scale").otherwise(1.0),
                )
            )
        if progress:
            progress(number)
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
    cutoffs = scored.group_by("window").agg(pl.col("cutoff").max())
    cutoffs = cutoffs.with_columns(frequency.label(pl.col("cutoff")))

    def table(keys: list[str]) -> pl.DataFrame:
        points_part = scored.group_by(keys).agg(mae=pl.col("err").mean(), smape=pl.col("sape").mean())
        return points_part.join(per_series.group_by(keys).agg(pl.col("mase").mean()), on=keys, how="left")

    windows = table(["window", "method"]).join(cutoffs, on="window").sort("window", "method")
    windows = windows.with_columns(pl.col("window").cast(pl.String))
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
    """A history (series, time, value) with the types the methods expect, sorted. A `day` column
    stands for the time (what models trained before frequencies were recorded are given)."""
    if "time" not in frame.columns and "day" in frame.columns:
        frame = frame.rename({"day": "time"})
    missing = {"series", "time", "value"} - set(frame.columns)
    if missing:
        raise InvalidInput(f"A forecast history needs the columns series, time and value; {sorted(missing)} "
                           "missing.")
    return frame.select(
        pl.col("series").cast(pl.String), pl.col("time").cast(pl.Datetime("us")),
        pl.col("value").cast(pl.Float64),
    ).sort("series", "time")


def requirements() -> list[str]:
    """Pinned requirements of the logged model (explicit, so logging infers nothing)."""
    packages = ("mlflow", "statsforecast", "scikit-learn", "threadpoolctl", "polars", "pandas", "numpy",
                "pyarrow", "cloudpickle")
    return [f"{name}=={version(name)}" for name in packages]


class ForecastModel(mlflow.pyfunc.PythonModel):
    """A forecast method with its horizon, frequency and seasons: predict(history with series, time,
    value) refits on that history and returns the next `horizon` steps with 80% and 95% intervals.
    Versions logged before frequencies existed are daily with a weekly season."""

    def __init__(self, method: str, horizon: int, quantiles: np.ndarray | None = None,
                 freq: Frequency | None = None) -> None:
        self.method = method
        self.horizon = horizon
        self.quantiles = None if quantiles is None else np.asarray(quantiles, dtype=float)
        self.frequency = (freq or frequency.named("daily")).name
        self.seasons = ",".join(map(str, (freq or frequency.named("daily")).seasons))

    def freq(self, history: pl.DataFrame | None = None) -> Frequency:
        """The frequency the version forecasts at (month ends as in `history` when given)."""
        freq = frequency.named(getattr(self, "frequency", "daily"), getattr(self, "seasons", "7"))
        if history is not None and freq.code in ("mo", "y") and not history.is_empty():
            freq = replace(freq, month_end=frequency.at_month_ends(history["time"]))
        return freq

    def predict(self, context, model_input: pd.DataFrame, params: dict | None = None) -> pd.DataFrame:
        history = history_frame(pl.from_pandas(pd.DataFrame(model_input)))
        return forecast(self.method, history, self.horizon, self.freq(history), self.quantiles).to_pandas()
