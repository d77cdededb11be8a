"""The frequency of a series (hourly, daily, weekly, monthly, quarterly or yearly), inferred from its
times: the unit its horizon counts in, the seasons its methods model (24 and 168 hours, 7 days,
52 weeks, 12 months, 4 quarters) and the times of the steps ahead. Irregular times are refused
with what was found, unless they are first aggregated to a frequency the user names."""

from __future__ import annotations

from dataclasses import dataclass, replace

import polars as pl

from workbench.errors import InvalidInput

HOUR, DAY = 3600, 86400


@dataclass(frozen=True)
class Frequency:
    name: str  # hourly
    unit: str  # hour
    count: int  # the step as a polars offset: `count` of `code`
    code: str
    seasons: tuple[int, ...]  # the seasons the methods model, the main one first
    default_horizon: int
    month_end: bool = False  # monthly and longer: every time is the last day of its month

    @property
    def season(self) -> int:
        """The main season (1: none), which seasonal naive repeats and MASE scales by."""
        return self.seasons[0] if self.seasons else 1

    @property
    def every(self) -> str:
        return f"{self.count}{self.code}"

    def steps(self, n: int) -> str:
        """`n` steps in words: '13 weeks'."""
        return f"{n:,} {self.unit}{'' if n == 1 else 's'}"


FREQUENCIES = {f.name: f for f in (
    Frequency("hourly", "hour", 1, "h", (24, 168), 48),
    Frequency("daily", "day", 1, "d", (7,), 30),
    Frequency("weekly", "week", 1, "w", (52,), 13),
    Frequency("monthly", "month", 1, "mo", (12,), 12),
    Frequency("quarterly", "quarter", 3, "mo", (4,), 8),
    Frequency("yearly", "year", 1, "y", (), 5),
)}
MIN_FIT = 8  # steps a method fits on at least, besides the seasons it models


def named(name: str | None, seasons: str | None = None) -> Frequency:
    """The frequency called `name` (default daily, what models trained before frequencies were
    recorded use), with the seasons a model kept ('24,168'; '' for none) when given."""
    if (name or "daily") not in FREQUENCIES:
        raise InvalidInput(f"Unknown frequency {name!r}: choose one of {', '.join(FREQUENCIES)}.")
    freq = FREQUENCIES[name or "daily"]
    if seasons is None:
        return freq
    return replace(freq, seasons=tuple(int(s) for s in str(seasons).split(",") if s.strip()))


def infer(history: pl.DataFrame, column: str = "the date column") -> Frequency:
    """The frequency of a history (series, time): the usual step between consecutive times, which
    every step must be a whole number of (gaps are allowed), at the same time of day and, for
    months, on the same day of the month. InvalidInput when the times are irregular."""
    steps = history.sort("series", "time").with_columns(
        seconds=pl.col("time").diff().over("series").dt.total_seconds(),
        months=(pl.col("time").dt.year() * 12 + pl.col("time").dt.month()).diff().over("series"),
    ).drop_nulls("seconds")
    if steps.is_empty():
        raise InvalidInput(f"Each series in {column} has a single time: a frequency needs at least two.")
    usual = steps["seconds"].mode().min()
    freq = _by_step(usual)
    times = history["time"]
    if freq is None or not _regular(steps, times, freq):
        raise InvalidInput(_irregular(steps, column))
    return replace(freq, month_end=freq.code in ("mo", "y") and at_month_ends(times))


def at_month_ends(times: pl.Series) -> bool:
    """Whether every time is the last day of its month."""
    return bool((times.dt.month_end() == times).all())


def _by_step(seconds: int) -> Frequency | None:
    days = seconds / DAY
    for name, low, high in (("hourly", HOUR / DAY, HOUR / DAY), ("daily", 1, 1), ("weekly", 7, 7),
                            ("monthly", 28, 31), ("quarterly", 89, 92), ("yearly", 365, 366)):
        if low <= days <= high:
            return FREQUENCIES[name]
    return None


def _regular(steps: pl.DataFrame, times: pl.Series, freq: Frequency) -> bool:
    if freq.code in ("h", "d", "w"):
        size = {"h": HOUR, "d": DAY, "w": 7 * DAY}[freq.code]
        return bool((steps["seconds"] % size == 0).all())
    months = freq.count * (12 if freq.code == "y" else 1)
    same_day = times.dt.day().n_unique() == 1 or at_month_ends(times)
    return bool((steps["months"] % months == 0).all()) and same_day and times.dt.time().n_unique() == 1


def _irregular(steps: pl.DataFrame, column: str) -> str:
    spans = steps["seconds"]
    return (f"The times in {column} are irregular: consecutive values are from {_span(spans.min())} to "
            f"{_span(spans.max())} apart (most often {_span(spans.mode().min())}), which is no hourly, "
            "daily, weekly, monthly, quarterly or yearly series. Aggregate them to one of those frequencies "
            "('Aggregate to' on the Forecast page, --aggregate on the command line).")


def _span(seconds: float) -> str:
    for size, unit in ((DAY, "day"), (HOUR, "hour"), (60, "minute")):
        if seconds >= size:
            n = seconds / size
            return f"{n:,.4g} {unit}{'' if n == 1 else 's'}"
    return f"{seconds:,.4g} second{'' if seconds == 1 else 's'}"


def aggregate(history: pl.DataFrame, name: str, how: str = "sum") -> pl.DataFrame:
    """The history (series, time, value) totalled (`how` sum) or averaged (mean) per period of the
    frequency `name`, each period at its start (weeks start on Monday)."""
    freq = named(name)
    if how not in ("sum", "mean"):
        raise InvalidInput(f"Aggregate with sum or mean, not {how!r}.")
    value = pl.col("value").sum() if how == "sum" else pl.col("value").mean()
    period = pl.col("time").dt.truncate(freq.every)
    return history.group_by("series", period).agg(value).sort("series", "time")


def fill_gaps(history: pl.DataFrame, freq: Frequency) -> tuple[pl.DataFrame, int]:
    """Every step between a series' first and last time, the missing ones interpolated; and how
    many were missing."""
    spans = history.group_by("series").agg(first=pl.col("time").min(), last=pl.col("time").max())
    grid = spans.select("series", time=pl.datetime_ranges("first", "last", freq.every)).explode("time")
    if freq.month_end:
        grid = grid.with_columns(pl.col("time").dt.month_end())
    filled = grid.join(history, on=["series", "time"], how="left").sort("series", "time")
    missing = filled["value"].null_count()
    return filled.with_columns(pl.col("value").interpolate().over("series")), missing


def ahead(last: pl.Expr, step: pl.Expr, freq: Frequency) -> pl.Expr:
    """The time `step` steps after `last` (before, when negative)."""
    moved = last.dt.offset_by(pl.concat_str(step * freq.count, pl.lit(freq.code)))
    return moved.dt.month_end() if freq.month_end else moved


def fitting(freq: Frequency, shortest: int, horizon: int) -> Frequency:
    """The frequency with those of its usual seasons a history of `shortest` steps carries once
    `horizon` steps are held out for a backtest: two whole seasons each (whatever seasons `freq`
    kept for another horizon)."""
    usual = FREQUENCIES[freq.name].seasons
    return replace(freq, seasons=tuple(s for s in usual if 2 * s + horizon <= shortest))


def fit_length(freq: Frequency) -> int:
    """Steps a method fits on at least: two of the longest season it models (or MIN_FIT steps)."""
    return max(2 * max(freq.seasons, default=1), MIN_FIT)


def min_length(freq: Frequency, horizon: int) -> int:
    """Steps a series needs: what every season (or MIN_FIT steps) fits on, plus one backtest window
    of `horizon` steps; so even the oldest backtest window fits each season on two of it."""
    return fit_length(freq) + horizon


def label(times: pl.Expr) -> pl.Expr:
    """Times as text: dates alone when every time in the column is at midnight, else date, hour and
    minute."""
    return pl.when((times.dt.time() == pl.time(0)).all()).then(times.dt.strftime("%Y-%m-%d")).otherwise(
        times.dt.strftime("%Y-%m-%d %H:%M"))
