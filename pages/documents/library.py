"""Documents: browse the library with filters, inspect a document, delete it."""

import polars as pl
import streamlit as st

from workbench import csv_safe, ui
from workbench.documents import ingest
from workbench.documents import records as documents
from workbench.ui import documents as widgets

ctx = ui.require("documents:read")
st.title("Documents")
widgets.ingest_progress()
if not ctx.can("documents:create"):
    st.caption("Your role can read documents but not upload them.")

a, b, c, d = st.columns([2, 1, 1, 1])
text = a.text_input("Title or file name contains", key="docs.text")
status = b.selectbox("Status", [None, *documents.STATUSES], format_func=lambda s: s or "any")
doc_type = c.selectbox("Type", [None, *ingest.DOC_TYPES], format_func=lambda s: s or "any", key="docs.type")
scope = d.selectbox("Scope", [None, *ingest.SCOPES], format_func=lambda s: s or "any")
with ui.connection() as con:
    rows = documents.list_documents(ctx, con, status=status, doc_type=doc_type, scope=scope, text=text)
if not rows:
    st.info("No documents match. Upload some on the Upload documents page, or "
            "`workbench ingest PATH --as you`.")
    ui.link(ctx, "documents-upload", "Upload documents")
    st.stop()

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
    column_config=widgets.LABELS,
    on_select="rerun",
    selection_mode="single-row",
    key="docs.table",
)
st.download_button("Download CSV", csv_safe.write_csv(shown), "documents.csv", "text/csv")
if picked.selection.rows:
    widgets.document_detail(ctx, rows[picked.selection.rows[0]]["uuid"])
else:
    st.caption("Select a row to see its summary, keywords and chunks.")
