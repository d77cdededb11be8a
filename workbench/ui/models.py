"""The model pages' widgets (Churn, Users at risk, Forecast, Score a forecast, Models): what a model
learns from, training with progress, what a run returned, and the registry's tables and stage changes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, time

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from workbench import markup, ui
from workbench.accounts.context import Context
from workbench.calls import datasets
from workbench.errors import WorkbenchError
from workbench.models import promotion, registry, tabular
from workbench.models.churn.features import NAMES
from workbench.models.forecast import frequency
from workbench.models.forecast.frequency import FREQUENCIES, Frequency

# The metrics the Models page compares, per kind of model (the first is the gate's default).
MODEL_METRICS = {
    "churn": ["roc_auc", "pr_auc", "brier", "log_loss", "f1", "cv_roc_auc_mean"],
    "forecast": ["mase", "smape", "mae", "baseline_mase", "baseline_smape", "baseline_mae"],
}
FORECAST_METHODS = {
    "auto": "Backtests every method but AutoARIMA (and AutoETS on hourly data, whose 168-hour week it "
            "cannot model) over rolling origins and keeps the one with the lowest MASE.",
    "seasonal_naive": "Repeats the last season: the baseline every method is measured against.",
    "naive": "Repeats the last value.",
    "drift": "Random walk with drift: the last value plus the average change so far.",
    "ets": "AutoETS per series: exponential smoothing with its trend and season chosen automatically "
           "(seasons up to 24 steps; a longer one, such as 52 weeks, is left out).",
    "theta": "AutoTheta per series: the theta method on the seasonally adjusted series, its variant chosen "
             "automatically.",
    "arima": "AutoARIMA per series (seasons up to 24 steps). About ten times slower than the others, so "
             "`auto` leaves it out.",
    "mstl": "MSTL per series: every season (e.g. 24 and 168 hours) taken out by STL, the rest forecast by "
            "exponential smoothing.",
    "gbm": "One gradient-boosting model over all series on lags, rolling means and the calendar; its "
           "intervals come from its backtest errors.",
    "combination": "The average of the methods that model every season of the data: AutoETS (seasons up to "
                   "24 steps), AutoTheta (one season), MSTL and gradient boosting; AutoETS, AutoTheta and "
                   "drift when there is no season. Its intervals come from its backtest errors.",
}
METHOD_NAMES = {"auto": "Best in the backtest", "seasonal_naive": "Seasonal naive", "naive": "Naive",
                "drift": "Random walk with drift", "ets": "AutoETS", "theta": "AutoTheta",
                "arima": "AutoARIMA", "mstl": "MSTL", "gbm": "Gradient boosting",
                "combination": "Combination"}
METRIC_NAMES = {"roc_auc": "ROC AUC", "pr_auc": "PR AUC", "brier": "Brier score", "log_loss": "Log loss",
                "f1": "F1", "cv_roc_auc_mean": "CV ROC AUC", "cv_roc_auc_std": "CV ROC AUC spread",
                "precision": "Precision", "recall": "Recall", "mase": "MASE", "smape": "sMAPE %",
                "mae": "MAE", "baseline_mase": "Baseline MASE", "baseline_smape": "Baseline sMAPE %",
                "baseline_mae": "Baseline MAE"}
# What the tables' columns are called on screen (a page may rename one for its table).
LABELS = METRIC_NAMES | {
    "name": "Model", "kind": "Kind", "versions": "Versions", "production": "In production",
    "latest": "Latest", "changed_at": "Last change", "version": "Version", "stage": "Stage",
    "method": "Method", "created_by": "Created by", "created_at": "Created", "source": "Trained on",
    "at": "When", "from_stage": "From", "to_stage": "To", "action": "Change", "changed_by": "By",
    "reason": "Reason", "algorithm": "Algorithm", "run_id": "MLflow run", "window": "Window",
    "cutoff": "Cutoff", "series": "Series", "time": "Time", "value": "Forecast", "lo80": "80% low",
    "hi80": "80% high", "lo95": "95% low", "hi95": "95% high", "user": "User", "reasons": "Reasons",
    "dtype": "Type", "missing": "Missing", "missing_share": "Missing share", "distinct": "Distinct",
    "min": "Min", "mean": "Mean", "max": "Max", "blanks": "Blanks read as missing",
    "identifier": st.column_config.CheckboxColumn("Identifier (not trained on)")}
BADGE = {"production": ":green-badge[production]", "staging": ":blue-badge[staging]",
         "archived": ":gray-badge[archived]"}


def registry_action(action, done: str) -> None:
    """One registry change (`action(con)`); the gate's refusal shows here, with nothing changed."""
    ui.apply(action, done, "models.done")


def train_with_progress(label: str, run: Callable, done: Callable[[dict], str], *, keep_open: bool = True):
    """`run(progress)` in a status box with a progress bar: its result, or None with the error shown.
    Training holds the file only to read and to register, never during a fit (DESIGN.md)."""
    with st.status(label, expanded=True) as status:
        bar = st.progress(0.0)
        try:
            result = run(lambda fraction, text: bar.progress(fraction, text))
        except WorkbenchError as exc:
            status.update(label="Training failed", state="error")
            st.error(str(exc))
            return None
        status.update(label=done(result), state="complete", **({} if keep_open else {"expanded": False}))
        return result


# Churn


def churn_data(ctx: Context, source: str, left, right) -> dict | None:
    """What a churn model learns from: the organisation's users' activity before a cutoff (churned =
    none for some days after it), or a registered dataset and its two-class target with its profile;
    who may write datasets can register a file here. None while there is no dataset to pick."""
    from workbench.models.churn import features

    if source == "Workbench users":
        with ui.connection() as con:
            start = features.default_cutoff(con, ctx)
        cutoff = left.date_input("Cutoff", start.date(), key="churn.cutoff",
                                 help="Features read only activity before this day.")
        horizon = right.number_input("Churned = no activity for (days)", 7, 120, 30, key="churn.horizon")
        return {"cutoff": datetime.combine(cutoff, time()), "horizon_days": horizon}
    data = profile = None
    with ui.connection() as con:
        tables = [d for d in datasets.list_datasets(ctx, con) if d["file_format"] in ("csv", "parquet")]
        if not tables:
            st.info("No tabular dataset yet: register a CSV or Parquet file below.")
        else:
            data, profile = _dataset_and_target(ctx, con, [d["name"] for d in tables], left, right)
    if profile:
        _profile(profile, data["target"])
    if ctx.can("datasets:write"):
        register_dataset(ctx, expanded=not tables)
    return data


def _dataset_and_target(ctx: Context, con, names: list[str], left, right) -> tuple[dict, dict | None]:
    """The dataset and its target (a column that says churn or target first), each profiled once."""
    dataset = left.selectbox("Dataset", names, key="churn.dataset")
    profiles = st.session_state.setdefault("churn.profiles", {})
    target = None
    try:
        if dataset not in profiles:
            profiles[dataset] = tabular.profile(ctx, con, dataset)
        words = ("churn", "target", "label", "left")
        suggested = sorted(profiles[dataset]["suggestions"]["binary_targets"],
                           key=lambda c: not any(w in c.lower() for w in words))
        columns = [c["name"] for c in profiles[dataset]["columns"]]
        target = right.selectbox("Target (two classes)", suggested or columns, key="churn.target")
        if (dataset, target) not in profiles:
            profiles[(dataset, target)] = tabular.profile(ctx, con, dataset, target)
        return {"dataset": dataset, "target": target}, profiles[(dataset, target)]
    except WorkbenchError as exc:
        st.warning(str(exc))
        return {"dataset": dataset, "target": target}, None


def _profile(profile: dict, target: str) -> None:
    with st.expander(f"Profile: {profile['rows']:,} rows, {len(profile['columns'])} columns"):
        columns = ["name", "dtype", "missing", "missing_share", "blanks", "distinct", "identifier",
                   "min", "mean", "max"]
        st.dataframe(pl.DataFrame(profile["columns"], infer_schema_length=None).select(columns),
                     hide_index=True, column_config=LABELS | {"name": "Column"})
        for note in profile["notes"]:
            st.caption(markup.inert(note))
        st.caption(f"Balance of {target}: " + ", ".join(
            f"{b['value']} {b['count']:,} ({b['share']:.0%})" for b in profile["target_balance"] or []))


def register_dataset(ctx: Context, *, expanded: bool) -> None:
    """Register a CSV or Parquet file as a dataset of the organisation."""
    with st.expander("Register a CSV or Parquet file", expanded=expanded):
        upload = st.file_uploader("File", type=["csv", "tsv", "parquet", "pq"], key="churn.upload",
                                  max_upload_size=ui.settings().upload_max_mb)
        label = st.text_input("Dataset name", key="churn.upload.name",
                              placeholder=upload.name.rsplit(".", 1)[0] if upload else "e.g. customers 2026")
        if st.button("Register", disabled=upload is None, key="churn.register"):
            try:
                with ui.connection(write=True, reraise=True) as con:
                    row = tabular.register_file(ctx, con, ui.settings(), upload.getvalue(),
                                                label or upload.name.rsplit(".", 1)[0], filename=upload.name)
            except WorkbenchError as exc:
                st.error(str(exc))
                return
            st.toast(f"Registered {row['name']}: {row['num_rows']:,} rows.")
            st.rerun()


def churn_result(ctx: Context, result: dict) -> None:
    """A churn training run: the version registered, its holdout metrics, every algorithm's run and
    the best run's plots (downloaded from MLflow once, not on every rerun)."""
    from workbench.models.churn import training as churn

    state, m = st.session_state, result["metrics"]
    st.success(f"{result['name']} v{result['version']} ({result['algorithm'].replace('_', ' ')}) is in "
               "staging; promote it on the Models page.")
    for col, key in zip(st.columns(4), ("roc_auc", "pr_auc", "brier", "cv_roc_auc_mean"), strict=True):
        col.metric(METRIC_NAMES[key], f"{m[key]:.3f}", border=True)
    runs = pl.DataFrame([{"algorithm": r["algorithm"].replace("_", " "), "run_id": r["run_id"],
                          **r["metrics"]} for r in result["runs"]])
    st.dataframe(runs.select("algorithm", "roc_auc", "pr_auc", "brier", "cv_roc_auc_mean", "cv_roc_auc_std",
                             "precision", "recall", "run_id"), hide_index=True, column_config=LABELS)
    if result["run_id"] not in state.get("churn.plots", {}):
        try:  # the charts' data, or (a run logged before it was kept) the PNGs
            data = churn.run_curves(ctx, ui.settings(), result["run_id"])
            plots = data if data is not None else churn.run_plots(ctx, ui.settings(), result["run_id"])
        except WorkbenchError as exc:
            st.warning(f"The run's plots are not available: {exc}")
            plots = {}
        state["churn.plots"] = {result["run_id"]: plots}
    plots = state["churn.plots"][result["run_id"]]
    if "roc" in plots:
        own = NAMES if str(result["params"].get("source", "")).startswith("workbench users") else {}
        for col, figure in zip(st.columns(3) + st.columns(3), churn_charts(plots, own), strict=False):
            col.plotly_chart(figure, config={"displaylogo": False})
    else:
        for col, (filename, png) in zip(st.columns(3) + st.columns(3), plots.items(), strict=False):
            col.image(png, caption=filename.removesuffix(".png").replace("_", " "))
    ui.link(ctx, "models", "Compare and promote on the Models page")


def churn_charts(data: dict, names: dict[str, str]) -> list[go.Figure]:
    """The holdout's ROC, precision-recall, calibration, confusion matrix and permutation importance
    (`report.curves`; the features called by `names` where given), as interactive charts: hover
    for the values, zoom, download."""
    def chart(title: str, x: str, y: str, *traces) -> go.Figure:
        figure = go.Figure(list(traces))
        figure.update_layout(title=title, xaxis_title=x, yaxis_title=y, height=320, showlegend=False,
                             margin={"l": 10, "r": 10, "t": 40, "b": 10})
        return figure

    diagonal = go.Scatter(x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "grey"},
                          hoverinfo="skip")
    roc, pr, cal = data["roc"], data["pr"], data["calibration"]
    matrix = data["confusion"]
    top = data["importance"][::-1]
    return [
        chart(f"ROC curve (holdout): AUC {roc['auc']:.3f}", "false positive rate", "true positive rate",
              go.Scatter(x=roc["fpr"], y=roc["tpr"], mode="lines", name="ROC"), diagonal),
        chart(f"Precision-recall: AUC {pr['auc']:.3f}", "recall", "precision",
              go.Scatter(x=pr["recall"], y=pr["precision"], mode="lines", name="precision"),
              go.Scatter(x=[0, 1], y=[pr["churn_rate"]] * 2, mode="lines", hoverinfo="skip",
                         line={"dash": "dot", "color": "grey"})),
        chart("Calibration (holdout)", "predicted churn probability", "observed churn rate",
              go.Scatter(x=cal["predicted"], y=cal["observed"], mode="lines+markers", name="model"),
              diagonal),
        chart(f"Confusion matrix at {data['threshold']:.2f}", "predicted", "actual",
              go.Heatmap(z=matrix, x=["stays", "churns"], y=["stays", "churns"], colorscale="Blues",
                         text=[[f"{v:,}" for v in row] for row in matrix], texttemplate="%{text}",
                         showscale=False)).update_yaxes(autorange="reversed"),
        chart("Permutation importance (holdout)", "drop in ROC AUC when shuffled", None,
              go.Bar(x=[r["importance"] for r in top], y=[names.get(r["feature"], r["feature"]) for r in top],
                     orientation="h",
                     error_x={"array": [r["std"] for r in top]})),
    ]


# Forecast


def forecast_series(ctx: Context) -> dict:
    """The series to forecast: one of the organisation's daily usage metrics (split by provider or
    model, or not) or a registered dataset's date, value and series columns, with an optional
    aggregation to a frequency. Stops the page, saying what to do, when there is none."""
    from workbench.models.forecast import training as forecast

    source = st.radio("Source", ["Workbench usage", "Dataset"], horizontal=True, key="fc.source")
    cols = st.columns(3)
    if source == "Workbench usage":
        by = cols[1].selectbox("Split by", ["none", *forecast.BY], key="fc.by")
        return {"metric": cols[0].selectbox("Metric", list(forecast.METRICS), key="fc.metric"),
                "by": None if by == "none" else by}
    with ui.connection() as con:
        found = datasets.list_datasets(ctx, con)
    names = [d["name"] for d in found if d["file_format"] in ("csv", "parquet")]
    if not names:
        st.info("No CSV or Parquet dataset yet: add one with `workbench datasets add FILE --name NAME`.")
        st.stop()
    name = cols[0].selectbox("Dataset", names, key="fc.dataset")
    with ui.connection() as con:
        profile = tabular.profile(ctx, con, name)
    hints = profile["suggestions"]
    # each dataset keeps its own column pickers: a keyed widget keeps its value when its options
    # change, so one set of keys would carry the last dataset's choice over the next one's suggestion
    spec = {"dataset": name,
            "date_col": cols[1].selectbox("Date", hints["date_columns"], key=f"fc.date.{name}"),
            "value_col": cols[2].selectbox("Value", hints["value_columns"], key=f"fc.value.{name}")}
    others = [c["name"] for c in profile["columns"] if c["name"] not in spec.values()]
    named = [c for c in hints["series_columns"] if c in others]  # dates repeat, once per name: series
    spec["series_col"] = cols[0].selectbox("Series column (optional)", [None, *others],
                                           key=f"fc.series.{name}",
                                           index=others.index(named[0]) + 1 if named else 0,
                                           format_func=lambda c: c or "(one series)")
    spec["aggregate"] = cols[1].selectbox(
        "Aggregate to", [None, *FREQUENCIES], key="fc.aggregate", format_func=lambda f: f or "(as recorded)",
        help="For irregular times, or to forecast at a coarser frequency: one value per period.")
    spec["how"] = cols[2].radio("Combine a period's values by", ["sum", "mean"], horizontal=True,
                                key="fc.how", disabled=not spec["aggregate"])
    if None in (spec["date_col"], spec["value_col"]):
        st.info(f"{name} has no date column or no numeric column to forecast: pick another dataset.")
        st.stop()
    return spec


def method_note(method: str, freq: Frequency) -> str:
    """What the method does, said for this series' frequency (AutoETS sits out only hourly data)."""
    if method == "auto" and freq.name != "hourly":
        return ("Backtests every method but AutoARIMA over rolling origins and keeps the one with the"
                " lowest MASE.")
    return FORECAST_METHODS[method]


def frequency_note(freq: Frequency, fitted: Frequency, interpolated: int) -> str:
    """What the page found in the series: its frequency, the seasons modelled (and those the history
    is too short for) and the missing steps filled in."""
    seasons = " and ".join(freq.steps(s) for s in fitted.seasons)
    note = f"**{freq.name.capitalize()}** series" + (f", season {seasons}" if seasons else ", no season")
    if dropped := [s for s in freq.seasons if s not in fitted.seasons]:
        left_out = " and ".join(freq.steps(s) for s in dropped)
        note += f" ({left_out} left out: the history is shorter than two of them plus the horizon)"
    if interpolated:
        note += f"; {interpolated:,} missing {freq.unit}s interpolated"
    return note + "."


def forecast_result(ctx: Context, result: dict) -> None:
    """A forecast training run: the version registered, its metrics against the seasonal-naive
    baseline, one series' history and forecast with 80% and 95% intervals, and the backtest."""
    st.success(f"Registered **{result['name']}** version {result['version']} in {result['stage']}.")
    ui.link(ctx, "models", "Promote it on the Models page")
    cards = st.columns([1.6, 1, 1, 1])
    cards[0].metric("Method", METHOD_NAMES.get(result["method"], result["method"]), border=True)
    for col, key in zip(cards[1:], ("mase", "smape", "mae"), strict=True):
        ours, base = result["metrics"].get(key), result["metrics"].get(f"baseline_{key}")
        col.metric(METRIC_NAMES[key], "-" if ours is None else f"{ours:,.3f}",
                   None if None in (ours, base) else f"{ours - base:+,.3f} vs baseline",
                   delta_color="inverse", border=True, help="Seasonal naive, same backtest.")
    ahead = pl.DataFrame(result["forecast"]).with_columns(pl.col("time").str.to_datetime())
    series = st.selectbox("Series", ahead["series"].unique(maintain_order=True).to_list(), key="fc.shown")
    mine = ahead.filter(pl.col("series") == series)
    past = result["history"].filter(pl.col("series") == series).tail(max(180, 3 * mine.height))
    figure = go.Figure()
    for level, alpha in (("95", 0.2), ("80", 0.4)):
        figure.add_scatter(x=[*mine["time"], *mine["time"].reverse()], fill="toself", line_width=0,
                           y=[*mine[f"hi{level}"], *mine[f"lo{level}"].reverse()],
                           name=f"{level}% interval", fillcolor=f"rgba(31,119,180,{alpha})")
    figure.add_scatter(x=past["time"], y=past["value"], name="history", line_color="#333333")
    figure.add_scatter(x=mine["time"], y=mine["value"], name="forecast", line_color="#1f77b4")
    st.plotly_chart(figure.update_layout(height=360, title=f"{result['name']}: {series}"), key="fc.chart")
    ui.exports(ahead, f"{result['name']}-forecast", key="fc.forecast.x")
    freq = frequency.named(result["params"].get("frequency"), result["params"].get("seasons"))
    auto = result["params"].get("requested_method") == "auto"
    compared = "every method compared" if auto else "with the baseline"
    st.markdown(f"**Backtest** over {result['params']['windows']} rolling windows of "
                f"{freq.steps(result['params']['horizon'])}, {compared} (lowest MASE first)")
    backtest = pl.DataFrame(result["backtest"]).with_columns(
        pl.col("method").replace_strict(METHOD_NAMES, default=pl.col("method")))
    overall = backtest.filter(pl.col("window") == "all").drop("window", "cutoff")
    overall = overall.sort("mase", nulls_last=True)
    # the cards' order and precision: MASE, sMAPE and MAE (in the series' own unit) to three decimals
    shown = LABELS | {key: st.column_config.NumberColumn(METRIC_NAMES[key], format="%.3f")
                      for key in ("mase", "smape", "mae")}
    order = ["method", "mase", "smape", "mae"]
    st.dataframe(overall.select(*order, pl.exclude(order)), hide_index=True, column_config=shown)
    with st.expander("Each window"):
        windows = backtest.filter(pl.col("window") != "all")
        st.dataframe(windows.select("window", "cutoff", *order, pl.exclude("window", "cutoff", *order)),
                     hide_index=True, column_config=shown)
    ui.exports(backtest, f"{result['name']}-backtest", key="fc.backtest.x")


# Models (the registry)


def models_overview(models: list[dict]) -> None:
    """The organisation's models: kind, versions, the production and newest versions, last change."""
    overview = pl.DataFrame(models, infer_schema_length=None).with_columns(
        pl.format("v{}", "production").fill_null("none").alias("production"),
        pl.format("v{}", "latest").alias("latest"))
    st.dataframe(overview, hide_index=True, column_config=LABELS)


def versions_table(name: str, kind: str, versions: list[dict]) -> None:
    """One model's versions with their stages and metrics, and the metrics compared in a chart."""
    shown = MODEL_METRICS.get(kind, MODEL_METRICS["churn"])
    table = pl.DataFrame([{
        "version": v["version"], "stage": v["stage"],
        "method": (v["params"].get("algorithm") or v["params"].get("method") or "").replace("_", " "),
        **{k: v["metrics"].get(k) for k in shown},
        "created_by": v["created_by"], "created_at": v["created_at"], "source": v["source"],
    } for v in versions], infer_schema_length=None)
    st.markdown(f"**{name}** ({kind}): " + " ".join(f"v{v['version']} {BADGE[v['stage']]}"
                                                     for v in versions[:8]))
    stage = st.column_config.TextColumn(LABELS["stage"], width="small")
    st.dataframe(table, hide_index=True, column_config=LABELS | {"stage": stage})
    ui.exports(table, f"{name}-versions", key="models.versions")
    compare = table.unpivot(index=["version", "stage"], on=shown).drop_nulls("value")
    if compare.height:
        named = {m: f"{METRIC_NAMES[m]} {'↑' if promotion.better_first(m) else '↓'}" for m in shown}
        figure = px.bar(compare.with_columns(pl.format("v{} ({})", "version", "stage").alias("v"),
                                             pl.col("variable").replace(named)),
                        x="variable", y="value", color="v", barmode="group",
                        title="Metrics across versions (holdout / backtest): ↑ higher is better,"
                              " ↓ lower is better")
        figure.update_layout(xaxis_title=None, yaxis_title=None, legend_title=None, height=340)
        st.plotly_chart(figure)


def stage_change(ctx: Context, name: str, versions: list[dict], previous: dict | None) -> None:
    """Promote a version (through the gate, or forced by an admin with a reason), archive it, or roll
    the model back to its previous production version."""
    st.subheader("Change a stage")
    stages = {v["version"]: v["stage"] for v in versions}
    kind = versions[0]["kind"] or "churn"  # no kind: mirrored before kinds
    gate_metric = registry.GATE_METRICS.get(kind, ("roc_auc", True))[0]
    best = promotion.best_staged(versions, gate_metric)
    order = list(stages)
    version = st.selectbox("Version", order, index=order.index(best["version"]) if best else 0,
                           format_func=lambda v: f"v{v} ({stages[v]})"
                           + (" · best staged candidate" if best and v == best["version"] else ""))
    if best:
        st.caption(f"Best staged candidate by {METRIC_NAMES[gate_metric]}: v{best['version']} "
                   f"({best['metrics'][gate_metric]:.3f}, {direction(gate_metric)}).")
    live = next((v for v in versions if v["stage"] == "production"), None)
    promote, archive, rollback = st.columns(3)
    with promote.popover("Promote to production", icon=":material/rocket_launch:",
                         disabled=stages[version] == "production"):
        _promote(ctx, name, version, kind, live, versions)
    with archive.popover("Archive", icon=":material/inventory_2:", disabled=stages[version] == "archived"):
        why = st.text_input("Why is it archived?", key="models.archive.reason")
        if st.button("Archive", type="primary", key="models.archive"):
            registry_action(lambda con: registry.archive(ctx, con, ui.settings(), name, version, why),
                            f"{name} v{version} is archived.")
    with rollback.popover("Roll back", icon=":material/undo:", disabled=previous is None):
        if previous:
            st.write(f"Restores v{previous['version']}, production before"
                     + (f" v{live['version']}, which is archived." if live else "."))
        why = st.text_input("Why roll back?", key="models.rollback.reason")
        if st.button("Roll back", type="primary", key="models.rollback"):
            registry_action(lambda con: registry.rollback(ctx, con, ui.settings(), name, why),
                            f"{name} is rolled back to v{previous['version'] if previous else ''}.")


def _promote(ctx: Context, name: str, version: int, kind: str, live: dict | None,
             versions: list[dict]) -> None:
    cfg, shown = ui.settings(), MODEL_METRICS.get(kind, MODEL_METRICS["churn"])
    gate_metric, _greater = registry.GATE_METRICS.get(kind, ("roc_auc", True))
    against = f"production v{live['version']}" if live else "no production version yet (only the bar counts)"
    st.write(f"The gate scores v{version} and {against} on the same held-out data.")
    metric = st.selectbox("Gate metric", shown, index=shown.index(gate_metric),
                          format_func=lambda m: f"{METRIC_NAMES[m]} ({direction(m)})")
    if hint := promotion.promotion_hint(versions, version, metric, METRIC_NAMES[metric]):
        st.warning(hint, icon=":material/lightbulb:")
    threshold = st.number_input("Bar the challenger must reach (optional)", value=None, format="%.4f")
    better = st.number_input("Better than production by at least (optional)", value=None, min_value=0.0,
                             format="%.4f")
    force = st.checkbox("Force it without the gate (admins)", disabled=not ctx.can("admin:full"))
    reason = st.text_input("Reason", key="models.promote.reason",
                           placeholder="Required when forced" if force else "Optional")
    if st.button("Promote", type="primary", key="models.promote"):
        checked = None
        if not force:  # the gate reads only: the file is not held for writing while it scores
            try:
                with st.spinner("Scoring both versions on the same data..."), \
                        ui.connection(reraise=True) as con:
                    checked = promotion.check_promotion(ctx, con, cfg, name, version, metric=metric,
                                                        threshold=threshold, min_improvement=better or None)
            except WorkbenchError as exc:
                st.error(str(exc))
        if force or checked:
            registry_action(lambda con: promotion.promote(ctx, con, cfg, name, version, reason=reason,
                                                          force=force, checked=checked),
                            f"{name} v{version} is in production.")


def transitions(history: list[dict]) -> None:
    """Every stage change of one model, newest first."""
    frame = pl.DataFrame(history, infer_schema_length=None).drop("metrics")
    st.dataframe(frame.with_columns(pl.col("from_stage").fill_null("-")), hide_index=True,
                 column_config=LABELS)


def excluded_note(scores: dict) -> str:
    """Who a scoring left out, in words (empty for scores made before it was counted)."""
    left = scores.get("excluded")
    if not left:
        return ""
    return (f" Not scored: {left['left']:,} who have already left (no activity in the"
            f" {scores['horizon_days']} days before the cutoff) and {left['staff']:,} staff accounts.")


def direction(metric: str) -> str:
    return "higher is better" if promotion.better_first(metric) else "lower is better"
