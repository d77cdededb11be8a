"""Search calls: find what was said by keyword or by meaning, then open the call at that utterance.
Identical utterances from several calls are one hit that says how many calls said it."""

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
    st.info("Type what a customer or an agent said. Keyword finds any of the words, the exact phrase first;"
            " semantic finds the meaning.")
    st.stop()

try:
    hits = search.search_utterances(ctx, ui.workbench(), query, mode=mode, project=where)
except WorkbenchError as exc:
    st.error(str(exc))
    st.stop()
if not hits:
    st.info("No utterance matches." + (" Try other words, or semantic mode." if mode == "keyword" else ""))
found, opened = st.columns([1, 1])
with found:
    for i, hit in enumerate(hits[:20]):
        text, button = st.columns([5, 1])
        text.markdown(widgets.hit_markdown(hit, mode), unsafe_allow_html=True)  # the data escaped, for <mark>
        button.button("Open", key=f"calls.open.{i}", on_click=state.__setitem__,
                      args=("calls.focus", (hit["said_in"], hit["calls"], hit["terms"])))
    if hits:
        st.caption(f"{len(hits):,} distinct utterances" + (", the first 20 shown" if len(hits) > 20 else ""))
    widgets.csv_button(widgets.hit_rows(hits, mode), "utterance-search", "calls.search.csv")
with opened:
    if state.get("calls.focus"):
        widgets.hit_transcript(ctx, *state["calls.focus"])
    elif hits:
        st.info("Open a hit to read its call, the matching utterance marked.")
