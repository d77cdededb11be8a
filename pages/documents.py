"""Documents: upload (processed in the background), browse with filters, inspect, search, delete."""

import polars as pl
import streamlit as st

from workbench import csv_safe, markup, ui
from workbench.accounts import projects
from workbench.chat import steps as agents
from workbench.documents import ingest, parsing, repos
from workbench.documents import records as documents
from workbench.errors import WorkbenchError
from workbench.search import vectors

ctx = ui.require("documents:read")
st.title("Documents")
worker = ui.ingest_worker()


@st.fragment(run_every=1.0)
def progress() -> None:
    """Live progress of background ingests; refreshes the page when the last one finishes."""
    active = {u: s for u, s in worker.states().items() if s.status in ("queued", "running")}
    for state in active.values():
        st.progress(state.fraction, text=markup.inert(f"{state.filename}: {state.stage}"))
    if st.session_state.get("docs.busy") and not active:
        st.session_state["docs.busy"] = False
        st.rerun()
    st.session_state["docs.busy"] = bool(active)


progress()
library, search, upload, code = st.tabs(["Library", "Search", "Upload", "Code repositories"])

with upload:
    if not ctx.can("documents:create"):
        st.info("Your role can read documents but not upload them.")
    else:
        with ui.connection() as con:
            project_names = (
        [p["name"] for p in projects.list_projects(ctx, con)] if ctx.can("projects:read") else [])
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
                format_func={
                    "user": "only me",
                    "project": "the project",
                    "global": "my whole organisation",
                }.get,
            )
            project = mid.selectbox("Project", [None, *project_names], format_func=lambda p: p or "none")
            doc_type = right.selectbox(
                "Type", [None, *ingest.DOC_TYPES], format_func=lambda t: t or "unspecified"
            )
            submitted = st.form_submit_button("Upload and process", type="primary")
        if submitted and files:
            try:
                outcomes = ingest.queue_files(
                    ctx,
                    ui.settings(),
                    ui.store(),
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

with library:
    a, b, c, d = st.columns([2, 1, 1, 1])
    text = a.text_input("Title or file name contains", key="docs.text")
    status = b.selectbox("Status", [None, *documents.STATUSES], format_func=lambda s: s or "any")
    doc_type = c.selectbox(
        "Type", [None, *ingest.DOC_TYPES], format_func=lambda s: s or "any", key="docs.type"
    )
    scope = d.selectbox("Scope", [None, *ingest.SCOPES], format_func=lambda s: s or "any")
    with ui.connection() as con:
        rows = documents.list_documents(ctx, con, status=status, doc_type=doc_type, scope=scope, text=text)
    if not rows:
        st.info("No documents match. Upload some in the Upload tab, or `workbench ingest PATH --as you`.")
    else:
        table = pl.DataFrame(rows, infer_schema_length=None).with_columns(
            pl.col("doc_type", "project", "error_message").fill_null("")
        )
        shown = table.select(
            "title",
            "filename",
            "processing_status",
            "doc_type",
            "scope",
            "project",
            "version",
            "num_chunks",
            "num_tokens",
            "uploaded_by",
            "uploaded_at",
            "error_message",
        )
        picked = st.dataframe(
            shown,
            hide_index=True,
            width="stretch",
            on_select="rerun",
            selection_mode="single-row",
            key="docs.table",
        )
        st.download_button("Download CSV", csv_safe.write_csv(shown), "documents.csv", "text/csv")
        if picked.selection.rows:
            ui.document_detail(ctx, rows[picked.selection.rows[0]]["uuid"])
        else:
            st.caption("Select a row to see its summary, keywords and chunks.")

with search:
    query = st.text_input(
        "Search your documents and code", key="docs.query", placeholder="e.g. how long does a refund take?"
    )
    left, right = st.columns([3, 1])
    mode = left.radio("Mode", vectors.MODES, horizontal=True, key="docs.mode")
    k = right.number_input("Results", 1, 50, 10, key="docs.k")
    if query:
        try:
            hits = agents.metered_search(
                ctx, ui.store(), ui.vectors(), ui.embedder(), query, k=int(k), mode=mode
            )
        except WorkbenchError as exc:
            st.error(str(exc))
            hits = []
        if not hits:
            st.info("Nothing found. Try other words, or check that your documents have finished processing.")
        for i, hit in enumerate(hits, 1):
            ui.hit_card(i, hit, query)

with code:
    with ui.connection() as con:
        repositories = repos.list_repositories(ctx, con)
    if not repositories:
        st.info(
            "No repository indexed yet. Run `workbench index-repo PATH --as you` on a local git checkout."
        )
    else:
        st.dataframe(pl.DataFrame(repositories).drop("uuid"), hide_index=True, width="stretch")
        if ctx.can("documents:delete"):
            victim = st.selectbox("Repository", repositories, format_func=lambda r: r["repo_url"])
            label = f"Delete {victim['repo_url']}: its files, {victim['chunks']} chunks and vectors"
            ui.confirm_delete(
                markup.inert(label),
                lambda con: repos.delete_repository(ctx, con, ui.vectors(), victim["uuid"]),
                key="repo",
            )
