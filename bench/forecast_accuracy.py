"""Forecast accuracy and speed on a public-style benchmark: synthetic hourly, daily, weekly and
monthly series (quarterly on request) drawn from a seed, each with its own level, seasonal shape
(from the real calendar: hour of day with its own weekend shape, weekday, time of year, some with a
December peak; multiplicative or additive), trend (none, steady, damped or changing course),
autocorrelated noise, one-off spikes, half of them counts (Poisson), never negative.

Each series' last `default_horizon` steps (48 hours, 30 days, 13 weeks, 12 months) are the test;
everything else sees only the steps before, `auto`'s choice included (`training.select_method`, the
product's 3-window rolling-origin backtest). Every method then forecasts the test, scored by the
product's own metrics (`methods.backtest` with one window): MASE per series is the test MAE over
the training part's in-sample seasonal-naive MAE, averaged over series. Seconds are fit and forecast
on the training part, per 100 series; auto's is its backtest of every candidate plus the final
forecast of its choice. Last, 100 weekly series timed against the 60 s goal.

    python bench/forecast_accuracy.py [--series N] [--frequencies hourly,daily,weekly,monthly] [--seed 1]

By default 30 hourly series (AutoARIMA and AutoETS cost seconds per hourly series) and 100 of each
other frequency: about 9 minutes on 2 cores (541 s measured).
"""

from __future__ import annotations

import argparse
import os
import platform
import sys
import time
import warnings
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl
from scipy.signal import lfilter

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.models.forecast import METHODS, STATISTICAL, frequency, training  # noqa: E402
from workbench.models.forecast import methods as fm  # noqa: E402

warnings.filterwarnings("ignore")  # statsforecast's convergence notes: the output is figures only

# Per frequency: series by default, steps per series (train and test; least, most), the last time
# of every series (a snapshot of one dataset) and steps a year.
SHAPES = {
    "hourly": (30, (888, 1056), datetime(2025, 3, 27, 23), 8766),  # a Thursday: the test is two weekdays
    "daily": (100, (330, 430), datetime(2025, 6, 30), 365.25),
    "weekly": (100, (170, 220), datetime(2025, 6, 30), 365.25 / 7),
    "monthly": (100, (96, 132), datetime(2025, 6, 1), 12),
    "quarterly": (100, (40, 68), datetime(2025, 4, 1), 4),
}


def shape(phase: np.ndarray, harmonics: int, strength: float, rng) -> np.ndarray:
    """A random positive seasonal profile over `phase` (0 to 1): harmonics of decaying random size,
    exponentiated, so peaks and troughs differ and it is not a sine."""
    k = np.arange(1, harmonics + 1)
    a, b = rng.normal(0, 1, (2, harmonics)) / k
    angle = 2 * np.pi * np.outer(phase, k)
    wave = (a * np.cos(angle) + b * np.sin(angle)).sum(axis=1)
    return np.exp(strength * wave / (wave.std() + 1e-9))


def seasonal(times: pl.Series, name: str, rng) -> np.ndarray:
    """The seasonal factor of each time, from its calendar; mean 1."""
    hour, weekday = times.dt.hour().to_numpy() / 24, times.dt.weekday().to_numpy() - 1
    middle = {"monthly": 1 / 24, "quarterly": 1 / 8}.get(name, 0)  # a month's middle stands for it
    year = (times.dt.ordinal_day().to_numpy() - 1) / 365.25 + middle
    out = np.ones(len(times))
    if name == "hourly":  # weekends have a flatter day of their own: the 168-hour season matters
        out *= np.where(weekday >= 5, shape(hour, 4, rng.uniform(0.1, 0.6), rng),
                        shape(hour, 4, rng.uniform(0.3, 1.0), rng))
    if name in ("hourly", "daily"):
        out *= shape(weekday / 7, 3, rng.uniform(0.05, 0.5), rng)
    if name != "hourly":
        out *= shape(year, 4, rng.uniform(0.03 if name == "daily" else 0.1, 0.5), rng)
        if rng.random() < 0.3:  # a holiday peak in mid-December
            out *= 1 + rng.uniform(0.2, 1.0) * np.exp(-((((year - 0.96 + 0.5) % 1) - 0.5) / 0.03) ** 2)
    return out / out.mean()


def trend(u: np.ndarray, span_years: float, rng) -> np.ndarray:
    """Growth over the series' span `u` (0 to 1): none, steady, damped or changing course; smaller
    over a short span (weeks of hourly data)."""
    kind = rng.choice(["flat", "steady", "damped", "change"], p=[0.25, 0.35, 0.2, 0.2])
    change = rng.uniform(-0.4, 0.8) * min(1.0, span_years) ** 0.5
    if kind == "flat":
        return np.ones_like(u)
    if kind == "steady":
        return np.exp(change * u)
    if kind == "damped":
        return np.exp(change * (1 - np.exp(-4 * u)) / (1 - np.exp(-4)))
    turn = rng.uniform(0.4, 0.85)
    return np.exp(change * np.minimum(u, turn) / turn + rng.uniform(-0.5, 0.5) * np.maximum(u - turn, 0))


def generate(name: str, n_series: int, seed: int) -> pl.DataFrame:
    """`n_series` synthetic series of frequency `name` as a history (series, time, value)."""
    _, (shortest, longest), end, per_year = SHAPES[name]
    freq, rng = frequency.FREQUENCIES[name], np.random.default_rng([seed, list(SHAPES).index(name)])
    frames = []
    for i in range(n_series):
        n = int(rng.integers(shortest, longest + 1))
        times = pl.select(frequency.ahead(pl.lit(end), pl.int_range(1 - n, 1), freq)).to_series()
        level = np.exp(rng.uniform(np.log(3), np.log(5000)))  # 3 to 5,000 a step, log-uniform
        growth, season = trend(np.linspace(0, 1, n), n / per_year, rng), seasonal(times, name, rng)
        mean = level * (growth * season if rng.random() < 0.7 else growth + season - 1)
        phi, sigma = rng.uniform(0, 0.8), rng.uniform(0.03, 0.25)
        noise = lfilter([1], [1, -phi], rng.normal(0, sigma * np.sqrt(1 - phi**2), n))  # AR(1)
        values = np.maximum(mean * np.exp(noise), 0)
        spikes = rng.random(n) < rng.uniform(0, 0.01)
        values[spikes] *= rng.uniform(2, 5, spikes.sum())
        if rng.random() < 0.5:  # counts (calls, orders), not amounts: Poisson noise, loud when small
            values = rng.poisson(values).astype(float)
        frames.append(pl.DataFrame({"series": f"{name[0]}{i:03d}", "time": times, "value": values}))
    return fm.history_frame(pl.concat(frames))


def evaluate(history: pl.DataFrame, name: str) -> dict:
    """Every method and auto on the test (the last default horizon), fitted on the rest: MASE, sMAPE
    and seconds per method; auto's choice."""
    base = frequency.FREQUENCIES[name]
    horizon, seconds, about = base.default_horizon, {}, {}

    def predict(train: pl.DataFrame) -> dict[str, pl.DataFrame]:
        freq = frequency.fitting(base, fm.shortest(train)[1], horizon)
        windows = fm.windows_for(train, horizon, freq, most=3)
        out = {}
        for method in METHODS:  # one at a time to time each (combination refits its members)
            started = time.perf_counter()
            out[method] = fm.forecast(method, train, horizon, freq)
            seconds[method] = time.perf_counter() - started
        started = time.perf_counter()
        chosen, points, _ = training.select_method(train, "auto", horizon, windows, freq)
        quantiles = fm.conformal_quantiles(points.filter(pl.col("method") == chosen), horizon) \
            if chosen in fm.CONFORMAL else None
        out["auto"] = fm.forecast(chosen, train, horizon, freq, quantiles)  # the final forecast, as trained
        seconds["auto"] = time.perf_counter() - started
        about.update(chosen=chosen, windows=windows, seasons=freq.seasons, candidates=fm.candidates(freq))
        return out

    table = fm.summarise(fm.backtest(history, predict, horizon, 1, base.season))
    scores = {m: fm.overall(table, m) for m in (*METHODS, "auto")}
    return about | {"seconds": seconds, "mase": {m: s["mase"] for m, s in scores.items()},
                    "smape": {m: s["smape"] for m, s in scores.items()}}


def report(name: str, n_series: int, history: pl.DataFrame, result: dict) -> str:
    """Print one frequency's table and goals; return its line of the summary."""
    freq, lengths = frequency.FREQUENCIES[name], history.group_by("series").len()["len"]
    mase, smape = result["mase"], result["smape"]
    per100 = {m: s * 100 / n_series for m, s in result["seconds"].items()}
    naive, auto, chosen = mase["seasonal_naive"], mase["auto"], result["chosen"]
    print(f"\n{name}: {n_series} series of {lengths.min()}-{lengths.max()} {freq.unit}s, test the last "
          f"{freq.steps(freq.default_horizon)}, seasons {result['seasons']}, auto's backtest "
          f"{result['windows']} windows of {', '.join(result['candidates'])}")
    print(f"  {'method':<22} {'MASE':>7} {'vs s.naive':>10} {'sMAPE %':>8} {'s / 100 series':>15}")
    for method in (*METHODS, "auto"):
        label = f"auto ({chosen})" if method == "auto" else method
        print(f"  {label:<22} {mase[method]:>7.3f} {mase[method] / naive:>10.3f} {smape[method]:>8.2f}"
              f" {per100[method]:>15.1f}")
    stat, best = min(STATISTICAL, key=mase.get), min(METHODS, key=mase.get)
    ratio = auto / mase[best]
    checks = {f"auto within 3% of the best single method ({ratio:.3f}, goal <= 1.03)": ratio <= 1.03,
              f"auto beats seasonal naive (MASE {auto:.3f} vs {naive:.3f})": auto < naive,
              f"auto beats AutoETS (MASE {auto:.3f} vs {mase['ets']:.3f})": auto < mase["ets"]}
    print(f"  best statsforecast model: {stat} {mase[stat]:.3f}; best single method: {best} {mase[best]:.3f}")
    print(f"  auto chose {chosen}: MASE {auto:.3f}, {per100['auto']:.1f} s / 100 series (its backtest + final"
          " forecast)")
    for check, passed in checks.items():
        print(f"  {'PASS' if passed else 'FAIL'}: {check}")
    return (f"{name:<10} {n_series:>6} {chosen:<15} {auto:>6.3f} {naive:>8.3f} {mase['ets']:>6.3f}"
            f" {f'{best} {mase[best]:.3f}':>20} {ratio:>9.3f}  {'PASS' if all(checks.values()) else 'FAIL'}")


def weekly_timing(seed: int, n_series: int = 100) -> None:
    """The product's training cost on 100 weekly series: auto's backtest and final forecast, and
    every method once (AutoARIMA included)."""
    history, freq = generate("weekly", n_series, seed), frequency.FREQUENCIES["weekly"]
    horizon = freq.default_horizon
    freq = frequency.fitting(freq, fm.shortest(history)[1], horizon)
    windows = fm.windows_for(history, horizon, freq, most=3)
    started = time.perf_counter()
    chosen, _, _ = training.select_method(history, "auto", horizon, windows, freq)
    fm.forecast(chosen, history, horizon, freq)
    auto = time.perf_counter() - started
    started = time.perf_counter()
    fm.several(list(METHODS), history, horizon, freq)
    every = time.perf_counter() - started
    print(f"\n{n_series} weekly series, full history, horizon {horizon} (goal: under 60 s):")
    backtest = f"{windows}-window backtest of {len(fm.candidates(freq))} candidates"
    for label, seconds in ((f"auto: {backtest} + final {chosen}", auto),
                           (f"every method once ({', '.join(METHODS)})", every)):
        print(f"  {'PASS' if seconds < 60 else 'FAIL'}: {label}: {seconds:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--series", type=int, help="series per frequency (default 30 hourly, 100 others)")
    parser.add_argument("--frequencies", default="hourly,daily,weekly,monthly")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs (nproc {len(os.sched_getaffinity(0))}),"
          f" Python {platform.python_version()}")
    started = time.perf_counter()  # numba compiles statsforecast's models on first use: not timed below
    fm.several(list(METHODS), generate("daily", 2, args.seed), 30, frequency.FREQUENCIES["daily"])
    print(f"warm-up (numba compilation): {time.perf_counter() - started:.1f} s")
    lines = []
    for name in args.frequencies.split(","):
        n_series = args.series or SHAPES[name][0]
        history = generate(name, n_series, args.seed)
        lines.append(report(name, n_series, history, evaluate(history, name)))
    print(f"\n{'frequency':<10} {'series':>6} {'auto chose':<15} {'auto':>6} {'s.naive':>8} {'ets':>6}"
          f" {'best single':>20} {'auto/best':>9}  goals")
    print("\n".join(lines))
    weekly_timing(args.seed)
    print(f"\ntotal: {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
