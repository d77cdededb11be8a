"""Churn: train on the organisation's users (activity before a cutoff, churn after it) or on a
registered dataset, and read the holdout metrics and plots."""

import streamlit as st

from workbench import ui
from workbench.models.churn import service as churn_service
from workbench.models.churn import training as churn
from workbench.ui import models as model_ui

ctx = ui.require("models:train")
state = st.session_state
st.title("Churn")
st.caption("Train a model that says which users are about to leave; it is registered in staging, to "
           "promote on the Models page before it scores users.")

source = st.radio("Learn from", ["Workbench users", "A dataset"], horizontal=True, key="churn.source")
left, right = st.columns(2)
data = model_ui.churn_data(ctx, source, left, right)
algorithms = left.multiselect("Algorithms", churn.ALGORITHMS, default=list(churn.ALGORITHMS),
                              format_func=lambda a: a.replace("_", " "), key="churn.algorithms")
threshold = right.slider("Risk threshold", 0.1, 0.9, 0.5, 0.05, key="churn.threshold")
name = left.text_input("Registered model name", "churn", key="churn.name")

ready = bool(algorithms) and data is not None
if st.button("Train", type="primary", disabled=not ready, icon=":material/model_training:",
             key="churn.train"):
    trained = model_ui.train_with_progress(
        "Training...",
        lambda progress: churn_service.train(ctx, ui.workbench(), **data, name=name.strip(),
                                             algorithms=tuple(algorithms), threshold=threshold,
                                             progress=progress),
        lambda result: "Trained and registered")
    if trained:
        state["churn.result"] = trained

if result := state.get("churn.result"):
    model_ui.churn_result(ctx, result)
    ui.link(ctx, "at-risk", "Score users with the production model")
