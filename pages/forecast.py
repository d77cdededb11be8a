"""Forecast: pick a daily series (the organisation's usage or a registered dataset), see its history,
train a method against the seasonal-naive baseline with progress, read the forecast with its 80% and
95% intervals and the backtest, and score with a model's production version."""

import plotly.express as px
import plotly.graph_objects as go
import polars as pl
import streamlit as st

from workbench import ui
from workbench.calls.datasets import list_datasets
from workbench.errors import WorkbenchError
from workbench.models import registry, tabular
from workbench.models.forecast import service as forecast_service
from workbench.models.forecast import training as forecast

METHODS = {
    "auto": "Backtests AutoETS and gradient boosting and keeps the one with the lower MASE.",
    "ets": "AutoETS per series: exponential smoothing, its trend and weekly season chosen automatically.",
    "gbm": "One gradient-boosting model over all series on lags, rolling means and the weekday.",
    "seasonal_naive": "Repeats the last week: the baseline every method is measured against.",
}
ctx = ui.require("models:train")
state, cfg = st.session_state, ui.settings()
models_page = ui.page_for(ctx, "models:read")
st.title("Forecast")
train_tab, score_tab = st.tabs(["Train", "Score with production"])

# Training and scoring hold the file only to read and to write, never during a fit (DESIGN.md).
with score_tab:
    with ui.connection() as con:
        models = registry.list_models(ctx, con)
    live = [m["name"] for m in models if m["kind"] == "forecast" and m["production"]]
    if not live:
        st.info("None of your organisation's forecast models is in production yet: train one, then promote "
                "a version on the Models page.")
    model = st.selectbox("Model in production", live, key="fc.model", disabled=not live)
    if model and st.button("Score", key="fc.score", help="Forecast from today's history and save it."):
        try:
            with st.spinner(f"Scoring with {model}..."):
                state["fc.scored"] = forecast_service.score(ctx, ui.store(), cfg, model)
        except WorkbenchError as exc:
            st.error(str(exc))
    if (done := state.get("fc.scored")) and done["model"] == model:
        st.success(f"Saved {done['rows']:,} forecast days of {done['series']} series from {model} version "
                   f"{done['version']} ({done['method']}) and the chart, as batch {done['batch_id']}.")
        st.image(done["chart"])
        st.dataframe(pl.DataFrame(done["forecast"]), hide_index=True)
    if models_page:
        st.page_link(models_page.path, label="Models: compare and promote versions", icon=models_page.icon)

with train_tab:
    source = st.radio("Source", ["Workbench usage", "Dataset"], horizontal=True, key="fc.source")
    cols = st.columns(3)
    if source == "Workbench usage":
        by = cols[1].selectbox("Split by", ["none", *forecast.BY], key="fc.by")
        spec = {"metric": cols[0].selectbox("Metric", list(forecast.METRICS), key="fc.metric"),
                "by": None if by == "none" else by}
    else:
        with ui.connection() as con:
            names = [d["name"] for d in list_datasets(ctx, con) if d["file_format"] in ("csv", "parquet")]
        if not names:
            st.info("No CSV or Parquet dataset yet: add one with `workbench datasets add FILE --name NAME`.")
            st.stop()
        name = cols[0].selectbox("Dataset", names, key="fc.dataset")
        with ui.connection() as con:
            profile = tabular.profile(ctx, con, name)
        hints = profile["suggestions"]
        spec = {"dataset": name, "date_col": cols[1].selectbox("Date", hints["date_columns"], key="fc.date"),
                "value_col": cols[2].selectbox("Value", hints["value_columns"], key="fc.value")}
        others = [c["name"] for c in profile["columns"] if c["name"] not in spec.values()]
        spec["series_col"] = cols[0].selectbox("Series column (optional)", [None, *others], key="fc.series",
                                               format_func=lambda c: c or "(one series)")
        if None in (spec["date_col"], spec["value_col"]):
            st.info(f"{name} has no date column or no numeric column to forecast: pick another dataset.")
            st.stop()
    cols = st.columns(3)
    method = cols[0].selectbox("Method", list(METHODS), key="fc.method")
    horizon = cols[1].slider("Horizon (days)", 7, 90, 30, key="fc.horizon")
    end = cols[2].date_input("Last day of history", value=None, key="fc.end",
                             help="Empty: up to yesterday for usage, every day of a dataset.")
    st.caption(METHODS[method])
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
        with st.status(f"Training {method} for {horizon} days...", expanded=True) as status:
            bar = st.progress(0.0)
            try:
                report = lambda fraction, text: bar.progress(fraction, text)  # noqa: E731
                result = forecast_service.train(ctx, ui.store(), cfg, **spec, method=method, horizon=horizon,
                                                end=end, progress=report)
                state["fc.result"] = result | {"history": history}
                status.update(label=f"Trained {result['method']}", state="complete", expanded=False)
            except WorkbenchError as exc:
                status.update(label="Training failed", state="error")
                st.error(str(exc))

    if result := state.get("fc.result"):
        st.success(f"Registered **{result['name']}** version {result['version']} in {result['stage']}.")
        if models_page:
            st.page_link(models_page.path, label="Promote it on the Models page", icon=models_page.icon)
        cards = st.columns(4)
        cards[0].metric("Method", result["method"], border=True)
        for col, key in zip(cards[1:], ("mase", "smape", "mae"), strict=True):
            ours, base = result["metrics"].get(key), result["metrics"].get(f"baseline_{key}")
            col.metric(key.upper().replace("SMAPE", "sMAPE %"), "-" if ours is None else f"{ours:,.3f}",
                       None if None in (ours, base) else f"{ours - base:+,.3f} vs seasonal naive",
                       delta_color="inverse", border=True)
        ahead = pl.DataFrame(result["forecast"]).with_columns(pl.col("day").str.to_date())
        series = st.selectbox("Series", ahead["series"].unique(maintain_order=True).to_list(), key="fc.shown")
        past = result["history"].filter(pl.col("series") == series).tail(180)
        mine = ahead.filter(pl.col("series") == series)
        figure = go.Figure()
        for level, alpha in (("95", 0.2), ("80", 0.4)):
            figure.add_scatter(x=[*mine["day"], *mine["day"].reverse()], fill="toself", line_width=0,
                               y=[*mine[f"hi{level}"], *mine[f"lo{level}"].reverse()],
                               name=f"{level}% interval", fillcolor=f"rgba(31,119,180,{alpha})")
        figure.add_scatter(x=past["day"], y=past["value"], name="history", line_color="#333333")
        figure.add_scatter(x=mine["day"], y=mine["value"], name="forecast", line_color="#1f77b4")
        st.plotly_chart(figure.update_layout(height=360, title=f"{result['name']}: {series}"), key="fc.chart")
        ui.exports(ahead, f"{result['name']}-forecast", key="fc.forecast.x")
        st.markdown(f"**Backtest** over {result['params']['windows']} rolling windows, with the baseline")
        st.dataframe(backtest := pl.DataFrame(result["backtest"]), hide_index=True)
        ui.exports(backtest, f"{result['name']}-backtest", key="fc.backtest.x")
