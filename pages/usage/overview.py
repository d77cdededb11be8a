"""Usage: tokens, cost and calls of the organisation's LLM calls over time, from the daily rollups."""

import streamlit as st

from workbench import ui
from workbench.ui import usage as usage_ui
from workbench.usage import budgets
from workbench.usage import queries as usage

ctx = ui.require("usage:read")
st.title("Usage")
f, kpi = usage_ui.filters(ctx)
with ui.connection() as con:
    usage_ui.budget_alerts(budgets.budget_status(ctx, con))
warning = st.container()  # filled below: the unpriced models come with the charts' query
usage_ui.kpi_cards(kpi)
st.caption("Click a bar (or draw a box over days) to open the LLM calls behind it.")

left, right = st.columns([4, 1])
measure = usage_ui.remembered(
    left.radio, "Show", ["cost", "tokens", "calls"], horizontal=True, key="usage.measure", default="cost"
)
stack = usage_ui.remembered(
    right.selectbox, "Stack by", list(usage.DIMENSIONS), key="usage.stack", default="provider"
)
with ui.connection() as con:
    shown = usage.charts(ctx, con, f, by=stack, measure=measure)
series, kinds = shown["time"], shown["token_types"]
breakdowns = {by: shown[by] for by in ("provider", "model", "operation")}
with warning:
    usage_ui.unpriced_warning(ctx, f, shown["unpriced"])

usage_ui.chart(
    usage_ui.stacked_bars(
        series, measure, stack, f"{measure.title()} per day by {stack}: click a bar or draw a box over days"
    ),
    series,
    "usage.time",
    f,
    usage_ui.by_day(stack),
    box=True,
)
for col, (by, frame) in zip(st.columns(3), breakdowns.items(), strict=True):
    with col:
        usage_ui.chart(usage_ui.cost_bars(frame, by), frame, f"usage.by.{by}", f, usage_ui.by_bar(by))

st.plotly_chart(usage_ui.token_pie(kinds), key="usage.kinds")
ui.exports(kinds, "token-types", key="usage.kinds.x")
