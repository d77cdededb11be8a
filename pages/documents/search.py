"""Search documents: your documents and indexed code, by meaning and by words, with the words marked."""

import streamlit as st

from workbench import ui
from workbench.chat import steps as agents
from workbench.errors import WorkbenchError
from workbench.search import vectors
from workbench.ui import documents as widgets

ctx = ui.require("documents:read")
st.title("Search documents")

query = st.text_input(
    "Search your documents and code", key="docs.query", placeholder="e.g. how long does a refund take?"
)
left, right = st.columns([3, 1])
mode = left.radio("Mode", vectors.MODES, horizontal=True, key="docs.mode")
k = right.number_input("Results", 1, 50, 10, key="docs.k")
if not query:
    st.caption("Type a question or a few words: the closest passages of your documents and code appear here.")
    st.stop()

try:
    hits = agents.metered_search(ctx, ui.workbench(), query, k=int(k), mode=mode)
except WorkbenchError as exc:
    st.error(str(exc))
    hits = []
if not hits:
    st.info("Nothing found. Try other words, or check that your documents have finished processing.")
    ui.link(ctx, "documents", "See their status on the Documents page")
for i, hit in enumerate(hits, 1):
    widgets.hit_card(i, hit, query)
