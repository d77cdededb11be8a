"""Forecast: pick a daily series (the organisation's usage or a registered dataset), see its history,
train a method against the seasonal-naive baseline with progress, and read the forecast with its 80%
and 95% intervals and the backtest."""

import plotly.express as px
import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.models.forecast import service as forecast_service
from workbench.models.forecast import training as forecast
from workbench.ui import models as model_ui

ctx = ui.require("models:train")
state = st.session_state
st.title("Forecast")

spec = model_ui.forecast_series(ctx)
cols = st.columns(3)
method = cols[0].selectbox("Method", list(model_ui.FORECAST_METHODS), key="fc.method",
                           format_func=model_ui.METHOD_NAMES.get)
horizon = cols[1].slider("Horizon (days)", 7, 90, 30, key="fc.horizon")
end = cols[2].date_input("Last day of history", value=None, key="fc.end",
                         help="Empty: up to yesterday for usage, every day of a dataset.")
st.caption(model_ui.FORECAST_METHODS[method])
try:
    with ui.connection(reraise=True) as con:
        if "dataset" in spec:
            history = forecast.dataset_series(ctx, con, **spec, horizon=horizon)
            history = history.filter(pl.col("day") <= end) if end else history
        else:
            history = forecast.workbench_series(ctx, con, **spec, end=end)
except WorkbenchError as exc:
    st.warning(f"{exc} Chat or import a usage log, or pick another metric, dataset or columns.")
    st.stop()
st.plotly_chart(px.line(history, x="day", y="value", color="series", title="History").update_layout(
    height=320, legend_title=None, xaxis_title=None, yaxis_title=None), key="fc.history")

if st.button("Train", type="primary", key="fc.train", icon=":material/model_training:"):
    trained = model_ui.train_with_progress(
        f"Training {model_ui.METHOD_NAMES[method]} for {horizon} days...",
        lambda progress: forecast_service.train(ctx, ui.workbench(), **spec, method=method, horizon=horizon,
                                                end=end, progress=progress),
        lambda result: f"Trained {result['method']}", keep_open=False)
    if trained:
        state["fc.result"] = trained | {"history": history}

if result := state.get("fc.result"):
    model_ui.forecast_result(ctx, result)
    ui.link(ctx, "forecast-score", "Score with a production version")
