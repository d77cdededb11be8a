"""Forecasts at the series' own frequency, hourly to yearly: the frequency inferred from the times,
missing steps interpolated and counted, irregular times refused unless aggregated, horizons and
seasons counted in the frequency's steps, the methods on weekly and hourly data, `auto` choosing
by the backtest; weekly, hourly and monthly datasets trained, promoted and scored in a temp data
home."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from tests.conftest import ctx_of
from workbench import home
from workbench.accounts import auth, organisations, users
from workbench.errors import InvalidInput
from workbench.models import promotion, tabular
from workbench.models.forecast import FREQUENCY_NAMES, frequency, training
from workbench.models.forecast import methods as fm
from workbench.models.forecast import service as forecast_service
from workbench.settings import Settings

HOURLY, DAILY, WEEKLY = (frequency.named(name) for name in ("hourly", "daily", "weekly"))
MONDAY, SUNDAY = datetime(2026, 3, 2), datetime(2023, 1, 1)


def history(times: list[datetime], values=None, series: str = "a") -> pl.DataFrame:
    """One series (series, time, value); values 0, 1, 2... unless given."""
    values = np.arange(len(times), dtype=float) if values is None else values
    return fm.history_frame(pl.DataFrame({"series": series, "time": times, "value": values}))


def steps(start: datetime, n: int, step: timedelta) -> list[datetime]:
    return [start + k * step for k in range(n)]


def month_firsts(year: int, n: int) -> list[datetime]:
    return [datetime(year + k // 12, k % 12 + 1, 1) for k in range(n)]


def month_ends(year: int, n: int) -> list[datetime]:
    return pl.Series(month_firsts(year, n)).dt.month_end().to_list()


def weekly_sales(weeks: int = 130, seed: int = 5) -> pl.DataFrame:
    """Two regions' weekly sales on Sundays from 1 January 2023: a trend, a yearly season, noise."""
    rng, t = np.random.default_rng(seed), np.arange(weeks)
    yearly = lambda shift: np.sin(2 * np.pi * (t + shift) / 52)  # noqa: E731
    return pl.concat([pl.DataFrame({
        "week": [(SUNDAY + timedelta(weeks=int(k))).date() for k in t], "region": region,
        "sales": level + 0.5 * t + 0.25 * level * yearly(shift) + rng.normal(0, 3, weeks),
    }) for region, level, shift in (("north", 200, 0), ("south", 120, 13))])


def hourly_load(hours: int = 21 * 24, seed: int = 3) -> pl.DataFrame:
    """A load by the hour from Monday 2 March 2026: a daily cycle, busier weekends, noise."""
    rng, t = np.random.default_rng(seed), np.arange(hours)
    weekend = ((t // 24) % 7 >= 5) * 15.0
    return pl.DataFrame({"time": steps(MONDAY, hours, timedelta(hours=1)),
                         "value": 100 + 30 * np.sin(2 * np.pi * t / 24) + weekend + rng.normal(0, 2, hours)})


def parquet(frame: pl.DataFrame) -> bytes:
    out = io.BytesIO()
    frame.write_parquet(out)
    return out.getvalue()


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """A fresh data home with one organisation and its data scientist, dana (no demo)."""
    cfg = Settings(home=tmp_path_factory.mktemp("frequency") / "home", lock_wait_s=1.0,
                   embedding_backend="hash")
    home.init(cfg)
    wb = home.Workbench(cfg)
    with wb.store.transaction() as con:
        org = organisations.create_organization(con, "Acme")
        users.insert_user(con, org, "dana", "dana@acme.test", auth.hash_password("password1"),
                          "data_scientist")
    return wb


def register(wb, data: bytes, name: str, filename: str) -> None:
    with wb.store.connect() as con:
        tabular.register_file(ctx_of(wb.store, "dana"), con, wb.settings, data, name, filename=filename)


def prepare(wb, **options) -> dict:
    with wb.store.connect() as con:
        return training.prepare(ctx_of(wb.store, "dana"), con, **options)


# The frequency of a series


@pytest.mark.parametrize("times, name, seasons, month_end", [
    (steps(MONDAY, 60, timedelta(hours=1)), "hourly", (24, 168), False),
    (steps(MONDAY, 40, timedelta(days=1)), "daily", (7,), False),
    (steps(SUNDAY, 30, timedelta(weeks=1)), "weekly", (52,), False),
    (month_ends(2024, 24), "monthly", (12,), True),
    (month_firsts(2024, 24), "monthly", (12,), False),
    (month_firsts(2020, 48)[::3], "quarterly", (4,), False),
    ([datetime(year, 1, 1) for year in range(2010, 2025)], "yearly", (), False),
], ids=["hourly", "daily", "weekly-on-sundays", "monthly-at-month-ends", "monthly-on-the-1st", "quarterly",
        "yearly"])
def test_the_frequency_is_inferred_from_the_times(times, name, seasons, month_end):
    freq = frequency.infer(history(times))
    assert (freq.name, freq.seasons, freq.month_end) == (name, seasons, month_end)
    filled, missing = frequency.fill_gaps(history(times), freq)
    assert missing == 0 and filled["time"].to_list() == times


def test_the_command_line_aggregates_to_every_frequency():
    from workbench.cli.forecast import train_command

    (aggregate,) = [option for option in train_command.params if option.name == "aggregate"]
    assert tuple(aggregate.type.choices) == FREQUENCY_NAMES == tuple(frequency.FREQUENCIES)


def test_missing_steps_are_interpolated_and_counted():
    days = steps(MONDAY, 20, timedelta(days=1))
    kept = [d for d in days if d.day not in (5, 6)]
    filled, missing = frequency.fill_gaps(history(kept, [float(d.day) for d in kept]), DAILY)
    assert missing == 2 and filled["time"].to_list() == days
    assert filled["value"].to_list() == [float(d.day) for d in days]  # a straight line across the gap
    ends = month_ends(2024, 24)
    freq = frequency.infer(history(ends[:5] + ends[6:]))  # June 2024 missing
    filled, missing = frequency.fill_gaps(history(ends[:5] + ends[6:]), freq)
    assert (freq.name, missing) == ("monthly", 1) and filled["time"].to_list() == ends


def test_irregular_times_are_refused_with_a_pointer_to_aggregating():
    stamps = [MONDAY + timedelta(minutes=m) for m in (0, 37, 95, 200, 260, 900, 1000, 1500, 2200)]
    with pytest.raises(InvalidInput, match=r"The times in 'at' are irregular: consecutive values are from 37 "
                                           r"minutes to 11\.67 hours apart.* Aggregate them .*--aggregate"):
        frequency.infer(history(stamps), "'at'")
    with pytest.raises(InvalidInput, match="a single time"):
        frequency.infer(history(stamps[:1]), "'at'")


def test_irregular_times_aggregate_to_days_and_weeks_by_sum_or_mean():
    stamps = [MONDAY.replace(hour=8), MONDAY.replace(hour=17, minute=30), datetime(2026, 3, 3, 9, 15),
              datetime(2026, 3, 8, 23, 59), datetime(2026, 3, 9, 0, 1)]  # Mon, Mon, Tue, Sun, next Mon
    taps = history(stamps, [1.0, 3.0, 5.0, 7.0, 11.0])
    rows = lambda frame: [(t.day, v) for t, v in frame.select("time", "value").rows()]  # noqa: E731
    assert rows(frequency.aggregate(taps, "daily", "sum")) == [(2, 4.0), (3, 5.0), (8, 7.0), (9, 11.0)]
    assert rows(frequency.aggregate(taps, "daily", "mean")) == [(2, 2.0), (3, 5.0), (8, 7.0), (9, 11.0)]
    assert rows(frequency.aggregate(taps, "weekly", "sum")) == [(2, 16.0), (9, 11.0)]  # weeks from Monday
    assert rows(frequency.aggregate(taps, "weekly", "mean")) == [(2, 4.0), (9, 11.0)]
    days = frequency.aggregate(taps, "daily")
    assert frequency.infer(days).name == "daily" and frequency.fill_gaps(days, DAILY)[1] == 4  # 4th to 7th
    with pytest.raises(InvalidInput, match="Aggregate with sum or mean, not 'median'"):
        frequency.aggregate(taps, "daily", "median")


def test_times_are_labelled_with_the_hour_only_when_there_is_one():
    hours = pl.DataFrame({"time": steps(MONDAY, 2, timedelta(hours=13))})
    days = pl.DataFrame({"time": steps(MONDAY, 2, timedelta(days=1))})
    assert hours.select(frequency.label(pl.col("time")))["time"].to_list() == ["2026-03-02 00:00",
                                                                              "2026-03-02 13:00"]
    assert days.select(frequency.label(pl.col("time")))["time"].to_list() == ["2026-03-02", "2026-03-03"]


# Horizons and seasons in the frequency's steps; the methods at each frequency


def test_a_weekly_forecast_is_weeks_ahead_of_the_last_time():
    weeks = history(steps(SUNDAY, 130, timedelta(weeks=1)), weekly_sales()["sales"][:130].to_numpy())
    freq = frequency.fitting(WEEKLY, 130, 13)
    ahead = fm.forecast("theta", weeks, 13, freq)
    expected = [SUNDAY + timedelta(weeks=129 + k) for k in range(1, 14)]
    assert ahead["time"].to_list() == expected  # 13 Sundays, 7 days apart, from a week after the last
    assert ahead["value"].is_finite().all()


def test_a_season_the_history_cannot_hold_twice_is_left_out():
    assert frequency.fitting(WEEKLY, 117, 13).seasons == (52,)  # two years and the horizon
    assert frequency.fitting(WEEKLY, 116, 13).seasons == ()  # the season goes; the forecast does not
    assert frequency.fitting(HOURLY, 384, 48).seasons == (24, 168)
    assert frequency.fitting(HOURLY, 383, 48).seasons == (24,)  # the weekly season goes, the daily stays
    assert frequency.min_length(frequency.fitting(WEEKLY, 100, 13), 13) == 21  # 8 weeks to fit on + 13
    # the oldest backtest window still fits two of the longest season: two weeks of hours, not days
    assert frequency.min_length(frequency.fitting(HOURLY, 384, 48), 48) == 2 * 168 + 48
    three_weeks = history(steps(MONDAY, 21 * 24, timedelta(hours=1)))
    assert fm.windows_for(three_weeks, 48, frequency.fitting(HOURLY, 21 * 24, 48)) == 3
    assert fm.windows_for(three_weeks.head(16 * 24), 48, frequency.fitting(HOURLY, 16 * 24, 48)) == 1


def test_methods_run_on_weekly_data_with_a_yearly_season():
    sales = weekly_sales()
    weeks = fm.history_frame(sales.select(series="region", time="week", value="sales"))
    freq = frequency.fitting(WEEKLY, 130, 13)
    methods = list(fm.candidates(freq))
    assert set(methods) == set(fm.METHODS) - {"arima"} and fm.members(freq) == ("theta", "mstl", "gbm")
    out = fm.several(methods, weeks, 13, freq)
    last = SUNDAY + timedelta(weeks=129)
    for method, ahead in out.items():
        assert ahead.height == 26 and ahead["value"].is_finite().all(), method
        assert set(ahead["time"]) == {last + timedelta(weeks=k) for k in range(1, 14)}, method
    mean = (out["theta"]["value"] + out["mstl"]["value"] + out["gbm"]["value"]) / 3  # AutoETS: no 52 weeks
    assert np.allclose(out["combination"]["value"].to_numpy(), mean.to_numpy())
    # without conformal widths, the combination's bounds are those of its members that have some
    bounds = (out["theta"]["lo80"] + out["mstl"]["lo80"]) / 2
    assert np.allclose(out["combination"]["lo80"].to_numpy(), bounds.to_numpy())


def test_the_combinations_intervals_come_from_its_own_backtest_errors():
    weeks = fm.history_frame(weekly_sales().select(series="region", time="week", value="sales"))
    freq = frequency.fitting(WEEKLY, 130, 13)
    points = fm.backtest(weeks, lambda part: fm.several(["combination"], part, 13, freq), 13, 2, freq.season)
    quantiles = fm.conformal_quantiles(points, 13)
    plain, conformal = (fm.forecast("combination", weeks, 13, freq, q) for q in (None, quantiles))
    assert conformal["value"].to_list() == plain["value"].to_list()  # the same points, other bounds
    scale = weeks.group_by("series").agg(pl.col("value").abs().mean()).sort("series")["value"]
    width = (conformal["hi95"] - conformal["value"]).to_numpy().reshape(2, 13)
    assert np.allclose(width, quantiles[:, 1][None, :] * scale.to_numpy()[:, None])
    assert (conformal["lo95"] <= conformal["lo80"]).all() and (conformal["hi80"] <= conformal["hi95"]).all()


def test_methods_on_hourly_data_model_the_daily_and_the_weekly_season():
    load = fm.history_frame(hourly_load(21 * 24 + 48).with_columns(series=pl.lit("load")))
    past, truth = load.head(21 * 24), load.tail(48)  # three weeks, then a Monday and a Tuesday
    freq = frequency.fitting(HOURLY, past.height, 48)
    assert freq.seasons == (24, 168)
    out = fm.several(["mstl", "theta", "combination", "gbm", "seasonal_naive"], past, 48, freq)
    for method, ahead in out.items():
        assert ahead["time"].to_list() == truth["time"].to_list() and ahead["value"].is_finite().all(), method
    assert fm.members(freq) == ("mstl", "gbm")  # the two that model 168 hours as well as 24
    assert "ets" not in fm.candidates(freq) and "ets" in fm.candidates(frequency.fitting(HOURLY, 383, 48))
    error = {m: float((ahead["value"] - truth["value"]).abs().mean()) for m, ahead in out.items()}
    # seasonal naive repeats Sunday's busier day; MSTL and boosting know the weekday from 168 hours
    assert error["mstl"] < 0.5 * error["seasonal_naive"] and error["gbm"] < 0.5 * error["seasonal_naive"]


def test_auto_backtests_every_candidate_and_keeps_the_lowest_mase():
    rng, t = np.random.default_rng(11), np.arange(35)
    many = fm.history_frame(pl.concat([pl.DataFrame({
        "series": f"s{i:02d}", "time": steps(MONDAY, 35, timedelta(days=1)),
        "value": (level := rng.uniform(20, 200)) * (1 + 0.3 * np.sin(2 * np.pi * (t + i) / 7))
        + rng.normal(0, 0.05 * level, 35)}) for i in range(21)]))  # more series than auto once took (20)
    windows = fm.windows_for(many, 7, DAILY)
    chosen, points, table = training.select_method(many, "auto", 7, windows, DAILY)
    overall = table.filter(pl.col("window") == "all")
    assert set(overall["method"]) == set(fm.candidates(DAILY)) and windows == 3
    assert chosen == overall.sort("mase")["method"][0]
    assert points.filter(pl.col("method") == chosen)["series"].n_unique() == 21
    assert "mstl" not in fm.candidates(frequency.named("yearly"))  # no season to model


def test_a_model_saved_before_frequencies_forecasts_days():
    old = fm.ForecastModel("seasonal_naive", 7)
    del old.frequency, old.seasons  # as pickled before frequencies were recorded
    days = steps(MONDAY, 28, timedelta(days=1))
    given = pl.DataFrame({"series": "a", "day": [d.date() for d in days],
                          "value": [float(d.weekday()) for d in days]})
    ahead = pl.from_pandas(old.predict(None, given.to_pandas()))
    assert (old.freq().name, old.freq().season) == ("daily", 7)
    assert ahead["time"].to_list() == [days[-1] + timedelta(days=k) for k in range(1, 8)]
    assert ahead["value"].to_list() == [float(k % 7) for k in range(7)]  # last week's weekdays again


# Datasets in a data home: read, trained, promoted and scored at their frequency


def test_horizons_and_the_too_short_message_count_weeks(lab):
    register(lab, parquet(weekly_sales()), "Region sales", "region-sales.parquet")
    source = dict(dataset="Region sales", date_col="week", value_col="sales", series_col="region")
    default = prepare(lab, **source)
    assert (default["frequency"].name, default["frequency"].seasons) == ("weekly", (52,))
    assert (default["horizon"], default["windows"], default["interpolated"]) == (13, 2, 0)
    end = (SUNDAY + timedelta(weeks=99)).date()  # 100 weeks: too short for two years and 13 weeks
    shorter = prepare(lab, **source, end=end)
    assert shorter["frequency"].seasons == () and shorter["history"].height == 2 * 100
    long = prepare(lab, **source, horizon=91)  # 91 weeks, not 91 days: the season goes, one window stays
    assert (long["horizon"], long["windows"], long["frequency"].seasons) == (91, 1, ())
    with pytest.raises(InvalidInput, match=r"Series 'north' has 60 weeks; a forecast 91 weeks ahead needs at "
                                           r"least 99 weeks \(8 weeks to fit on"):
        prepare(lab, **source, horizon=91, end=(SUNDAY + timedelta(weeks=59)).date())
    with pytest.raises(InvalidInput, match="has 15 weeks; a forecast 13 weeks ahead needs at least 21 weeks"):
        prepare(lab, **source, end=(SUNDAY + timedelta(weeks=14)).date())


def test_irregular_dataset_times_are_refused_until_aggregated(lab):
    rng = np.random.default_rng(2)
    minutes = np.sort(rng.choice(12 * 7 * 24 * 60, size=400, replace=False))  # twelve weeks of taps
    stamps = [(MONDAY + timedelta(minutes=int(m))).strftime("%Y-%m-%d %H:%M") for m in minutes]
    taps = pl.DataFrame({"at": stamps, "litres": rng.uniform(1, 3, 400).round(2)})
    register(lab, taps.write_csv().encode(), "Taps", "taps.csv")
    source = dict(dataset="Taps", date_col="at", value_col="litres")
    with lab.store.connect() as con:
        dana = ctx_of(lab.store, "dana")
        with pytest.raises(InvalidInput, match=r"'at' are irregular.*--aggregate on the command"):
            training.dataset_series(dana, con, **source)
        days, freq, missing = training.dataset_series(dana, con, **source, aggregate="daily", how="sum")
    tapped = taps["at"].str.to_datetime().dt.truncate("1d")
    assert freq.name == "daily" and days["time"].to_list() == pl.datetime_range(
        tapped.min(), tapped.max(), "1d", eager=True).to_list()
    assert missing == days.height - tapped.n_unique() == 4  # days without a tap: interpolated
    totals = days.filter(pl.col("time").is_in(tapped.unique().to_list()))["value"]
    assert totals.sum() == pytest.approx(taps["litres"].sum())
    weekly = prepare(lab, **source, aggregate="weekly", how="mean", horizon=2)
    assert (weekly["frequency"].name, weekly["history"].height) == ("weekly", 12)
    assert (weekly["params"]["aggregate"], weekly["params"]["how"]) == ("weekly", "mean")  # scoring reads so
    assert weekly["history"]["time"].dt.weekday().unique().to_list() == [1]  # each week at its Monday


def test_a_weekly_dataset_trains_promotes_and_scores_its_future_weeks(lab):
    sales = weekly_sales()
    missing = (pl.col("region") == "south") & (pl.col("week") == (SUNDAY + timedelta(weeks=40)).date())
    gappy = sales.filter(~missing)
    register(lab, parquet(gappy), "Weekly sales", "weekly-sales.parquet")
    dana = ctx_of(lab.store, "dana")
    trained = forecast_service.train(dana, lab, dataset="Weekly sales", date_col="week", value_col="sales",
                                     series_col="region", method="theta")
    params = trained["params"]
    assert (params["frequency"], params["seasons"], params["season"], params["horizon"]) == \
        ("weekly", "52", 52, 13)
    assert (params["first_time"], params["last_time"], params["interpolated"]) == \
        ("2023-01-01", "2025-06-22", 1)
    assert {r["method"] for r in trained["backtest"]} == {"theta", "seasonal_naive"}
    assert trained["metrics"]["mase"] < trained["metrics"]["baseline_mase"]
    with lab.store.connect() as con:
        promotion.promote(dana, con, lab.settings, trained["name"], trained["version"])
    scored = forecast_service.score(dana, lab, trained["name"])
    assert (scored["frequency"], scored["series"], scored["rows"]) == ("weekly", 2, 26)
    future = [(SUNDAY + timedelta(weeks=129 + k)).strftime("%Y-%m-%d") for k in range(1, 14)]
    for region in ("north", "south"):  # the 13 Sundays after the last, as dates
        assert [r["time"] for r in scored["forecast"] if r["series"] == region] == future
    # the data turns daily: the weekly version no longer fits it
    with lab.store.connect() as con:
        (stored,) = con.execute("SELECT file_path FROM datasets WHERE name = 'Weekly sales'").fetchone()
    daily = pl.DataFrame({"week": [(SUNDAY + timedelta(days=k)).date() for k in range(400)],
                          "region": "north", "sales": 1.0})
    daily.write_parquet(lab.settings.home / stored)
    with pytest.raises(InvalidInput, match="forecasts weekly series, and its data is now daily: train a new"):
        forecast_service.score(dana, lab, trained["name"])


def test_an_hourly_dataset_trains_and_forecasts_hours(lab):
    register(lab, parquet(hourly_load()), "Hourly load", "hourly-load.parquet")
    dana = ctx_of(lab.store, "dana")
    trained = forecast_service.train(dana, lab, dataset="Hourly load", date_col="time", value_col="value",
                                     method="mstl")
    params = trained["params"]
    assert (params["frequency"], params["seasons"], params["horizon"]) == ("hourly", "24,168", 48)
    assert (params["first_time"], params["last_time"]) == ("2026-03-02 00:00", "2026-03-22 23:00")
    future = [(datetime(2026, 3, 23) + timedelta(hours=k)).strftime("%Y-%m-%d %H:%M") for k in range(48)]
    assert [r["time"] for r in trained["forecast"]] == future
    assert trained["metrics"]["mase"] < trained["metrics"]["baseline_mase"]
    with lab.store.connect() as con:
        promotion.promote(dana, con, lab.settings, trained["name"], trained["version"])
    env = {**os.environ, "WORKBENCH_HOME": str(lab.settings.home), "WORKBENCH_LOCK_WAIT_S": "1",
           "WORKBENCH_EMBEDDING_BACKEND": "hash"}
    command = [str(Path(sys.executable).parent / "workbench"), "forecast", "score", trained["name"], "--as",
               "dana"]
    scored = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert scored.returncode == 0, scored.stderr
    lines = scored.stdout.splitlines()
    assert "(mstl): 48 forecast hours of 1 series saved as batch" in lines[0]
    assert lines[1].split()[:3] == ["series", "hour", "forecast"]
    assert lines[2].split()[1:3] == ["2026-03-23", "00:00"]  # the hour after the last, with its time
    assert lines[-1].split()[1:3] == ["2026-03-24", "23:00"] and len(lines) == 2 + 48


def test_a_month_end_dataset_forecasts_month_ends(lab):
    ends = month_ends(2020, 59)  # January 2020 to November 2024
    t = np.arange(59)
    revenue = pl.DataFrame({"month": [e.date() for e in ends],
                            "revenue": 100 + t + 10 * np.sin(2 * np.pi * t / 12)})
    register(lab, revenue.write_csv().encode(), "Revenue", "revenue.csv")
    trained = forecast_service.train(ctx_of(lab.store, "dana"), lab, dataset="Revenue", date_col="month",
                                     value_col="revenue", method="theta", horizon=6)
    assert [r["time"] for r in trained["forecast"]] == ["2024-12-31", "2025-01-31", "2025-02-28",
                                                         "2025-03-31", "2025-04-30", "2025-05-31"]
    assert trained["params"]["seasons"] == "12" and trained["params"]["windows"] == 3
