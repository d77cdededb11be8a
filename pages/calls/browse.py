"""Calls: filter and chart the calls (a click on a chart filters the table), then read a transcript."""

from datetime import date, timedelta

import streamlit as st

from workbench import ui
from workbench.calls import browse, intents
from workbench.errors import WorkbenchError
from workbench.ui import calls as widgets

ctx = ui.require("calls:read")
st.title("Calls")

a, b, c, d = st.columns([2, 3, 3, 2])  # the date range whole: two dates and a dash
project = widgets.project_picker(ctx, "calls.project", where=a)
period = b.date_input("Dates", (date.today() - timedelta(days=180), date.today()), key="calls.period")
with ui.connection() as con:
    described = intents.list_intents(ctx, con, project)
known = [i["intent"] for i in described]
chosen = c.multiselect("Intents", known, key="calls.intents")
mood = d.selectbox("Customer sentiment", [None, *browse.SENTIMENTS], key="calls.mood",
                   format_func=lambda s: s or "any")
text = st.text_input("Words in the transcript", key="calls.text", placeholder="e.g. refund")
since, until = (tuple(period) + (None, None))[:2]
clicked = st.session_state.setdefault("calls.clicked", {})
filters = browse.Filters(
    project=project,
    since=since,
    until=until or since,
    sentiment=mood,
    text=text,
    intents=tuple(chosen) or tuple(clicked.get("intents", ())),
    day=clicked.get("day"),
    week=clicked.get("week"),
    talk_ratio=clicked.get("talk_ratio"),
)
try:
    with ui.connection() as con:
        charts = browse.call_charts(ctx, con, filters)
        rows = browse.find_calls(ctx, con, filters)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()
widgets.chart_filter_note()

if not rows:
    can_import = ctx.can("calls:import")
    st.info("No calls match. Widen the dates or clear a filter"
            + (", or import calls:" if can_import else "."))
    ui.link(ctx, "calls-import", "Import calls")
    st.stop()

widgets.call_charts(charts)
with st.expander(f"Intents: what the {len(described)} labels stand for", icon=":material/label:"):
    widgets.intents_panel(ctx, project, described)
st.caption(f"{len(rows):,} calls" + (" (the newest 2,000)" if len(rows) == 2000 else ""))
picked = st.dataframe(
    rows,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="calls.table",
    column_order=list(widgets.CALL_LABELS),
    column_config=widgets.CALL_LABELS,
)
widgets.csv_button(rows, "calls", "calls.csv")
if picked.selection.rows:
    widgets.transcript(ctx, rows[picked.selection.rows[0]]["uuid"])
else:
    st.caption("Select a call in the table to read its transcript.")
