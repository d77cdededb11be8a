"""The Documents pages' widgets: the background ingests' live progress, one document's detail with its
delete button, and a search result's card with the query's words marked (the Chat page's source cards
mark them too)."""

from __future__ import annotations

import re

import streamlit as st

from workbench import markup, ui
from workbench.accounts.context import Context
from workbench.documents import records as documents
from workbench.text import STOPWORDS, stem

# the documents' and repositories' columns as the tables show them
LABELS = {
    "title": "Title",
    "filename": "File",
    "processing_status": "Status",
    "doc_type": "Type",
    "scope": "Scope",
    "project": "Project",
    "version": "Version",
    "num_chunks": "Chunks",
    "num_tokens": "Tokens",
    "uploaded_by": "Uploaded by",
    "uploaded_at": "Uploaded",
    "error_message": "Error",
    "repo_url": "Repository",
    "default_branch": "Branch",
    "fetched_at": "Indexed",
    "files": "Files",
    "loc": "Lines of code",
    "chunks": "Chunks",
}


@st.fragment(run_every=1.0)
def ingest_progress() -> None:
    """Live progress of background ingests; refreshes the page when the last one finishes."""
    active = {u: s for u, s in ui.ingest_worker().states().items() if s.status in ("queued", "running")}
    for state in active.values():
        st.progress(state.fraction, text=markup.inert(f"{state.filename}: {state.stage}"))
    if st.session_state.get("docs.busy") and not active:
        st.session_state["docs.busy"] = False
        st.rerun()
    st.session_state["docs.busy"] = bool(active)


def document_detail(ctx: Context, document_uuid: str) -> None:
    """Summary, keywords, topics and chunks of one document, with its delete button."""
    with ui.connection() as con:
        doc = documents.get_document(ctx, con, document_uuid)
    st.subheader(markup.inert(doc["title"] or doc["filename"]))
    cols = st.columns(5)
    for col, (label, value) in zip(cols, [("Status", doc["processing_status"]), ("Chunks", doc["num_chunks"]),
                                          ("Tokens", f"{doc['num_tokens']:,}"), ("Version", doc["version"]),
                                          ("Content", doc["content_type"] or "-")], strict=True):
        col.metric(label, value)
    if doc["error_message"]:
        st.error(markup.inert(doc["error_message"]))
    if doc["auto_summary"]:
        st.markdown(f"**Summary** ({doc['summarization_model']})")
        st.markdown(markup.inert(doc["auto_summary"]))
    if doc["keywords"]:
        st.markdown("**Keywords** " + " ".join(f"`{k}`" for k in doc["keywords"]))
    if doc["topics"]:
        st.markdown(markup.inert("**Topics** " + " · ".join(doc["topics"])))
    with st.expander(f"{len(doc['chunks'])} chunks"):
        paged = any(c["page_number"] is not None for c in doc["chunks"])  # a PDF's; text has no pages
        st.dataframe(doc["chunks"], hide_index=True, width="stretch", column_order=[
            c for c in ("chunk_index", "page_number", "section", "num_tokens", "content")
            if c != "page_number" or paged], column_config={
            "chunk_index": st.column_config.NumberColumn("Chunk", format="%d"),
            "page_number": st.column_config.NumberColumn("Page", format="%d"),
            "section": "Section",
            "num_tokens": st.column_config.NumberColumn("Tokens", format="%d"),
            "content": st.column_config.TextColumn("Text", width="large"),
        })
    if ctx.can("documents:delete"):
        ui.confirm_delete(
            f"Delete {doc['filename']}: its file, {doc['num_chunks']} chunks and their vectors",
            lambda con: documents.delete_document(ctx, con, document_uuid, settings=ui.settings(),
                                                  vectors=ui.vectors()),
            key=document_uuid,
        )


def hit_card(rank: int, hit, query: str) -> None:
    """One search result: where it comes from, how it scored, the text with the query words marked."""
    where = [hit.title]
    if hit.page_number:
        where.append(f"page {hit.page_number}")
    if hit.start_line:
        where.append(f"{hit.filename} lines {hit.start_line}-{hit.end_line}")
    if hit.section and hit.section != hit.title:
        where.append(hit.section)
    with st.container(border=True):
        st.markdown(markup.inert(f"**{rank}. {' · '.join(where)}**"))
        st.caption(f"fused score {hit.score:.4f} · similarity {hit.similarity:.2f} · vector rank "
                   f"{hit.vector_rank or '-'} · text rank {hit.text_rank or '-'}")
        st.markdown(mark(hit.text, query))


def mark(text: str, query: str) -> str:
    """Bold the query's content words (3+ letters, no stop words such as "for" or "the"; any ending of
    their stem: "phones" marks "phone") in a result's text, as inert Markdown (no images)."""
    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)  # headings as plain lines, not titles
    text = re.sub(r"\*\*|__", "", text)  # the source's own emphasis: bold is kept for the query's words
    words = sorted({stem(w) for w in re.findall(r"\w{3,}", query.lower()) if w not in STOPWORDS},
                   key=len, reverse=True)
    if words:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\w*", re.IGNORECASE)
        text = pattern.sub(lambda m: f"**{m.group(0)}**", text.replace("*", "\\*"))
    return markup.inert(text)  # last: dropping "**" above can join a "!" to a "["
