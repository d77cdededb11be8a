"""SQL console: one reading query at a time over the organisation's data (a snapshot of the
tables the role may read, in a separate process; no files, URLs or extensions; 1,000 rows, 5 s and
1 GB at most), the schema, a quick chart of the result, downloads and the user's saved queries."""

import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.sql_console import console as sql_console
from workbench.ui import sql as sql_widgets

ctx = ui.require("sql:query")
state = st.session_state
st.title("SQL console")

with ui.connection() as con:
    tables = sql_console.schema(ctx, con)
    mine = sql_console.saved(ctx, con)

editor, side = st.columns([3, 1])
with side:
    sql_widgets.side_panel(tables, mine)
first = next(iter(tables), "documents")
state.setdefault("sql.text", f"SELECT * FROM {first} LIMIT 20")
with editor:
    sql = st.text_area("Query (one SELECT)", key="sql.text", height=160)
    run, limit, name, save, drop = st.columns([1, 1, 2, 1, 1], vertical_alignment="bottom")
    limit_rows = limit.number_input("Row limit", 1, sql_console.MAX_ROWS, 200, key="sql.limit")
    label = name.text_input(
        "Name", value=state.get("sql.opened") or "", key="sql.name", placeholder="to save it"
    )
    if run.button("Run", type="primary", icon=":material/play_arrow:"):
        try:
            with st.spinner("Running the query..."):
                state["sql.result"] = sql_console.run(ctx, ui.store(), sql, max_rows=limit_rows)
        except WorkbenchError as exc:
            state.pop("sql.result", None)
            st.error(str(exc))
    if save.button("Save", icon=":material/bookmark_add:"):
        try:
            with ui.connection(write=True, reraise=True) as con:
                sql_console.save(ctx, con, label, sql)
            state["sql.opened"] = " ".join(label.split())
            st.toast(f"Saved {label}.")
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))
    if drop.button("Delete", icon=":material/delete:", disabled=not state.get("sql.opened")):
        with ui.connection(write=True) as con:
            sql_console.delete(ctx, con, state.pop("sql.opened"))
        st.toast("Deleted the saved query.")
        st.rerun()

result = state.get("sql.result")
if result is None:
    st.caption(
        "Runs in a separate process on a snapshot of your organisation's rows of the tables named in the "
        "query, refreshed when the data changes: no other organisation, file, URL or extension can be "
        "read, and nothing is written."
    )
    st.stop()
sql_widgets.result_view(result)
