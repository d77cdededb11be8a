"""LLM calls: the newest calls under the usage filters, or the calls behind a bar clicked on a usage
chart (the drill-down)."""

from dataclasses import replace

import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.ui import usage as usage_ui
from workbench.usage import queries as usage

ctx = ui.require("usage:read")
st.title("LLM calls")
f, _ = usage_ui.filters(ctx)
drill = usage_ui.drill(f)
if not drill:
    st.caption("Click a bar on the Usage or Latency charts to see only the calls behind it.")

with ui.connection() as con:
    try:
        rows = usage.calls(ctx, con, replace(f, extra=drill))
    except WorkbenchError as exc:
        st.error(str(exc))
        rows = pl.DataFrame()

st.caption(
    f"The {len(rows):,} newest calls"
    + (" (the first 500)" if len(rows) == 500 else "")
    + ". Cost is empty where the model has no price."
)
st.dataframe(rows, hide_index=True, width="stretch", column_config=usage_ui.CALL_COLUMNS)
ui.exports(rows, "llm-calls", key="usage.calls.x")
