"""Home: the organisation's last 30 days at a glance, each KPI linking to its page."""

import plotly.graph_objects as go
import streamlit as st

from workbench import ui
from workbench.usage import budgets, overview

ctx = ui.require()
st.title(f"{ctx.org_name}")
st.caption("Last 30 days, compared with the 30 days before.")

with ui.connection() as con:
    kpis = overview.kpis(ctx, con)  # only those the user may open
    alerts = budgets.home_alerts(ctx, con)

for alert in alerts:  # budgets, month-end projections, unusual days, plan limits (usage:read only)
    (st.error if alert["level"] == "error" else st.warning)(alert["text"], icon=":material/savings:")
if alerts:
    ui.link(ctx, "usage-budgets", "Open Budgets and anomalies")

if not kpis:
    st.info("Your role has no dashboards yet. Ask an admin for a role with more access.")
    st.stop()


def sparkline(series):
    fig = go.Figure(go.Scatter(x=series["day"].to_list(), y=series["value"].to_list(),
                               mode="lines", line={"width": 2}, fill="tozeroy"))
    fig.update_layout(height=70, margin={"l": 0, "r": 0, "t": 0, "b": 0}, showlegend=False,
                      xaxis={"visible": False}, yaxis={"visible": False})
    return fig


for row_start in range(0, len(kpis), 3):
    for col, kpi in zip(st.columns(3), kpis[row_start:row_start + 3], strict=False):
        with col, st.container(border=True):
            money = kpi["key"] == "cost"
            value = f"${kpi['value']:,.2f}" if money else f"{kpi['value']:,.0f}"
            delta = kpi["value"] - kpi["previous"]
            st.metric(kpi["label"], value,
                      delta=(f"{delta:+,.2f}" if money else f"{delta:+,.0f}") if kpi["previous"]
                      else None, delta_color="inverse" if money else "normal")
            if kpi.get("unpriced_calls"):
                st.caption(f"Not counted: {kpi['unpriced_calls']:,} calls in the last 30 days with no price "
                           "(cost unknown)")
            st.plotly_chart(sparkline(kpi["series"]), key=f"spark-{kpi['key']}",
                            config={"displayModeBar": False})
            target = ui.page_for(ctx, kpi["permission"])
            if target:
                st.page_link(target.path, label=f"Open {target.title}", icon=target.icon)
