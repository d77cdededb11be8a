"""The Forecast and Score a forecast pages headless (AppTest): a data scientist sees a series'
history, trains with progress and reads the forecast, its metrics and backtest, forecasts a dataset,
scores with the production version; an analyst is refused."""

from __future__ import annotations

from datetime import date, timedelta

import polars as pl
import pytest
from streamlit.testing.v1 import AppTest

from tests.conftest import DEMO_TODAY, ROOT, ctx_of
from tests.test_pages import app, logged_in  # noqa: F401  (the fixture)
from workbench import home
from workbench.models import promotion, tabular
from workbench.models.forecast import service as forecast_service
from workbench.models.forecast import training as forecast
from workbench.settings import from_env

PAGE = "pages/models/forecast.py"
SCORE = "pages/models/forecast_score.py"


def test_a_data_scientist_sees_the_history_and_trains_a_forecast(app):  # noqa: F811
    at = logged_in(app, "dan", SCORE)
    assert "in production yet" in at.info[0].value
    at.switch_page(PAGE).run()
    assert at.title[0].value == "Forecast" and not at.error and not at.warning
    assert len(at.get("plotly_chart")) == 1  # the history of daily tokens
    at.selectbox(key="fc.metric").set_value("calls")
    at.selectbox(key="fc.method").set_value("seasonal_naive")
    at.number_input(key="fc.horizon.daily").set_value(7)
    at.date_input(key="fc.end").set_value(DEMO_TODAY.date()).run()
    at.button(key="fc.train").click().run(timeout=120)
    assert not at.exception and not at.error, at.exception or at.error
    result = at.session_state["fc.result"]
    assert (result["name"], result["version"], result["stage"]) == ("forecast-calls", 1, "staging")
    assert [m.label for m in at.metric] == ["Method", "MASE", "sMAPE %", "MAE"]
    assert at.metric[0].value == "Seasonal naive"
    assert len(at.get("plotly_chart")) == 2  # history, then history + forecast + intervals
    overall, windows = at.dataframe[0].value, at.dataframe[1].value  # over all windows, then each one
    assert {"method", "mase"} <= set(overall.columns) and list(overall["method"]) == ["Seasonal naive"]
    assert {"window", "cutoff", "mase"} <= set(windows.columns) and "all" not in set(windows["window"])
    assert any("version 1 in staging" in s.value for s in at.success)


def test_a_history_too_short_for_the_horizon_is_explained_and_the_page_goes_on(app):  # noqa: F811
    with app.connect() as con:
        first = forecast.workbench_series(ctx_of(app, "dan"), con, "calls")["time"].min().date()
    at = logged_in(app, "dan", PAGE)
    at.selectbox(key="fc.method").set_value("gbm")
    at.date_input(key="fc.end").set_value(first + timedelta(days=20)).run()
    at.button(key="fc.train").click().run(timeout=60)
    assert not at.exception and "30 days ahead needs at least 38 days" in at.error[0].value
    assert "fc.result" not in at.session_state and len(at.get("plotly_chart")) == 1
    with app.connect() as con:
        assert con.execute("SELECT count(*) FROM model_artifacts").fetchone()[0] == 0


def test_a_dataset_offers_its_columns_and_says_when_it_is_too_short(app):  # noqa: F811
    dan = ctx_of(app, "dan")
    days = pl.date_range(date(2026, 1, 1), date(2026, 3, 1), eager=True)
    rows = pl.DataFrame({"when": [*days, *days], "store": ["north"] * 60 + ["south"] * 60,
                         "sales": [float(i % 7) for i in range(120)]})
    one = pl.DataFrame({"when": days, "load": [float(i % 7) for i in range(60)]})
    with app.connect() as con:
        tabular.register_file(dan, con, from_env(), rows.write_csv().encode(), "Sales", filename="sales.csv")
        tabular.register_file(dan, con, from_env(), one.write_csv().encode(), "Load", filename="load.csv")
    at = logged_in(app, "dan", PAGE)
    at.radio(key="fc.source").set_value("Dataset").run()
    at.selectbox(key="fc.dataset").set_value("Load").run()  # one series: none suggested
    assert at.selectbox(key="fc.series.Load").value is None and not at.warning
    at.selectbox(key="fc.dataset").set_value("Sales").run()  # dates repeat once per store: suggested
    assert at.selectbox(key="fc.date.Sales").value == "when"
    assert at.selectbox(key="fc.value.Sales").value == "sales"
    assert at.selectbox(key="fc.series.Sales").value == "store"
    assert not at.exception and not at.warning
    assert len(at.get("plotly_chart")) == 1
    at.number_input(key="fc.horizon.daily").set_value(60).run()
    assert "7 days left out" in at.caption[0].value and not at.exception  # too short for two weeks + 60
    assert "60 days ahead needs at least 68 days" in at.warning[0].value  # said before training
    at.button(key="fc.train").click().run(timeout=60)
    assert not at.exception and "60 days ahead needs at least 68 days" in at.error[0].value


def test_scoring_with_the_production_version_shows_what_was_written(app):  # noqa: F811
    wb = home.Workbench(from_env())
    dan = ctx_of(wb.store, "dan")
    trained = forecast_service.train(dan, wb, metric="calls", method="seasonal_naive", horizon=7,
                                     end=DEMO_TODAY.date())
    with wb.store.connect() as con:
        promotion.promote(dan, con, wb.settings, trained["name"], trained["version"])
    at = logged_in(app, "dan", SCORE)
    assert at.selectbox(key="fc.model").options == ["forecast-calls"]
    at.button(key="fc.score").click().run(timeout=60)
    assert not at.exception and not at.error, at.exception or at.error
    assert any("forecast days of 1 series from forecast-calls version 1" in s.value for s in at.success)
    assert len(at.dataframe[0].value) == 7  # a week ahead
    with app.connect() as con:
        kinds = con.execute("SELECT result_type, count(*) FROM analytics_results GROUP BY ALL ORDER BY 1")
        kinds = kinds.fetchall()
    assert kinds == [("timeseries_forecast", 7), ("viz_image", 1)]


def test_an_analyst_is_refused(app):  # noqa: F811
    with pytest.raises(ValueError, match="Could not find a navigation page"):
        logged_in(app, "anna", PAGE)
    for page in (PAGE, SCORE):
        direct = AppTest.from_file(str(ROOT / page), default_timeout=30)
        direct.session_state["ctx"] = ctx_of(app, "anna")
        direct.run()
        assert direct.error and "models:train" in direct.error[0].value and not direct.get("plotly_chart")
