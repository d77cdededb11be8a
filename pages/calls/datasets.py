"""Datasets: the registered QA exports; select one to download it or, with the right, delete it."""

import streamlit as st

from workbench import ui
from workbench.calls import datasets
from workbench.errors import WorkbenchError
from workbench.ui import calls as widgets

ctx = ui.require("datasets:read")
st.title("Datasets")

with ui.connection() as con:
    sets = datasets.list_datasets(ctx, con)
if not sets:
    st.info("No dataset yet. Export QA pairs on the QA pairs page to make one.")
    ui.link(ctx, "qa", "QA pairs")
    st.stop()

picked = st.dataframe(
    sets,
    hide_index=True,
    on_select="rerun",
    selection_mode="single-row",
    key="ds.table",
    column_order=list(widgets.DATASET_LABELS),
    column_config=widgets.DATASET_LABELS,
)
st.caption(f"{len(sets)} datasets · newest: {sets[0]['name']}. Select one to download it.")
widgets.csv_button(sets, "datasets", "ds.csv")
if picked.selection.rows:
    chosen = sets[picked.selection.rows[0]]
    try:
        with ui.connection() as con:
            filename, data = datasets.read_dataset(ctx, con, chosen["uuid"])
        st.download_button(f"Download {filename}", data, filename, icon=":material/download:")
    except WorkbenchError as exc:
        st.error(str(exc))
    if ctx.can("datasets:write"):
        ui.confirm_delete(
            f"Unregister {chosen['name']} and delete its file",
            lambda con: datasets.delete_dataset(ctx, con, ui.settings(), chosen["uuid"]),
            key="dataset",
        )
