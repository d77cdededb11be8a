"""Models: the organisation's registered models and versions with their stages, metrics compared
across versions, promotion through the gate (or forced by an admin with a reason), archive,
rollback, and every transition."""

import streamlit as st

from workbench import ui
from workbench.models import registry
from workbench.ui import models as model_ui

ctx = ui.require("models:read")
state, cfg = st.session_state, ui.settings()
st.title("Models")
ui.show_flash("models.done")

with ui.connection() as con:
    models = registry.list_models(ctx, con)
if not models:
    st.info("No models yet. A data scientist trains one on the Churn or Forecast page, or with "
            "`workbench churn train` / `workbench forecast train`.")
    ui.link(ctx, "churn")
    ui.link(ctx, "forecast")
    st.stop()

model_ui.models_overview(models)
names = [m["name"] for m in models]
kept = state.get("models.name")
name = st.selectbox("Model", names, index=names.index(kept) if kept in names else 0)
state["models.name"] = name
with ui.connection() as con:
    versions = registry.versions(ctx, con, name)
    history = registry.history(ctx, con, name)
    previous = registry.previous_production(ctx, con, name)
model_ui.versions_table(name, versions[0]["kind"] or "churn", versions)  # no kind: mirrored before kinds

if ctx.can("models:promote"):
    model_ui.stage_change(ctx, name, versions, previous)

st.subheader("Transitions")
model_ui.transitions(history)
if ctx.can("admin:full"):
    # MLflow's UI has no notion of organisations: it is the operator's tool, shown to admins only
    st.caption("MLflow keeps every run and artifact. `workbench mlflow-ui` (or `make mlflow`) serves its "
               f"own UI at {cfg.mlflow_ui_url} on the same store, for the operator: it shows every "
               "organisation's runs, so it listens on this machine only.")
    st.link_button("Open the MLflow UI", cfg.mlflow_ui_url, icon=":material/open_in_new:")
