"""The Chat page's widgets: the list of conversations, a chat's settings and attachments, the messages
with their confidence, sources, grounding and reasoning, the chat's exports, rename and delete, and the
answer streamed while it is written. Every text from the data or a model is shown through
`markup.inert`: no image in it loads."""

from __future__ import annotations

import plotly.express as px
import streamlit as st

from workbench import markup, ui
from workbench.accounts.context import Context
from workbench.chat import ask as chat
from workbench.chat import conversations, prompts
from workbench.chat.providers import PROVIDERS
from workbench.documents import ingest, parsing
from workbench.errors import WorkbenchError
from workbench.ui.documents import mark


def agent_names(ctx: Context, con) -> dict[str, str]:
    """Each agent type's label: the organisation's agent names (edited on Agents & prompts),
    else what each one reads."""
    named = {a["agent_type"]: a["name"] for a in reversed(prompts.list_agents(ctx, con))}
    defaults = {"rag": "Document assistant", "code": "Code assistant", "analytics": "Analytics assistant"}
    return defaults | named


def conversation_list(mine: list[dict]) -> str | None:
    """A "New chat" button over the user's conversations; returns the open one's UUID (None: a new chat)."""
    if st.button("New chat", icon=":material/add:", width="stretch"):
        st.session_state.pop("chat.current", None)
        st.rerun()
    if not mine:
        st.caption("No conversations yet: ask a question to start one.")
    labels = {c["uuid"]: markup.inert(f"{c['title'] or 'Untitled'} ({c['messages']})") for c in mine}
    current = st.session_state.get("chat.current")
    if current not in labels:
        current = None
    if labels:
        # The selection is the open chat's id, not a position: another browser, the API or
        # `workbench ask` may put a new conversation at the top of the list at any time.
        st.session_state["chat.picked"] = current
        st.radio("Conversations", list(labels), format_func=labels.get, index=None, key="chat.picked",
                 on_change=_open_picked, label_visibility="collapsed")
    return current


def _open_picked() -> None:
    """The user picked a conversation in the list: it is the open one from this run on."""
    st.session_state["chat.current"] = st.session_state["chat.picked"]


def settings_panel(ctx: Context, conv: dict | None, readable: list[dict], agents: dict[str, str]) -> dict:
    """Agent, provider, model and document scope for a new chat, or the current one's."""
    cfg = ui.settings()
    current_provider = (conv or {}).get("llm_provider") or cfg.llm_provider
    title = "Chat settings" + (f": {agents[conv['agent_type']]}" if conv else "")
    with st.expander(title, expanded=not conv):
        left, mid, right = st.columns(3)
        agent = left.selectbox(
            "Agent",
            prompts.AGENT_TYPES,
            format_func=agents.get,
            index=prompts.AGENT_TYPES.index(conv["agent_type"]) if conv else 0,
        )
        provider = mid.selectbox(
            "Provider",
            PROVIDERS,
            index=PROVIDERS.index(current_provider) if current_provider in PROVIDERS else 0,
            format_func={"extractive": "Extractive (offline)", "openai": "OpenAI-compatible"}.get,
        )
        model = right.text_input(
            "Model",
            value=(conv or {}).get("llm_model") or cfg.llm_model,
            disabled=provider == "extractive",
            help="Sent to the endpoint in WORKBENCH_LLM_BASE_URL.",
        )
        names = {
            d["uuid"]: d["title"] or d["filename"] for d in readable if d["processing_status"] == "completed"
        }
        chosen = st.multiselect(
            "Only these documents (empty: all you may read)",
            list(names),
            default=[u for u in (conv or {}).get("selected_document_ids") or [] if u in names],
            format_func=names.get,
            disabled=agent != "rag",
        )
        if conv and st.button("Apply to this chat"):
            with ui.connection(write=True) as con:
                conversations.update_conversation(
                    ctx,
                    con,
                    conv["uuid"],
                    agent_type=agent,
                    provider=provider,
                    model=model,
                    document_uuids=chosen or None,
                )
            st.rerun()
        if conv and ctx.can("documents:create"):
            attach(ctx, conv)
    return {
        "agent_type": agent,
        "provider_name": provider,
        "model": model or None,
        "document_uuids": chosen or None,
    }


def attach(ctx: Context, conv: dict) -> None:
    """Files uploaded here belong to this chat only."""
    cfg = ui.settings()
    files = st.file_uploader(
        "Attach files to this chat",
        type=[e.lstrip(".") for e in parsing.SUPPORTED_TYPES],
        accept_multiple_files=True,
        max_upload_size=cfg.upload_max_mb,  # the browser refuses bigger files
        key=f"chat.files.{conv['uuid']}",
    )
    if files and st.button("Add to this chat", icon=":material/attach_file:"):
        with st.spinner("Reading and indexing..."):
            outcomes = ingest.ingest_files(
                ctx,
                ui.workbench(),
                [(f.name, f.getvalue()) for f in files],
                conversation_id=conv["id"],
            )
        for o in outcomes:
            (st.success if o.status == "completed" else st.warning)(
                f"{o.filename}: {o.status} {o.message or ''}"
            )


def messages(ctx: Context, history: list[dict]) -> None:
    """The conversation so far; under each answer, its extras (the question's words marked in its sources)."""
    asked = ""
    for message in history:
        with st.chat_message(message["role"]):
            st.markdown(markup.inert(message["content"]))
            if message["role"] == "assistant":
                assistant_extras(ctx, message, asked)
            else:
                asked = message["content"]


def assistant_extras(ctx: Context, message: dict, question: str) -> None:
    """Confidence, sources, grounding and reasoning under an answer."""
    confidence = message["confidence_score"]
    if confidence is not None:
        low = message["low_confidence_warning"]
        st.badge(
            f"confidence {confidence:.2f}",
            color="red" if low else "green" if confidence >= 0.6 else "orange",
            icon=":material/warning:" if low else ":material/verified:",
        )
        if low:
            st.warning(
                "Low confidence: this answer is more likely wrong than right (the sources barely cover the "
                "question, or several passages answer it about as well). Check them before relying on it."
            )
    sources = message["sources"] or []
    table = next((s for s in sources if s.get("kind") == "query"), None)
    if table:
        st.code(table["cited_text"], language="sql")
        show_table(table.get("table"))
    elif sources:
        source_cards(sources, question)
    evidence = message["grounding_evidence"]
    beside = (evidence or {}).get("off_question_claims", [])  # answers saved before the check have none
    if evidence and (evidence.get("verified_claims") or evidence.get("unverified_claims") or beside):
        with st.expander(f"Grounding {evidence['score']:.2f}"):
            for claim in evidence["verified_claims"]:
                st.markdown(f":green[:material/check:] {markup.inert(claim)}")
            for claim in beside:
                st.markdown(f":orange[:material/remove:] {markup.inert(claim)} "
                            ":orange[(in the sources, but not what was asked)]")
            for claim in evidence["unverified_claims"]:
                st.markdown(f":red[:material/close:] {markup.inert(claim)}")
            st.caption(markup.inert(" · ".join(evidence["evidence"])))
    if message["reasoning_chain"] and ctx.can("explain:view"):
        with st.expander("Reasoning"):
            for step in message["reasoning_chain"]:
                timing = f" ({step['execution_time']:.3f} s)" if "execution_time" in step else ""
                status = "" if step.get("status", "success") == "success" else f" **{step['status']}**"
                line = f"{step['step']}. **{step['agent']}**{timing}{status}: {step['reasoning']}"
                st.markdown(markup.inert(line))
                if "input" in step:
                    st.json(step["input"], expanded=False)


def welcome(ctx: Context, agents: dict[str, str], readable: int, starters: list[dict]) -> dict | None:
    """A chat with no message yet: what each agent answers and questions to start with; returns the
    one clicked ({"question", "agent_type"}), else None."""
    said = {"rag": f"answers from the {readable:,} document{'s' * (readable != 1)} you can read, citing them",
            "code": "answers from the indexed code repositories, citing file and lines",
            "analytics": "answers from the workbench's own data (calls, intents, usage and cost) with a "
                         "named query, its SQL and a chart"}
    if not any(s["agent_type"] == "analytics" for s in starters):  # no workbench data the user may read
        del said["analytics"]
    with st.container(border=True):
        st.markdown("**Ask a question.** Pick the agent in the chat settings above:")
        st.markdown("\n".join(f"- **{markup.inert(agents[kind])}** {text}" for kind, text in said.items()))
        if starters:
            st.caption("Try one of these:")
        for i, start in enumerate(starters):
            if st.button(start["question"], key=f"chat.start.{i}", icon=":material/chat:"):
                return start
    return None


def source_cards(sources: list[dict], question: str) -> None:
    """An answer's sources, one card per document (cited or not) with its passages inside: each
    passage's number, place, relevance and text, the question's words marked."""
    documents: dict[str, list[dict]] = {}
    for s in sources:
        documents.setdefault(s.get("id") or f"{s['title']}\0{s['filename']}", []).append(s)
    cited = sum(1 for s in sources if s.get("cited"))
    count = f"{len(documents)} document{'s' * (len(documents) != 1)}"
    with st.expander(f"Sources ({cited} of {len(sources)} passages cited, {count})"):
        for passages in documents.values():
            first = passages[0]
            numbers = " ".join(f"[{p['number']}]" for p in passages)
            with st.container(border=True):
                uncited = "" if any(p.get("cited") for p in passages) else " · *not cited*"
                st.markdown(markup.inert(f"**{numbers} {first['title']}**{uncited}"))
                st.caption(markup.inert(first["filename"]))
                for p in passages:
                    where = p.get("location") or (f"page {p['page_number']}" if p.get("page_number") else "")
                    facts = [f"[{p['number']}]", where, f"relevance {p['relevance_score']:.2f}",
                             "" if p.get("cited") else "not cited",
                             "instructions to the assistant removed" if p.get("suspicious") else ""]
                    st.caption(markup.inert(" · ".join(f for f in facts if f)))
                    st.markdown(mark(p["cited_text"][:1200], question))


def show_table(table: dict | None) -> None:
    """The rows an analytics answer read, as a chart and a table."""
    if not table or not table["rows"]:
        return
    chart, labels = table["chart"], table.get("labels") or {}
    figure = (px.line if chart["kind"] == "line" else px.bar)(table["rows"], x=chart["x"], y=chart["y"],
                                                              labels=labels)
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure, width="stretch")
    st.dataframe([{labels.get(k, k): v for k, v in row.items()} for row in table["rows"]], hide_index=True,
                 width="stretch")


def conversation_actions(ctx: Context, conv: dict, count: int) -> None:
    """The open chat's Markdown and JSON exports, its rename and its delete (`count` messages)."""
    export_md, export_json, rename, delete = st.columns([1, 1, 2, 1], vertical_alignment="bottom")
    with ui.connection() as con:
        export_md.download_button(
            "Markdown",
            conversations.export(ctx, con, conv["uuid"]),
            file_name=f"conversation-{conv['uuid'][:8]}.md",
            icon=":material/download:",
        )
        export_json.download_button(
            "JSON",
            conversations.export(ctx, con, conv["uuid"], "json"),
            file_name=f"conversation-{conv['uuid'][:8]}.json",
            icon=":material/download:",
        )
    with rename.popover("Rename", icon=":material/edit:"):
        title = st.text_input("Title", value=conv["title"] or "")
        if st.button("Save title"):
            try:
                with ui.connection(write=True) as con:
                    conversations.update_conversation(ctx, con, conv["uuid"], title=title)
                st.rerun()
            except WorkbenchError as exc:
                st.error(str(exc))
    with delete:
        ui.confirm_delete(
            markup.inert(f"Delete “{conv['title']}” with its {count} messages and chat uploads"),
            lambda con: conversations.delete_conversation(
                ctx, con, conv["uuid"], settings=ui.settings(), vectors=ui.vectors()
            ),
            key=conv["uuid"],
        )


def answer(ctx: Context, question: str, conv: dict | None, options: dict) -> str:
    """Ask `question` in `conv` (None: a new chat with `options`), showing the agents' steps and the
    answer as it is written; returns the conversation's UUID. An error is shown and stops the page."""
    with st.chat_message("user"):
        st.markdown(markup.inert(question))
    with st.chat_message("assistant"):
        status = st.status("Thinking...", expanded=False)
        placeholder = st.empty()
        streamed: list[str] = []

        def on_delta(piece: str) -> None:
            streamed.append(piece)
            placeholder.markdown(markup.inert("".join(streamed)) + "▌")

        try:
            answered = chat.ask(
                ctx,
                ui.workbench(),
                question,
                conversation_uuid=conv["uuid"] if conv else None,
                on_delta=on_delta,
                on_step=lambda text: status.update(label=text),
                secrets=ui.secrets(),
                **({} if conv else options),
            )
        except WorkbenchError as exc:
            status.update(label="Not answered", state="error")
            placeholder.error(str(exc))
            st.stop()
        status.update(label="Done", state="complete")
        placeholder.markdown(markup.inert(answered.content))
    return answered.conversation_uuid
