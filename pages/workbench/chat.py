"""Chat: questions answered from your documents, code or the workbench's own data, with sources,
confidence, grounding and the agents' reasoning. Conversations can be renamed, exported, deleted."""

import streamlit as st

from workbench import ui
from workbench.chat import conversations, starters
from workbench.documents import records as documents
from workbench.ui import chat as widgets

ctx = ui.require("chat:use")
st.title("Chat")

with ui.connection() as con:
    mine = conversations.list_conversations(ctx, con)
    readable = documents.list_documents(ctx, con) if ctx.can("documents:read") else []
    agents = widgets.agent_names(ctx, con)

side, main = st.columns([1, 3], gap="medium")
with side:
    current = widgets.conversation_list(mine)

conv, history = None, []
if current:
    with ui.connection() as con:
        conv = conversations.get_conversation(ctx, con, current)
        history = conversations.messages(ctx, con, current)

with main:
    options = widgets.settings_panel(ctx, conv, readable, agents)
    widgets.messages(ctx, history)
    picked = None
    if not history:  # starters read the documents' text: only for a chat with nothing in it yet
        with ui.connection() as con:
            starts = starters.starters(ctx, con)
        picked = widgets.welcome(ctx, agents, len(readable), starts)
    if conv:
        widgets.conversation_actions(ctx, conv, len(history))

question = st.chat_input("Ask about your documents, code or workbench data")
if picked:  # a starter runs with its own agent (in the open chat, with the chat's)
    question, options = picked["question"], options | {"agent_type": picked["agent_type"]}
if question:
    with main:
        st.session_state["chat.current"] = widgets.answer(ctx, question, conv, options)
    st.rerun()
