"""QA pairs: review and edit a project's question and answer pairs; add, import, extract, merge, export."""

import streamlit as st

from workbench import ui
from workbench.calls import qa
from workbench.ui import calls as widgets

ctx = ui.require("qa:read")
st.title("QA pairs")

project = widgets.project_picker(ctx, "qa.project", everything=False)
words = st.text_input("Filter by words", key="qa.text")
with ui.connection() as con:
    pairs = qa.list_pairs(ctx, con, project, words)
writable = ctx.can("qa:write")
if not pairs:
    st.info(
        "No QA pairs in this project yet."
        + (" Add one, import a CSV or extract them from the calls below." if writable else "")
    )
else:
    widgets.pair_editor(ctx, pairs)
    widgets.csv_button(pairs, "qa-pairs", "qa.csv")
if writable:
    widgets.qa_tools(ctx, project, pairs)
    ui.link(ctx, "datasets", "The datasets exported so far")
