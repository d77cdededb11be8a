"""Search calls: find what was said by keyword or by meaning, then open the call at that utterance."""

import html

import streamlit as st

from workbench import ui
from workbench.calls import search
from workbench.errors import WorkbenchError
from workbench.ui import calls as widgets

ctx = ui.require("calls:read")
st.title("Search calls")
state = st.session_state

a, b, c = st.columns([5, 2, 2])
query = a.text_input("Search what was said", key="calls.query", placeholder="e.g. my parcel never arrived")
mode = b.radio("Mode", search.MODES, horizontal=True, key="calls.mode")
where = widgets.project_picker(ctx, "calls.sp", where=c)
if not query:
    st.info("Type what a customer or an agent said. Keyword finds the words; semantic finds the meaning.")
    st.stop()

try:
    hits = search.search_utterances(ctx, ui.workbench(), query, mode=mode, project=where)
except WorkbenchError as exc:
    st.error(str(exc))
    hits = []
if not hits:
    st.info("No utterance matches." + (" Try the other mode." if mode == "keyword" else ""))
found, opened = st.columns([1, 1])
with found:
    for i, hit in enumerate(hits[:20]):
        score = f" · similarity {hit['score']:.2f}" if hit["score"] is not None else ""
        text, button = st.columns([5, 1])
        text.markdown(  # HTML for the <mark>s: every text from the data is escaped
            f"**{html.escape(hit['external_id'])}** · {html.escape(hit['role'] or '')}"
            f" #{hit['utterance_index']}{score}<br>"
            + search.highlight(hit["content"], hit["terms"]),
            unsafe_allow_html=True,
        )
        button.button("Open", key=f"calls.open.{i}", on_click=state.__setitem__,
                      args=("calls.focus", (hit["call_uuid"], hit["id"], hit["terms"])))
    st.caption(f"{len(hits)} utterances" + (", the first 20 shown" if len(hits) > 20 else ""))
    widgets.csv_button(hits, "utterance-search", "calls.search.csv")
with opened:
    if state.get("calls.focus"):
        widgets.transcript(ctx, *state["calls.focus"])
    elif hits:
        st.info("Open a hit to read its call, the matching utterance marked.")
