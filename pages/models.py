"""Models: the organisation's registered models and versions with their stages, metrics compared
across versions, promotion through the gate (or forced by an admin with a reason), archive,
rollback, and every transition."""

import plotly.express as px
import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.models import promotion, registry

ctx = ui.require("models:read")
state = st.session_state
st.title("Models")
cfg = ui.settings()

if state.get("models.done"):
    st.success(state.pop("models.done"))

with ui.connection() as con:
    models = registry.list_models(ctx, con)
if not models:
    st.info(
        "No models yet. A data scientist trains one on the Churn or Forecast page, or with "
        "`workbench churn train` / `workbench forecast train`."
    )
    st.stop()

names = [m["name"] for m in models]
overview = pl.DataFrame(models, infer_schema_length=None).with_columns(
    pl.format("v{}", "production").fill_null("none").alias("production"),
    pl.format("v{}", "latest").alias("latest"),
)
st.dataframe(overview, hide_index=True)
name = st.selectbox(
    "Model",
    names,
    index=names.index(state.get("models.name", names[0])) if state.get("models.name") in names else 0,
)
state["models.name"] = name
with ui.connection() as con:
    versions = registry.versions(ctx, con, name)
    history = registry.history(ctx, con, name)
    previous = registry.previous_production(ctx, con, name)
kind = versions[0]["kind"] or "churn"  # rows mirrored before kinds were recorded
shown_metrics = ui.MODEL_METRICS.get(kind, ui.MODEL_METRICS["churn"])
gate_metric, greater = registry.GATE_METRICS.get(kind, ("roc_auc", True))
BADGE = {
    "production": ":green-badge[production]",
    "staging": ":blue-badge[staging]",
    "archived": ":gray-badge[archived]",
}

table = pl.DataFrame(
    [
        {
            "version": v["version"],
            "stage": v["stage"],
            "method": v["params"].get("algorithm") or v["params"].get("method"),
            **{k: v["metrics"].get(k) for k in shown_metrics},
            "created_by": v["created_by"],
            "created_at": v["created_at"],
            "source": v["source"],
        }
        for v in versions
    ],
    infer_schema_length=None,
)
live = next((v for v in versions if v["stage"] == "production"), None)
st.markdown(f"**{name}** ({kind}): " + " ".join(f"v{v['version']} {BADGE[v['stage']]}" for v in versions[:8]))
st.dataframe(table, hide_index=True, column_config={"stage": st.column_config.TextColumn(width="small")})
ui.exports(table, f"{name}-versions", key="models.versions")

compare = table.unpivot(index=["version", "stage"], on=list(shown_metrics)).drop_nulls("value")
if compare.height:
    figure = px.bar(
        compare.with_columns(pl.format("v{} ({})", "version", "stage").alias("v")),
        x="variable",
        y="value",
        color="v",
        barmode="group",
        title="Metrics across versions (holdout / backtest)",
    )
    figure.update_layout(xaxis_title=None, yaxis_title=None, legend_title=None, height=340)
    st.plotly_chart(figure)

if ctx.can("models:promote"):
    st.subheader("Change a stage")
    choices = [v["version"] for v in versions]
    version = st.selectbox(
        "Version",
        choices,
        format_func=lambda v: f"v{v} ({next(x['stage'] for x in versions if x['version'] == v)})",
    )
    target = next(v for v in versions if v["version"] == version)
    promote, archive, rollback = st.columns(3)
    with promote.popover(
        "Promote to production", icon=":material/rocket_launch:", disabled=target["stage"] == "production"
    ):
        against = (
            f"production v{live['version']}" if live else "no production version yet (only the bar counts)"
        )
        st.write(f"The gate scores v{version} and {against} on the same held-out data.")
        metric = st.selectbox(
            "Gate metric", shown_metrics, index=shown_metrics.index(gate_metric)
        )
        threshold = st.number_input("Bar the challenger must reach (optional)", value=None, format="%.4f")
        better = st.number_input(
            "Better than production by at least (optional)", value=None, min_value=0.0, format="%.4f"
        )
        force = st.checkbox("Force it without the gate (admins)", disabled=not ctx.can("admin:full"))
        reason = st.text_input(
            "Reason", key="models.promote.reason", placeholder="Required when forced" if force else "Optional"
        )
        if st.button("Promote", type="primary", key="models.promote"):
            checked = None
            if not force:  # the gate reads only: the file is not held for writing while it scores
                try:
                    with (
                        st.spinner("Scoring both versions on the same data..."),
                        ui.connection(reraise=True) as con,
                    ):
                        checked = promotion.check_promotion(
                            ctx,
                            con,
                            cfg,
                            name,
                            version,
                            metric=metric,
                            threshold=threshold,
                            min_improvement=better or None,
                        )
                except WorkbenchError as exc:
                    st.error(str(exc))
            if force or checked:
                ui.registry_action(
                    lambda con: promotion.promote(
                        ctx, con, cfg, name, version, reason=reason, force=force, checked=checked
                    ),
                    f"{name} v{version} is in production.",
                )
    with archive.popover("Archive", icon=":material/inventory_2:", disabled=target["stage"] == "archived"):
        why = st.text_input("Why is it archived?", key="models.archive.reason")
        if st.button("Archive", type="primary", key="models.archive"):
            ui.registry_action(
                lambda con: registry.archive(ctx, con, cfg, name, version, why),
                f"{name} v{version} is archived.",
            )
    with rollback.popover("Roll back", icon=":material/undo:", disabled=previous is None):
        if previous:
            st.write(
                f"Restores v{previous['version']}, production before"
                + (f" v{live['version']}, which is archived." if live else ".")
            )
        why = st.text_input("Why roll back?", key="models.rollback.reason")
        if st.button("Roll back", type="primary", key="models.rollback"):
            ui.registry_action(
                lambda con: registry.rollback(ctx, con, cfg, name, why),
                f"{name} is rolled back to v{previous['version'] if previous else ''}.",
            )

st.subheader("Transitions")
st.dataframe(
    pl.DataFrame(history, infer_schema_length=None)
    .drop("metrics")
    .with_columns(pl.col("from_stage").fill_null("-")),
    hide_index=True,
)
if ctx.can("admin:full"):
    # MLflow's UI has no notion of organisations: it is the operator's tool, shown to admins only
    st.caption(
        f"MLflow keeps every run and artifact. `workbench mlflow-ui` (or `make mlflow`) serves its own "
        f"UI at {cfg.mlflow_ui_url} on the same store, for the operator: it shows every "
        "organisation's runs, so it listens on this machine only."
    )
    st.link_button("Open the MLflow UI", cfg.mlflow_ui_url, icon=":material/open_in_new:")
