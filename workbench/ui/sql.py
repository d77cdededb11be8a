"""The SQL console's widgets: the tables a role may read with the user's saved queries, and the
result's table, downloads and quick chart."""

from __future__ import annotations

import plotly.express as px
import polars as pl
import streamlit as st

from workbench import ui


def side_panel(tables: dict[str, list], mine: list[dict]) -> None:
    """The tables the role may read (their columns folded) and a picker of the saved queries; picking
    one puts it in the editor."""
    state = st.session_state
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


def result_view(result) -> None:
    """A query's rows: how many, how fast, from which tables; the table, its downloads, a quick chart."""
    frame = pl.DataFrame(result.rows, infer_schema_length=None) if result.rows else pl.DataFrame(
        schema=result.columns)
    more = " (the first ones; there are more)" if result.truncated else ""
    tables = ", ".join(result.tables) or "no table"
    st.caption(
        f"{frame.height:,} rows{more} in {result.seconds:.2f} s from {tables}."
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
