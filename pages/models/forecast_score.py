"""Score a forecast: forecast from today's history with a model's production version, and save the
forecast and its chart."""

import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.models import registry
from workbench.models.forecast import frequency
from workbench.models.forecast import service as forecast_service
from workbench.ui import models as model_ui

ctx = ui.require("models:train")
state = st.session_state
st.title("Score a forecast")

# Scoring holds the file only to read and to write, never during the forecast (DESIGN.md).
with ui.connection() as con:
    models = registry.list_models(ctx, con)
live = [m["name"] for m in models if m["kind"] == "forecast" and m["production"]]
if not live:
    st.info("None of your organisation's forecast models is in production yet: train one, then promote "
            "a version on the Models page.")
    ui.link(ctx, "forecast", "Train a forecast")
model = st.selectbox("Model in production", live, key="fc.model", disabled=not live)
if model and st.button("Score", key="fc.score", help="Forecast from today's history and save it."):
    try:
        with st.spinner(f"Scoring with {model}..."):
            state["fc.scored"] = forecast_service.score(ctx, ui.workbench(), model)
    except WorkbenchError as exc:
        st.error(str(exc))
if (done := state.get("fc.scored")) and done["model"] == model:
    unit, method = frequency.named(done.get("frequency")).unit, model_ui.METHOD_NAMES.get(done["method"])
    st.success(f"Saved {done['rows']:,} forecast {unit}s of {done['series']} series from {model} version "
               f"{done['version']} ({method or done['method']}) and the chart, as batch {done['batch_id']}.")
    st.image(done["chart"])
    st.dataframe(scored := pl.DataFrame(done["forecast"]), hide_index=True, column_config=model_ui.LABELS)
    ui.exports(scored, f"{model}-v{done['version']}-forecast", key="fc.scored.x")
ui.link(ctx, "models", "Models: compare and promote versions")
