"""Latency: p50, p95 and p99 of each model's LLM calls; a click on a bar opens that model's calls."""

import plotly.express as px
import streamlit as st

from workbench import ui
from workbench.ui import usage as usage_ui
from workbench.usage import queries as usage

ctx = ui.require("usage:read")
st.title("Latency")
f, _ = usage_ui.filters(ctx)
st.caption(
    "Latency percentiles come from a log histogram (within 2.5%). Click a bar to open that model's calls."
)

with ui.connection() as con:
    lat = usage.latency_percentiles(ctx, con, f, by="model")
long = lat.unpivot(["p50", "p95", "p99"], index="model", variable_name="percentile", value_name="ms")
usage_ui.chart(
    px.bar(
        long.to_pandas(),
        x="ms",
        y="model",
        color="percentile",
        barmode="group",
        orientation="h",
        labels=usage_ui.LABELS,
        title="Latency by model (ms)",
    ).update_yaxes(title=None),
    lat,
    "usage.latency",
    f,
    lambda sel: {"model": sel.points[0]["y"]},
)
