"""Import calls: upload call files into a project; each is embedded and the intents re-clustered."""

import streamlit as st

from workbench import ui
from workbench.calls import imports, transcripts
from workbench.ui import calls as widgets

ctx = ui.require("calls:import")
st.title("Import calls")
st.caption(
    "CSV, JSON or JSONL (a row per call or per utterance), labelled text transcripts or "
    "WebVTT. A file imports whole or not at all; a call imported again is updated."
)
names = widgets.project_names(ctx)
if not names:
    st.info("No project to import calls into: every call belongs to a project, and you can see none yet.")
    st.stop()

with st.form("calls.import", clear_on_submit=True):
    files = st.file_uploader(
        "Call files", type=[f.lstrip(".") for f in transcripts.FORMATS], accept_multiple_files=True,
        max_upload_size=ui.settings().upload_max_mb,
    )
    target = st.selectbox("Into project", names, index=widgets.kept_project_index(names))
    go = st.form_submit_button("Import", type="primary")
if go and files and target:
    bar = st.progress(0.0, text="Importing")
    imported, indexed = imports.import_files(
        ctx, ui.workbench(), [(f.name, f.getvalue()) for f in files], target,
        max_mb=ui.settings().upload_max_mb,
        progress=lambda d, n: bar.progress(d / max(n, 1), text=f"Embedded {d}/{n} calls"),
    )
    bar.empty()
    # kept in the session: the report stays until the next import
    st.session_state["calls.imported"] = widgets.import_report(imported, indexed)
for kind, message, problems in st.session_state.get("calls.imported", []):
    (st.success if kind == "ok" else st.error)(message)
    if problems:
        st.dataframe([{"row": r, "problem": t} for r, t in problems], hide_index=True,
                     column_config={"row": "Row", "problem": "Problem"})
ui.link(ctx, "calls", "Browse the calls")
