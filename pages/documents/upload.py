"""Upload documents: files are queued and processed in the background, with their progress shown here."""

import streamlit as st

from workbench import markup, ui
from workbench.accounts import projects
from workbench.documents import ingest, parsing
from workbench.errors import WorkbenchError
from workbench.ui import documents as widgets

ctx = ui.require("documents:create")
st.title("Upload documents")
worker = ui.ingest_worker()
widgets.ingest_progress()

with ui.connection() as con:
    project_names = [p["name"] for p in projects.list_projects(ctx, con)] if ctx.can("projects:read") else []
with st.form("docs.upload", clear_on_submit=True):
    files = st.file_uploader(
        "Files",
        type=[e.lstrip(".") for e in parsing.SUPPORTED_TYPES],
        accept_multiple_files=True,
        max_upload_size=ui.settings().upload_max_mb,  # the browser refuses bigger files
        help=f"Up to {ui.settings().upload_max_mb} MB each.",
    )
    left, mid, right = st.columns(3)
    scope = left.selectbox(
        "Visible to",
        ["user", "project"] + (["global"] if ctx.can("admin:full") else []),
        format_func={"user": "only me", "project": "the project", "global": "my whole organisation"}.get,
    )
    project = mid.selectbox("Project", [None, *project_names], format_func=lambda p: p or "none")
    doc_type = right.selectbox("Type", [None, *ingest.DOC_TYPES], format_func=lambda t: t or "unspecified")
    submitted = st.form_submit_button("Upload and process", type="primary")
if not (submitted and files):
    st.caption("Each file is read, split, summarised and embedded in the background: you may leave this "
               "page.")
    ui.link(ctx, "documents", "See the library on the Documents page")
    st.stop()

try:
    outcomes = ingest.queue_files(
        ctx,
        ui.workbench(),
        [(f.name, f.getvalue()) for f in files],
        scope=scope,
        doc_type=doc_type,
        project=project,
    )
except WorkbenchError as exc:
    st.error(str(exc))
    outcomes = []
for o in outcomes:  # names and messages from the upload: shown without loading images
    if o.status == "queued":
        worker.submit(o.document_uuid, o.filename)
        st.success(markup.inert(f"{o.filename}: queued. {o.message}"))
    elif o.status == "duplicate":
        st.info(markup.inert(f"{o.filename}: not added, {o.message}."))
    else:
        st.error(markup.inert(o.message))
st.session_state["docs.busy"] = worker.busy
ui.link(ctx, "documents", "See the library on the Documents page")
