"""The Calls pages' widgets: the project picker they share, the clickable charts, a call's
transcript with its intent form, the CSV button, search hits, the import report and the QA pair tools."""

from __future__ import annotations

import html
from datetime import date

import plotly.express as px
import polars as pl
import streamlit as st

from workbench import errors, markup, ui
from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.calls import browse, datasets, intents, qa, search
from workbench.errors import WorkbenchError

KEPT_PROJECT = "calls.kept_project"  # not a widget key: the project chosen stays across the Calls pages

# the tables' columns, in words
CALL_LABELS = {"external_id": "Call", "project": "Project",
               "started_at": st.column_config.DatetimeColumn("Started", format="D MMM YYYY, HH:mm"),
               "intent": "Intent", "turns": "Turns",
               "duration_seconds": st.column_config.NumberColumn("Duration", format="%d s"),
               "talk_ratio": st.column_config.NumberColumn("Agent talk share", format="percent"),
               "sentiment": st.column_config.NumberColumn("Customer sentiment", format="%.2f",
                                                          help="From -1 (negative) to 1 (positive)"),
               "resolved": "Resolved"}
PAIR_LABELS = {"question": st.column_config.TextColumn("Question", width="large"),
               "answer": st.column_config.TextColumn("Answer", width="large"),
               "occurrences": "Times asked", "source": "Source", "call_external_id": "From call"}
HIT_LABELS = {"external_id": "Call", "project": "Project", "role": "Speaker", "utterance_index": "Turn",
              "content": "Said", "calls": "Calls that said it", "started_at": "Started", "intent": "Intent"}
DATASET_LABELS = {"name": "Name", "project": "Project", "source_type": "Source", "file_format": "Format",
                  "num_rows": "Rows", "created_by": "Created by", "created_at": "Created"}


def project_names(ctx: Context, chosen: str | None = None) -> list[str]:
    """The organisation's active project names, and `chosen` if it is an archived one (a choice
    made before it was archived stays); none when the user may not read projects."""
    if not ctx.can("projects:read"):
        return []
    with ui.connection() as con:
        rows = projects.list_projects(ctx, con, include_archived=chosen is not None)
    return list(dict.fromkeys(p["name"] for p in rows if not p["archived"] or p["name"] == chosen))


def project_picker(ctx: Context, key: str, *, everything: bool = True, where=st) -> str | None:
    """A project selectbox (with "all projects" when `everything`) that starts at the project the
    user last chose on a Calls page, so that the choice follows them from page to page. Archived
    projects are left out, unless one is the choice already made."""
    state = st.session_state
    names = project_names(ctx, state.get(key) or state.get(KEPT_PROJECT))
    options = [None, *names] if everything else names
    if key not in state and KEPT_PROJECT in state and state[KEPT_PROJECT] in options:
        state[key] = state[KEPT_PROJECT]
    return where.selectbox("Project", options, format_func=lambda p: p or "all projects", key=key,
                           on_change=lambda: state.__setitem__(KEPT_PROJECT, state[key]))


def kept_project_index(names: list[str]) -> int:
    """Where the project kept from the last Calls page is in `names` (0 when it is not there)."""
    kept = st.session_state.get(KEPT_PROJECT)
    return names.index(kept) if kept in names else 0


def csv_button(rows: list[dict], name: str, key: str) -> None:
    """The shared export (CSV and Parquet, `ui.exports`) of a list of rows, search terms left out."""
    if rows:
        ui.exports(pl.DataFrame([{k: v for k, v in row.items() if k != "terms"} for row in rows],
                                infer_schema_length=None), name, key, label="Download table")


def transcript(ctx: Context, call_uuid: str, focus_id: int | None = None,
               terms: list[str] | None = None) -> None:
    """One call: its analytics, the bubbles, and the intent an analyst may correct."""
    with ui.connection() as con:
        call = browse.get_call(ctx, con, call_uuid)
    st.subheader(markup.inert(f"Call {call['external_id']} · {call['project']}"))
    facts = [
        f"{call['turns'] or 0} turns",
        f"{call['duration_seconds']:.0f} s" if call["duration_seconds"] else None,
        f"agent talk {call['talk_ratio']:.0%}" if call["talk_ratio"] is not None else None,
        f"customer sentiment {call['sentiment']:+.2f}" if call["sentiment"] is not None else None,
        "resolved: " + {True: "yes", False: "no", None: "unclear"}[call["resolved"]],
    ]
    st.markdown(" · ".join(f for f in facts if f))
    st.caption(markup.inert(
        f"{call['started_at']:%Y-%m-%d %H:%M} · intent: {call['intent'] or 'not clustered yet'}"
        + (f" ({call['intent_source']})" if call["intent_source"] else "")
    ))
    # an iframe: the transcript scrolls to the utterance found; every text in it is escaped (browse)
    st.iframe(browse.transcript_html(call["utterances"], focus_id, terms), height=440)
    if ctx.can("calls:import"):
        with st.form(f"intent.{call_uuid}"):
            label = st.text_input("Intent of this call", call["intent"] or "")
            if st.form_submit_button("Save intent"):
                with ui.connection(write=True) as con:
                    intents.set_call_intent(ctx, con, call_uuid, label)
                st.rerun()


def hit_markdown(hit: dict, mode: str) -> str:
    """A search hit as Markdown with HTML (for the marks): its call, who said it, how many calls said
    it, then its words with the query's marked. Every text from the data is escaped and inert."""
    facts = [f"**{html.escape(hit['external_id'])}**",
             f"{html.escape(hit['role'] or '')} #{hit['utterance_index']}"]
    if hit["calls"] > 1:
        others = ", ".join(html.escape(c["external_id"]) for c in hit["said_in"][1:])
        more = hit["calls"] - len(hit["said_in"])
        facts.append(f"said in {hit['calls']:,} calls (also {others}{f' and {more:,} more' if more else ''})")
    if mode == "semantic":
        facts.append(f"similarity {hit['score']:.2f}")
    elif hit["phrase"]:
        facts.append("exact phrase")
    return markup.inert(" · ".join(facts)) + "<br>" + search.highlight(hit["content"], hit["terms"])


def hit_rows(hits: list[dict], mode: str) -> list[dict]:
    """Search hits as a table in words, for the download: one row an utterance, with its calls."""
    score = "Similarity" if mode == "semantic" else "Relevance"
    return [{label: hit[key] for key, label in HIT_LABELS.items()}
            | {"Also said in": ", ".join(c["external_id"] for c in hit["said_in"][1:]), score: hit["score"]}
            for hit in hits]


def hit_transcript(ctx: Context, said_in: list[dict], calls: int, terms: list[str]) -> None:
    """The transcript of a search hit's call; where several calls said it, a picker for the others."""
    chosen = said_in[0]
    if len(said_in) > 1:
        listed = "" if calls == len(said_in) else f", {len(said_in)} listed"
        chosen = st.selectbox(f"Said in {calls:,} calls{listed}", said_in,
                              format_func=lambda c: f"Call {c['external_id']} · {c['project']}",
                              key=f"calls.said_in.{chosen['id']}")
    transcript(ctx, chosen["call_uuid"], chosen["id"], terms)


def chart_filter_note() -> dict:
    """The filter the last chart click set (kept in the session), shown with a button to clear it."""
    clicked = st.session_state.setdefault("calls.clicked", {})
    if clicked:
        left, right = st.columns([4, 1])
        left.info("Chart filter: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in clicked.items()))
        if right.button("Clear chart filter", icon=":material/filter_alt_off:"):
            st.session_state["calls.clicked"] = {}
            st.rerun()
    return clicked


def _clickable(fig, key: str, to_filter) -> None:
    """A chart whose clicked point adds `to_filter(point)` to the chart filter."""
    fig.update_layout(margin=dict(l=0, r=0, t=30, b=0))
    fig.layout.height = fig.layout.height or 280
    event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points")
    points = event.selection.points if event and event.selection else []
    if points:
        st.session_state["calls.clicked"] = st.session_state.get("calls.clicked", {}) | to_filter(points[0])
        st.rerun()


def call_charts(charts: dict[str, list[dict]]) -> None:
    """Calls per day, intents, sentiment by week and the agent's talk share; a click filters."""
    one, two = st.columns(2)
    with one:
        _clickable(px.bar(charts["by_day"], x="day", y="calls", title="Calls per day"), "calls.c.day",
                   lambda p: {"day": date.fromisoformat(str(p["x"])[:10])})
    with two:
        _clickable(px.bar(charts["by_intent"], x="calls", y="intent", orientation="h", title="Intents")
                   .update_yaxes(title=None, autorange="reversed", tickmode="linear")
                   .update_layout(height=max(280, 22 * len(charts["by_intent"]))),
                   "calls.c.intent", lambda p: {"intents": (p["y"],)})
    with one:
        _clickable(px.line(charts["sentiment"], x="week", y="sentiment", markers=True,
                           title="Customer sentiment by week"),
                   "calls.c.mood", lambda p: {"week": date.fromisoformat(str(p["x"])[:10])})
    with two:
        _clickable(px.bar(charts["talk_ratio"], x="low", y="calls", title="Agent share of the words")
                   .update_xaxes(tickformat=".0%", title="agent's share of the words spoken"),
                   "calls.c.talk", lambda p: {"talk_ratio": (float(p["x"]), float(p["x"]) + 0.1)})


def import_report(imported, indexed: dict | None) -> list[tuple[str, str, list]]:
    """What an import did, file by file: ("ok" or "error", the message, the rows that failed)."""
    outcomes = []
    for one in imported:
        if one.counts:
            done = one.counts
            outcomes.append(("ok", f"{one.filename}: {done['calls']} calls ({done['created']} new, "
                             f"{done['updated']} updated), {done['utterances']} utterances.", []))
        elif isinstance(one.error, errors.ImportReport):
            outcomes.append(("error", str(one.error).split(". ")[0] + ".", one.error.problems))
        else:
            outcomes.append(("error", str(one.error), []))
    if indexed is not None:
        outcomes.append(("ok", f"{indexed['utterances']} utterances embedded in"
                         f" {indexed['seconds']} s; intents re-clustered.", []))
    return outcomes


NAMED_BY = {"auto": "clustering", "analyst": "an analyst", "import": "the import"}


def intents_panel(ctx: Context, project: str | None, known: list[dict]) -> None:
    """What each intent stands for (its phrases and a call that says it), and, for a project, a form
    to rename one, with a name proposed by a configured language model on request."""
    rows = [{"Intent": i["intent"], "Calls": i["calls"], "Named by": NAMED_BY.get(i["source"], i["source"]),
             "Typical phrases": "; ".join(i["phrases"][:5]), "A customer said": i["representative"] or ""}
            for i in known]
    st.dataframe(rows, hide_index=True, width="stretch", column_config={
        "Typical phrases": st.column_config.TextColumn(width="medium"),
        "A customer said": st.column_config.TextColumn(width="large")})
    if not ctx.can("calls:import"):
        return
    if project is None:
        st.caption("Choose a project to rename its intents.")
        return
    state = st.session_state
    if "intents.proposed" in state:  # a widget's value is set before it is drawn
        state["intents.new"] = state.pop("intents.proposed")
    picked, name, go = st.columns([2, 3, 1], vertical_alignment="bottom")
    old = picked.selectbox("Intent", [i["intent"] for i in known], key="intents.old")
    new = name.text_input("New name", key="intents.new", max_chars=60)
    if go.button("Rename", key="intents.rename", disabled=not (old and new.strip())):
        try:
            with ui.connection(write=True) as con:
                n = intents.rename_intent(ctx, con, project, old, new)
            state["intents.proposed"] = ""
            st.toast(f"Renamed {old!r} to {new.strip()!r} on {n:,} calls.")
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))
    from workbench.chat import naming, providers, steps  # the chat's, only when a name is proposed

    cfg = ui.settings()
    try:
        model = providers.make(cfg, None, None, ui.secrets())
    except providers.ProviderError as exc:
        st.caption(f"A language model could propose names; it is not usable: {exc}")
        return
    if not steps.is_model(model):
        st.caption("With a language model configured (an OpenAI-compatible endpoint), it can propose names.")
        return
    if st.button("Propose a name", key="intents.propose", icon=":material/auto_awesome:", disabled=not old,
                 help=f"{model.model} reads the intent's phrases and what its customers said"):
        try:
            with ui.connection(write=True) as con:  # the proposal is metered
                state["intents.proposed"] = naming.propose_name(ctx, con, model, project, old)
            st.rerun()
        except (WorkbenchError, providers.ProviderError) as exc:
            st.error(str(exc))


def pair_editor(ctx: Context, pairs: list[dict]) -> None:
    """The pairs as an editable table (read-only without qa:write) and a button to save the edits."""
    writable = ctx.can("qa:write")
    edited = st.data_editor(
        pairs, hide_index=True, key="qa.editor", column_config=PAIR_LABELS,
        disabled=["occurrences", "source", "call_external_id"] if writable else True,
        column_order=["question", "answer", "occurrences", "source", "call_external_id"],
    )
    changed = [(old, new) for old, new in zip(pairs, edited, strict=True)
               if (old["question"], old["answer"]) != (new["question"], new["answer"])]
    if writable and changed and st.button(f"Save {len(changed)} edited pair(s)", type="primary"):
        try:
            for old, new in changed:
                qa.update_pair(ctx, ui.workbench(), old["uuid"], new["question"], new["answer"])
            st.rerun()
        except WorkbenchError as exc:
            st.error(str(exc))


def qa_tools(ctx: Context, project: str | None, pairs: list[dict]) -> None:
    """Add, delete (with undo), import, extract, merge and export the project's QA pairs."""
    state = st.session_state
    wb = ui.workbench()
    add, remove, more, export = st.columns(4)
    with add.popover("Add a pair", icon=":material/add:"):
        with st.form("qa.add", clear_on_submit=True):
            question, answer = st.text_area("Question"), st.text_area("Answer")
            if st.form_submit_button("Add", type="primary"):
                _run(lambda: qa.create_pair(ctx, wb, project, question, answer), "Added.")
    with remove.popover("Delete a pair", icon=":material/delete:", disabled=not pairs):
        victim = st.selectbox("Pair", pairs, format_func=lambda p: p["question"][:80], key="qa.victim")
        if victim and st.button("Delete", type="primary", key="qa.delete"):
            state["qa.deleted"] = qa.delete_pair(ctx, wb, victim["uuid"])
            st.rerun()
    with more.popover("Import or extract", icon=":material/upload:"):
        upload = st.file_uploader("CSV with question and answer columns", type=["csv"], key="qa.upload",
                                  max_upload_size=ui.settings().upload_max_mb)
        if upload and st.button("Import CSV", key="qa.import"):
            _run(lambda: qa.import_pairs(ctx, wb, project, upload.name, upload.getvalue()))
        if st.button("Extract from the calls", key="qa.extract",
                     help="Customer questions and the agent's answers"):
            _run(lambda: qa.extract_from_calls(ctx, wb, project))
        if st.button("Merge near-duplicates", key="qa.merge"):
            _run(lambda: qa.merge_duplicates(ctx, wb, project))
    with export.popover("Export", icon=":material/download:", disabled=not pairs):
        _export(ctx, project)
    if state.get("qa.deleted"):
        gone = state["qa.deleted"]
        left, right = st.columns([4, 1])
        left.info(f"Deleted: {gone['question'][:80]}")
        if right.button("Undo", icon=":material/undo:", key="qa.undo"):
            qa.create_pair(ctx, wb, gone["project"], gone["question"], gone["answer"])
            del state["qa.deleted"]
            st.rerun()


def _export(ctx: Context, project: str | None) -> None:
    """Export the project's pairs as a registered dataset, then offer its file."""
    state = st.session_state
    fmt = st.radio("Format", datasets.FORMATS, horizontal=True, key="qa.fmt")
    if st.button("Export and register a dataset", key="qa.export"):
        try:
            with ui.connection(write=True) as con:
                state["qa.exported"] = datasets.export_qa(ctx, con, ui.settings(), project, fmt)
        except WorkbenchError as exc:
            st.error(str(exc))
    if state.get("qa.exported"):
        made = state["qa.exported"]
        st.success(f"Registered {made['name']} ({made['num_rows']} pairs).")
        st.download_button(f"Download {made['filename']}", made["data"], made["filename"], key="qa.dl")


def _run(action, done: str | None = None) -> None:
    """Run a QA action, then show its counts (or its error) and refresh the table."""
    try:
        result = action()
    except errors.ImportReport as report:
        st.error(str(report))
        return
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    st.toast(done or ", ".join(f"{k} {v}" for k, v in result.items() if isinstance(v, int)))
    st.rerun()
