"""Users at risk: score the active customers with a churn model's production version and list who
is likely to leave, with the model's reasons and who was not scored."""

import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.models import registry
from workbench.models.churn import service as churn_service
from workbench.models.churn import training as churn
from workbench.ui import models as churn_ui

ctx = ui.require("models:train")
st.title("Users at risk")

with ui.connection() as con:
    names = [m["name"] for m in registry.list_models(ctx, con) if m["kind"] == "churn"]
if not names:
    st.info("No churn model yet: train one on the Churn page, then promote it on the Models page.")
    ui.link(ctx, "churn", "Train a churn model")
    st.stop()
model = st.selectbox("Model", names, key="churn.score.model")
with ui.connection() as con:
    live = registry.production(ctx, con, model)
    scores = churn.latest_scores(ctx, con, model)
if live is None:
    st.info(f"{model} has no production version yet; promote one on the Models page to score users.")
    ui.link(ctx, "models", "Promote a version on the Models page")
elif st.button(f"Score active users with v{live['version']}", icon=":material/bolt:", key="churn.score"):
    try:
        with st.spinner(f"Scoring with {model}..."):
            done = churn_service.score(ctx, ui.workbench(), name=model)
        st.toast(f"Scored {done['scored']:,} active customers: {done['at_risk']:,} at risk.")
        st.rerun()
    except WorkbenchError as exc:
        st.error(str(exc))
if not scores:
    if live is not None:
        st.info(f"{model} has not scored anyone yet: score the active users above.")
    st.stop()

frame = pl.DataFrame([{"user": u["username"], "risk": u["risk"], "reasons": "; ".join(u["reasons"])}
                      for u in scores["users"]])
floor = st.slider("Show risk from", 0.0, 1.0, 0.5, 0.05, key="churn.floor")
shown = frame.filter(pl.col("risk") >= floor)
st.caption(f"Scored {scores['scored_at']:%Y-%m-%d %H:%M} with v{scores['version']} on activity before "
           f"{scores['cutoff']}: {shown.height:,} of {frame.height:,} users at or above {floor:.0%}."
           + churn_ui.excluded_note(scores))
st.dataframe(shown, hide_index=True, column_config={
    "user": "User", "reasons": "Reasons",
    "risk": st.column_config.ProgressColumn("Risk", min_value=0.0, max_value=1.0, format="percent")})
ui.exports(shown, f"{model}-at-risk", key="churn.export")
