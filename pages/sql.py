"""SQL console: one reading query at a time over the organisation's data (a snapshot of the
tables the role may read, in a separate process; no files, URLs or extensions; 1,000 rows, 5 s and
1 GB at most), the schema, a quick chart of the result, downloads and the user's saved queries."""

import plotly.express as px
import polars as pl
import streamlit as st

from workbench import ui
from workbench.errors import WorkbenchError
from workbench.sql_console import console as sql_console

ctx = ui.require("sql:query")
state = st.session_state
st.title("SQL console")

with ui.connection() as con:
    tables = sql_console.schema(ctx, con)
    mine = sql_console.saved(ctx, con)

editor, side = st.columns([3, 1])
with side:
    st.markdown("**Tables you may read**")
    for name, columns in tables.items():
        with st.expander(name):
            st.markdown("\n".join(f"- `{c}` {t.lower()}" for c, t in columns))
    if mine:
        st.markdown("**Saved queries**")
        pick = st.selectbox(
            "Open", [q["name"] for q in mine], index=None, key="sql.open", placeholder="Choose a saved query"
        )
        if pick and state.get("sql.opened") != pick:
            state["sql.opened"], state["sql.text"] = pick, next(q["sql"] for q in mine if q["name"] == pick)
            st.rerun()
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
frame = (
    pl.DataFrame(result.rows, infer_schema_length=None)
    if result.rows
    else pl.DataFrame(schema=result.columns)
)
more = " (the first ones; there are more)" if result.truncated else ""
st.caption(
    f"{frame.height:,} rows{more} in {result.seconds:.2f} s from {', '.join(result.tables) or 'no table'}."
    " None in a cell is SQL NULL (an unpriced call's cost, for instance)."
)
st.dataframe(frame, hide_index=True)
ui.exports(frame, "query-result", key="sql.export")
numeric = [c for c, t in frame.schema.items() if t.is_numeric()]
if frame.height and numeric:
    with st.expander("Quick chart"):
        x_col, y_col, kind = st.columns(3)
        x = x_col.selectbox("x", frame.columns, key="sql.x")
        y = y_col.selectbox("y", numeric, index=len(numeric) - 1, key="sql.y")
        chart = kind.radio("as", ["bar", "line", "scatter"], horizontal=True, key="sql.kind")
        draw = {"bar": px.bar, "line": px.line, "scatter": px.scatter}[chart]
        st.plotly_chart(draw(frame.to_pandas(), x=x, y=y))
