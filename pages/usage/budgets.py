"""Budgets and anomalies: this month's budgets, the month-end projection and the unusual days."""

import polars as pl
import streamlit as st

from workbench import ui
from workbench.ui import usage as usage_ui
from workbench.usage import budgets

ctx = ui.require("usage:read")
st.title("Budgets and anomalies")
st.caption("The whole organisation, this month and the last 90 days: the usage filters do not apply here.")

with ui.connection() as con:
    alerts = budgets.budget_status(ctx, con)
    outlook = budgets.projection(ctx, con)
    odd = budgets.anomalies(ctx, con)

usage_ui.budget_alerts(alerts)
if not alerts:
    admin = ui.page_at(ctx, "budgets")
    st.caption("No budgets yet." + ("" if admin else " An admin sets them on the Budgets page."))
    ui.link(ctx, "budgets", "Set budgets on the Budgets page")
else:
    st.markdown("**Budgets this month**")
    ui.budget_table(alerts, detail=True)
    ui.exports(pl.DataFrame(alerts, infer_schema_length=None), "budget-status", key="usage.budgets.x")

usage_ui.month_projection(outlook)

st.markdown("**Unusual days** (last 90 days: cost far above the same weekday's usual)")
if not odd:
    st.caption("None: every day's cost was close to what its weekday usually costs.")
for a in reversed(odd):
    drivers = "; ".join(
        f"{d['name']} +${d['excess']:,.2f} ({d['share']:.0%})"
        for d in a["models"] + a["users"]
        if d["share"] >= 0.05
    )
    st.warning(
        f"{a['day']:%a %d %b}: ${a['cost']:,.2f} against ${a['expected']:,.2f} usual. Drivers: {drivers}",
        icon=":material/trending_up:",
    )
