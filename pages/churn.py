"""Churn: train on the organisation's users (activity before a cutoff, churn after it) or on a
registered dataset, read the holdout metrics and plots, and list the users at risk with the
production model's reasons."""

from datetime import datetime, time

import polars as pl
import streamlit as st

from workbench import ui
from workbench.calls import datasets
from workbench.errors import WorkbenchError
from workbench.models import registry, tabular
from workbench.models.churn import features as churn_features
from workbench.models.churn import service as churn_service
from workbench.models.churn import training as churn

ctx = ui.require("models:train")
state = st.session_state
cfg = ui.settings()
st.title("Churn")
train_tab, risk_tab = st.tabs(["Train", "Users at risk"])

with train_tab:
    source = st.radio("Learn from", ["Workbench users", "A dataset"], horizontal=True, key="churn.source")
    left, right = st.columns(2)
    with ui.connection() as con:
        if source == "Workbench users":
            start = churn_features.default_cutoff(con, ctx)
            cutoff = left.date_input(
                "Cutoff",
                start.date(),
                key="churn.cutoff",
                help="Features read only activity before this day.",
            )
            horizon = right.number_input("Churned = no activity for (days)", 7, 120, 30, key="churn.horizon")
        else:
            tables = [d for d in datasets.list_datasets(ctx, con) if d["file_format"] in ("csv", "parquet")]
            dataset = target = None
            if not tables:
                st.info("No tabular dataset yet: register a CSV or Parquet file below.")
            else:
                dataset = left.selectbox("Dataset", [d["name"] for d in tables], key="churn.dataset")
                profiles = state.setdefault("churn.profiles", {})  # profiled once per dataset and target
                try:
                    if dataset not in profiles:
                        profiles[dataset] = tabular.profile(ctx, con, dataset)
                    suggested = sorted(  # a column that says churn or target first
                        profiles[dataset]["suggestions"]["binary_targets"],
                        key=lambda c: not any(w in c.lower() for w in ("churn", "target", "label", "left")),
                    )
                    columns = [c["name"] for c in profiles[dataset]["columns"]]
                    target = right.selectbox("Target (two classes)", suggested or columns, key="churn.target")
                    if (dataset, target) not in profiles:
                        profiles[(dataset, target)] = tabular.profile(ctx, con, dataset, target)
                    profile = profiles[(dataset, target)]
                except WorkbenchError as exc:
                    st.warning(str(exc))
                    profile = None
    if source == "A dataset" and dataset and profile:
        with st.expander(f"Profile: {profile['rows']:,} rows, {len(profile['columns'])} columns"):
            st.dataframe(
                pl.DataFrame(profile["columns"], infer_schema_length=None).select(
                    "name", "dtype", "missing", "missing_share", "distinct", "min", "mean", "max"
                ),
                hide_index=True,
            )
            st.caption(
                f"Balance of {target}: "
                + ", ".join(
                    f"{b['value']} {b['count']:,} ({b['share']:.0%})" for b in profile["target_balance"] or []
                )
            )
    if source == "A dataset" and ctx.can("datasets:write"):
        with st.expander("Register a CSV or Parquet file", expanded=not tables):
            upload = st.file_uploader(
                "File", type=["csv", "tsv", "parquet", "pq"], key="churn.upload",
                max_upload_size=ui.settings().upload_max_mb,
            )
            label = st.text_input(
                "Dataset name",
                key="churn.upload.name",
                placeholder=upload.name.rsplit(".", 1)[0] if upload else "e.g. customers 2026",
            )
            if st.button("Register", disabled=upload is None, key="churn.register"):
                try:
                    with ui.connection(write=True, reraise=True) as con:
                        row = tabular.register_file(
                            ctx,
                            con,
                            cfg,
                            upload.getvalue(),
                            label or upload.name.rsplit(".", 1)[0],
                            filename=upload.name,
                        )
                    st.toast(f"Registered {row['name']}: {row['num_rows']:,} rows.")
                    st.rerun()
                except WorkbenchError as exc:
                    st.error(str(exc))
    algorithms = left.multiselect(
        "Algorithms",
        churn.ALGORITHMS,
        default=list(churn.ALGORITHMS),
        format_func=lambda a: a.replace("_", " "),
        key="churn.algorithms",
    )
    threshold = right.slider("Risk threshold", 0.1, 0.9, 0.5, 0.05, key="churn.threshold")
    name = left.text_input("Registered model name", "churn", key="churn.name")
    ready = algorithms and (source == "Workbench users" or dataset)
    if st.button(
        "Train", type="primary", disabled=not ready, icon=":material/model_training:", key="churn.train"
    ):
        with st.status("Training...", expanded=True) as status:
            bar = st.progress(0.0)

            def progress(fraction: float, message: str) -> None:
                bar.progress(fraction, message)

            if source == "Workbench users":
                data = {"cutoff": datetime.combine(cutoff, time()), "horizon_days": horizon}
            else:
                data = {"dataset": dataset, "target": target}
            try:  # the file is held to read the data and to register, not while fitting
                state["churn.result"] = churn_service.train(
                    ctx,
                    ui.store(),
                    cfg,
                    **data,
                    name=name.strip(),
                    algorithms=tuple(algorithms),
                    threshold=threshold,
                    progress=progress,
                )
                status.update(label="Trained and registered", state="complete")
            except WorkbenchError as exc:
                status.update(label="Training failed", state="error")
                st.error(str(exc))

    result = state.get("churn.result")
    if result:
        m = result["metrics"]
        st.success(
            f"{result['name']} v{result['version']} ({result['algorithm'].replace('_', ' ')}) is in "
            "staging; promote it on the Models page."
        )
        for col, (label, key) in zip(
            st.columns(4),
            [
                ("ROC AUC", "roc_auc"),
                ("PR AUC", "pr_auc"),
                ("Brier score", "brier"),
                ("CV ROC AUC", "cv_roc_auc_mean"),
            ],
            strict=True,
        ):
            col.metric(label, f"{m[key]:.3f}", border=True)
        runs = pl.DataFrame(
            [{"algorithm": r["algorithm"], "run_id": r["run_id"], **r["metrics"]} for r in result["runs"]]
        )
        st.dataframe(
            runs.select(
                "algorithm",
                "roc_auc",
                "pr_auc",
                "brier",
                "cv_roc_auc_mean",
                "cv_roc_auc_std",
                "precision",
                "recall",
                "run_id",
            ),
            hide_index=True,
        )
        if result["run_id"] not in state.get("churn.plots", {}):  # downloaded once, not on every rerun
            try:
                state["churn.plots"] = {result["run_id"]: churn.run_plots(ctx, cfg, result["run_id"])}
            except WorkbenchError as exc:
                st.warning(f"The run's plots are not available: {exc}")
                state["churn.plots"] = {result["run_id"]: {}}
        plots = state["churn.plots"][result["run_id"]]
        for col, (filename, png) in zip(st.columns(3) + st.columns(3), plots.items(), strict=False):
            col.image(png, caption=filename.removesuffix(".png").replace("_", " "))
        target_page = ui.page_for(ctx, "models:read")
        if target_page:
            st.page_link(
                target_page.path,
                label="Compare and promote on the Models page",
                icon=":material/model_training:",
            )

with risk_tab:
    with ui.connection() as con:
        names = [m["name"] for m in registry.list_models(ctx, con) if m["kind"] == "churn"]
    if not names:
        st.info("No churn model yet: train one in the Train tab, then promote it on the Models page.")
        st.stop()
    model = st.selectbox("Model", names, key="churn.score.model")
    with ui.connection() as con:
        live = registry.production(ctx, con, model)
        scores = churn.latest_scores(ctx, con, model)
    if live is None:
        st.info(f"{model} has no production version yet; promote one on the Models page to score users.")
    elif st.button(f"Score active users with v{live['version']}", icon=":material/bolt:"):
        try:
            with st.spinner(f"Scoring with {model}..."):
                done = churn_service.score(ctx, ui.store(), cfg, name=model)
            st.toast(f"Scored {done['scored']:,} users: {done['at_risk']:,} at risk.")
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))
    if scores:
        frame = pl.DataFrame(
            [
                {"user": u["username"], "risk": u["risk"], "reasons": "; ".join(u["reasons"])}
                for u in scores["users"]
            ]
        )
        floor = st.slider("Show risk from", 0.0, 1.0, 0.5, 0.05, key="churn.floor")
        shown = frame.filter(pl.col("risk") >= floor)
        st.caption(
            f"Scored {scores['scored_at']:%Y-%m-%d %H:%M} with v{scores['version']} on activity before "
            f"{scores['cutoff']}: {shown.height:,} of {frame.height:,} users at or above {floor:.0%}."
        )
        st.dataframe(
            shown,
            hide_index=True,
            column_config={
                "risk": st.column_config.ProgressColumn(
                    "risk", min_value=0.0, max_value=1.0, format="percent"
                )
            },
        )
        ui.exports(shown, f"{model}-at-risk", key="churn.export")
