"""Forecast: pick a series (the organisation's daily usage or a registered dataset at its own
frequency, hourly to yearly), see its history, train a method against the seasonal-naive baseline
with progress, and read the forecast with its 80% and 95% intervals and the backtest."""

import plotly.express as px
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.models.forecast import frequency
from workbench.models.forecast import methods as fm
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
end = cols[2].date_input("Last day of history", value=None, key="fc.end",
                         help="Empty: up to yesterday for usage, every time of a dataset.")
try:
    with ui.connection(reraise=True) as con:
        history, freq, interpolated = forecast.series(ctx, con, spec, end=end)
except WorkbenchError as exc:
    st.warning(f"{exc} " + ("Pick the series column, aggregate to a frequency, or pick other columns."
                            if "dataset" in spec else "Chat or import a usage log, or pick another metric."))
    st.stop()
horizon = cols[1].number_input(f"Horizon ({freq.unit}s)", 1, forecast.MAX_HORIZON, freq.default_horizon,
                               key=f"fc.horizon.{freq.name}", help=f"How many {freq.unit}s to forecast.")
fitted = frequency.fitting(freq, fm.shortest(history)[1], int(horizon))
st.caption(f"{model_ui.frequency_note(freq, fitted, interpolated)} {model_ui.method_note(method, freq)}")
try:  # say before training when the history is too short for this horizon
    fm.windows_for(history, int(horizon), fitted)
except WorkbenchError as exc:
    st.warning(str(exc))
st.plotly_chart(px.line(history, x="time", y="value", color="series", title="History").update_layout(
    height=320, legend_title=None, xaxis_title=None, yaxis_title=None), key="fc.history")

if st.button("Train", type="primary", key="fc.train", icon=":material/model_training:"):
    doing = "Backtesting every method" if method == "auto" else f"Training {model_ui.METHOD_NAMES[method]}"
    trained = model_ui.train_with_progress(
        f"{doing}, {freq.steps(int(horizon))} ahead...",
        lambda progress: forecast_service.train(ctx, ui.workbench(), **spec, method=method,
                                                horizon=int(horizon), end=end, progress=progress),
        lambda result: f"Trained {model_ui.METHOD_NAMES.get(result['method'], result['method'])}",
        keep_open=False)
    if trained:
        state["fc.result"] = trained | {"history": history, "spec": spec}

if (result := state.get("fc.result")) and result["spec"] == spec:  # not another series' result
    model_ui.forecast_result(ctx, result)
    ui.link(ctx, "forecast-score", "Score with a production version")
