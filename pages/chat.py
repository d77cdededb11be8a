"""Chat: questions answered from your documents, code or the workbench's own data, with sources,
confidence, grounding and the agents' reasoning. Conversations can be renamed, exported, deleted."""

import plotly.express as px
import streamlit as st

from workbench import markup, ui
from workbench.chat import ask as chat
from workbench.chat import conversations, prompts
from workbench.chat.providers import PROVIDERS
from workbench.documents import ingest, parsing
from workbench.documents import records as documents
from workbench.errors import WorkbenchError

ctx = ui.require("chat:use")
st.title("Chat")
cfg = ui.settings()

with ui.connection() as con:
    mine = conversations.list_conversations(ctx, con)
    readable = documents.list_documents(ctx, con) if ctx.can("documents:read") else []
    named = {a["agent_type"]: a["name"] for a in reversed(prompts.list_agents(ctx, con))}
# the organisation's agent names (seed 003, edited on Agents & prompts), else what each one reads
AGENTS = {"rag": "Documents", "code": "Code", "analytics": "Workbench data", **named}
# every text from the data or a model is shown through markup.inert: no image in it loads

side, main = st.columns([1, 3], gap="medium")
with side:
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
        picked = st.radio(
            "Conversations",
            list(labels),
            format_func=labels.get,
            index=list(labels).index(current) if current else None,
            label_visibility="collapsed",
        )
        if picked and picked != current:
            st.session_state["chat.current"] = current = picked
            st.rerun()

conv = None
if current:
    with ui.connection() as con:
        conv = conversations.get_conversation(ctx, con, current)
        history = conversations.messages(ctx, con, current)
else:
    history = []


def settings_panel() -> dict:
    """Agent, provider, model and document scope for a new chat, or the current one's."""
    current_provider = (conv or {}).get("llm_provider") or cfg.llm_provider
    with st.expander(
        "Chat settings" + (f": {AGENTS[conv['agent_type']]}" if conv else ""), expanded=not conv
    ):
        left, mid, right = st.columns(3)
        agent = left.selectbox(
            "Agent",
            prompts.AGENT_TYPES,
            format_func=AGENTS.get,
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
            attach(conv)
    return {
        "agent_type": agent,
        "provider_name": provider,
        "model": model or None,
        "document_uuids": chosen or None,
    }


def attach(conv: dict) -> None:
    """Files uploaded here belong to this chat only (seed 002)."""
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
                cfg,
                ui.store(),
                ui.vectors(),
                ui.embedder(),
                [(f.name, f.getvalue()) for f in files],
                conversation_id=conv["id"],
            )
        for o in outcomes:
            (st.success if o.status == "completed" else st.warning)(
                f"{o.filename}: {o.status} {o.message or ''}"
            )


def assistant_extras(message: dict, question: str) -> None:
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
                "Low confidence: the sources barely cover this question. Check them before relying on it."
            )
    sources = message["sources"] or []
    table = next((s for s in sources if s.get("kind") == "query"), None)
    if table:
        st.code(table["cited_text"], language="sql")
        show_table(table.get("table"))
    elif sources:
        with st.expander(f"Sources ({sum(1 for s in sources if s.get('cited'))} cited of {len(sources)})"):
            for s in sources:
                where = s.get("location") or (f"page {s['page_number']}" if s.get("page_number") else "")
                head = f"**[{s['number']}] {s['title']}**" + (f" · {where}" if where else "")
                with st.container(border=True):
                    st.markdown(markup.inert(head + ("" if s.get("cited") else " · *not cited*")))
                    st.caption(
                        markup.inert(f"{s['filename']} · relevance {s['relevance_score']:.2f}")
                        + (
                            " · contained instructions to the assistant, removed"
                            if s.get("suspicious")
                            else ""
                        )
                    )
                    st.markdown(ui.mark(s["cited_text"][:1200], question))
    evidence = message["grounding_evidence"]
    if evidence and (evidence.get("verified_claims") or evidence.get("unverified_claims")):
        with st.expander(f"Grounding {evidence['score']:.2f}"):
            for claim in evidence["verified_claims"]:
                st.markdown(f":green[:material/check:] {markup.inert(claim)}")
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


def show_table(table: dict) -> None:
    if not table or not table["rows"]:
        return
    chart = table["chart"]
    figure = (px.line if chart["kind"] == "line" else px.bar)(table["rows"], x=chart["x"], y=chart["y"])
    figure.update_layout(height=260, margin={"l": 10, "r": 10, "t": 10, "b": 10})
    st.plotly_chart(figure, width="stretch")
    st.dataframe(table["rows"], hide_index=True, width="stretch")


with main:
    options = settings_panel()
    asked = ""
    for message in history:
        with st.chat_message(message["role"]):
            st.markdown(markup.inert(message["content"]))
            if message["role"] == "assistant":
                assistant_extras(message, asked)
            else:
                asked = message["content"]
    if conv:
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
                markup.inert(f"Delete “{conv['title']}” with its {len(history)} messages and chat uploads"),
                lambda con: conversations.delete_conversation(
                    ctx, con, conv["uuid"], settings=cfg, vectors=ui.vectors()
                ),
                key=conv["uuid"],
            )

question = st.chat_input("Ask about your documents, code or workbench data")
if question:
    with main:
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
                answer = chat.ask(
                    ctx,
                    cfg,
                    ui.store(),
                    ui.vectors(),
                    ui.embedder(),
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
            placeholder.markdown(markup.inert(answer.content))
    st.session_state["chat.current"] = answer.conversation_uuid
    st.rerun()
