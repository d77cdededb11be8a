"""Calls: filter and chart the calls (a click on a chart filters the table), read a transcript,
search utterances by keyword or meaning, import call files, review QA pairs and datasets."""

import html
from datetime import date, timedelta

import plotly.express as px
import polars as pl
import streamlit as st
import streamlit.components.v1 as components

from workbench import errors, markup, ui
from workbench.accounts import projects
from workbench.calls import browse as call_browse
from workbench.calls import datasets, intents, qa, transcripts
from workbench.calls import imports as calls
from workbench.calls import search as call_search
from workbench.errors import WorkbenchError

ctx = ui.require("calls:read")
st.title("Calls")
state = st.session_state


def csv_button(rows: list[dict], name: str, key: str) -> None:
    """The shared export (CSV and Parquet, `ui.exports`) of a list of rows, search terms left out."""
    if rows:
        ui.exports(pl.DataFrame([{k: v for k, v in row.items() if k != "terms"} for row in rows],
                                infer_schema_length=None), name, key, label="Download table")


def transcript(call_uuid: str, focus_id: int | None = None, terms: list[str] | None = None) -> None:
    """One call: its analytics, the bubbles, and the intent an analyst may correct."""
    with ui.connection() as con:
        call = call_browse.get_call(ctx, con, call_uuid)
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
    components.html(call_browse.transcript_html(call["utterances"], focus_id, terms), height=440)
    if ctx.can("calls:import"):
        with st.form(f"intent.{call_uuid}"):
            label = st.text_input("Intent of this call", call["intent"] or "")
            if st.form_submit_button("Save intent"):
                with ui.connection(write=True) as con:
                    intents.set_call_intent(ctx, con, call_uuid, label)
                st.rerun()


def qa_tools(project: str, pairs: list[dict]) -> None:
    """Add, delete (with undo), import, extract, merge and export the project's QA pairs."""
    store, vectors, embedder = ui.store(), ui.vectors(), ui.embedder()
    add, remove, more, export = st.columns(4)
    with add.popover("Add a pair", icon=":material/add:"):
        with st.form("qa.add", clear_on_submit=True):
            question, answer = st.text_area("Question"), st.text_area("Answer")
            if st.form_submit_button("Add", type="primary"):
                run(
                    lambda: qa.create_pair(ctx, store, vectors, embedder, project, question, answer), "Added."
                )
    with remove.popover("Delete a pair", icon=":material/delete:", disabled=not pairs):
        victim = st.selectbox("Pair", pairs, format_func=lambda p: p["question"][:80], key="qa.victim")
        if victim and st.button("Delete", type="primary", key="qa.delete"):
            state["qa.deleted"] = qa.delete_pair(ctx, store, vectors, victim["uuid"])
            st.rerun()
    with more.popover("Import or extract", icon=":material/upload:"):
        upload = st.file_uploader(
            "CSV with question and answer columns", type=["csv"], key="qa.upload",
            max_upload_size=ui.settings().upload_max_mb,
        )
        if upload and st.button("Import CSV", key="qa.import"):
            run(
                lambda: qa.import_pairs(
                    ctx, store, vectors, embedder, project, upload.name, upload.getvalue()
                )
            )
        if st.button(
            "Extract from the calls", key="qa.extract", help="Customer questions and the agent's answers"
        ):
            run(lambda: qa.extract_from_calls(ctx, store, vectors, embedder, project))
        if st.button("Merge near-duplicates", key="qa.merge"):
            run(lambda: qa.merge_duplicates(ctx, store, vectors, embedder, project))
    with export.popover("Export", icon=":material/download:", disabled=not pairs):
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
    if state.get("qa.deleted"):
        gone = state["qa.deleted"]
        left, right = st.columns([4, 1])
        left.info(f"Deleted: {gone['question'][:80]}")
        if right.button("Undo", icon=":material/undo:", key="qa.undo"):
            qa.create_pair(ctx, store, vectors, embedder, gone["project"], gone["question"], gone["answer"])
            del state["qa.deleted"]
            st.rerun()


def run(action, done: str | None = None) -> None:
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


with ui.connection() as con:
    project_names = (
        [p["name"] for p in projects.list_projects(ctx, con)] if ctx.can("projects:read") else [])
tabs = ["Calls", "Search"] + ["QA pairs"] * ctx.can("qa:read") + ["Datasets"] * ctx.can("datasets:read")
sections = dict(
    zip(
        tabs + ["Import"] * ctx.can("calls:import"),
        st.tabs(tabs + ["Import"] * ctx.can("calls:import")),
        strict=True,
    )
)

with sections["Calls"]:
    a, b, c, d = st.columns([2, 2, 3, 2])
    project = a.selectbox(
        "Project", [None, *project_names], format_func=lambda p: p or "all projects", key="calls.project"
    )
    period = b.date_input("Dates", (date.today() - timedelta(days=180), date.today()), key="calls.period")
    with ui.connection() as con:
        known = [i["intent"] for i in intents.list_intents(ctx, con, project)]
    chosen = c.multiselect("Intents", known, key="calls.intents")
    mood = d.selectbox(
        "Customer sentiment",
        [None, *call_browse.SENTIMENTS],
        key="calls.mood",
        format_func=lambda s: s or "any",
    )
    text = st.text_input("Words in the transcript", key="calls.text", placeholder="e.g. refund")
    since, until = (tuple(period) + (None, None))[:2]
    clicked = state.setdefault("calls.clicked", {})
    filters = call_browse.Filters(
        project=project,
        since=since,
        until=until or since,
        sentiment=mood,
        text=text,
        intents=tuple(chosen) or tuple(clicked.get("intents", ())),
        day=clicked.get("day"),
        week=clicked.get("week"),
        talk_ratio=clicked.get("talk_ratio"),
    )
    try:
        with ui.connection() as con:
            charts = call_browse.call_charts(ctx, con, filters)
            rows = call_browse.find_calls(ctx, con, filters)
    except WorkbenchError as exc:
        st.error(str(exc))
        st.stop()
    if clicked:
        left, right = st.columns([4, 1])
        left.info("Chart filter: " + ", ".join(f"{k.replace('_', ' ')} {v}" for k, v in clicked.items()))
        if right.button("Clear chart filter", icon=":material/filter_alt_off:"):
            state["calls.clicked"] = {}
            st.rerun()

    def chart(fig, key: str, to_filter) -> None:
        fig.update_layout(margin=dict(l=0, r=0, t=30, b=0))
        fig.layout.height = fig.layout.height or 280
        event = st.plotly_chart(fig, key=key, on_select="rerun", selection_mode="points")
        points = event.selection.points if event and event.selection else []
        if points:
            state["calls.clicked"] = clicked | to_filter(points[0])
            st.rerun()

    if not rows:
        st.info(
            "No calls match. Widen the dates or clear a filter"
            + (", or import calls in the Import tab." if ctx.can("calls:import") else ".")
        )
    else:
        one, two = st.columns(2)
        with one:
            chart(
                px.bar(charts["by_day"], x="day", y="calls", title="Calls per day"),
                "calls.c.day",
                lambda p: {"day": date.fromisoformat(str(p["x"])[:10])},
            )
        with two:
            chart(
                px.bar(charts["by_intent"], x="calls", y="intent", orientation="h", title="Intents")
                .update_yaxes(title=None, autorange="reversed", tickmode="linear")
                .update_layout(height=max(280, 22 * len(charts["by_intent"]))),
                "calls.c.intent",
                lambda p: {"intents": (p["y"],)},
            )
        with one:
            chart(
                px.line(
                    charts["sentiment"],
                    x="week",
                    y="sentiment",
                    markers=True,
                    title="Customer sentiment by week",
                ),
                "calls.c.mood",
                lambda p: {"week": date.fromisoformat(str(p["x"])[:10])},
            )
        with two:
            chart(
                px.bar(
                    charts["talk_ratio"], x="low", y="calls", title="Agent share of the words"
                ).update_xaxes(tickformat=".0%", title="agent's share of the words spoken"),
                "calls.c.talk",
                lambda p: {"talk_ratio": (float(p["x"]), float(p["x"]) + 0.1)},
            )
        st.caption(f"{len(rows):,} calls" + (" (the newest 2,000)" if len(rows) == 2000 else ""))
        picked = st.dataframe(
            rows,
            hide_index=True,
            on_select="rerun",
            selection_mode="single-row",
            key="calls.table",
            column_order=[
                "external_id",
                "project",
                "started_at",
                "intent",
                "turns",
                "duration_seconds",
                "talk_ratio",
                "sentiment",
                "resolved",
            ],
        )
        csv_button(rows, "calls", "calls.csv")
        if picked.selection.rows:
            transcript(rows[picked.selection.rows[0]]["uuid"])

with sections["Search"]:
    a, b, c = st.columns([5, 2, 2])
    query = a.text_input(
        "Search what was said", key="calls.query", placeholder="e.g. my parcel never arrived"
    )
    mode = b.radio("Mode", call_search.MODES, horizontal=True, key="calls.mode")
    where = c.selectbox(
        "Project", [None, *project_names], format_func=lambda p: p or "all projects", key="calls.sp"
    )
    if query:
        try:
            hits = call_search.search_utterances(
                ctx, ui.store(), ui.vectors(), ui.embedder(), query, mode=mode, project=where
            )
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
                    + call_search.highlight(hit["content"], hit["terms"]),
                    unsafe_allow_html=True,
                )
                button.button(
                    "Open",
                    key=f"calls.open.{i}",
                    on_click=state.__setitem__,
                    args=("calls.focus", (hit["call_uuid"], hit["id"], hit["terms"])),
                )
            st.caption(f"{len(hits)} utterances" + (", the first 20 shown" if len(hits) > 20 else ""))
            csv_button(hits, "utterance-search", "calls.search.csv")
        with opened:
            if state.get("calls.focus"):
                transcript(*state["calls.focus"])
            elif hits:
                st.info("Open a hit to read its call, the matching utterance marked.")

if "Import" in sections:
    with sections["Import"]:
        st.caption(
            "CSV, JSON or JSONL (a row per call or per utterance), labelled text transcripts or "
            "WebVTT. A file imports whole or not at all; a call imported again is updated."
        )
        with st.form("calls.import", clear_on_submit=True):
            files = st.file_uploader(
                "Call files", type=[f.lstrip(".") for f in transcripts.FORMATS], accept_multiple_files=True,
                max_upload_size=ui.settings().upload_max_mb,
            )
            target = st.selectbox("Into project", project_names)
            go = st.form_submit_button("Import", type="primary")
        if go and files and target:
            bar = st.progress(0.0, text="Importing")
            imported, indexed = calls.import_files(
                ctx, ui.store(), ui.vectors(), ui.embedder(), [(f.name, f.getvalue()) for f in files], target,
                max_mb=ui.settings().upload_max_mb,
                progress=lambda d, n: bar.progress(d / max(n, 1), text=f"Embedded {d}/{n} calls"),
            )
            bar.empty()
            outcomes = []  # kept in the session: the report stays until the next import
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
            state["calls.imported"] = outcomes
        for kind, message, problems in state.get("calls.imported", []):
            (st.success if kind == "ok" else st.error)(message)
            if problems:
                st.dataframe([{"row": r, "problem": t} for r, t in problems], hide_index=True)

if "QA pairs" in sections:
    with sections["QA pairs"]:
        qa_project = st.selectbox("Project", project_names, key="qa.project")
        words = st.text_input("Filter by words", key="qa.text")
        with ui.connection() as con:
            pairs = qa.list_pairs(ctx, con, qa_project, words)
        writable = ctx.can("qa:write")
        if not pairs:
            st.info(
                "No QA pairs in this project yet."
                + (" Add one, import a CSV or extract them from the calls below." if writable else "")
            )
        else:
            edited = st.data_editor(
                pairs,
                hide_index=True,
                key="qa.editor",
                disabled=["occurrences", "source", "call_external_id"] if writable else True,
                column_order=["question", "answer", "occurrences", "source", "call_external_id"],
                column_config={
                    "question": st.column_config.TextColumn(width="large"),
                    "answer": st.column_config.TextColumn(width="large"),
                },
            )
            changed = [
                (old, new)
                for old, new in zip(pairs, edited, strict=True)
                if (old["question"], old["answer"]) != (new["question"], new["answer"])
            ]
            if writable and changed and st.button(f"Save {len(changed)} edited pair(s)", type="primary"):
                try:
                    for old, new in changed:
                        qa.update_pair(
                            ctx,
                            ui.store(),
                            ui.vectors(),
                            ui.embedder(),
                            old["uuid"],
                            new["question"],
                            new["answer"],
                        )
                    st.rerun()
                except WorkbenchError as exc:
                    st.error(str(exc))
            csv_button(pairs, "qa-pairs", "qa.csv")
        if writable:
            qa_tools(qa_project, pairs)

if "Datasets" in sections:
    with sections["Datasets"]:
        with ui.connection() as con:
            sets = datasets.list_datasets(ctx, con)
        if not sets:
            st.info("No dataset yet. Export QA pairs in the QA pairs tab to make one.")
        else:
            picked = st.dataframe(
                sets,
                hide_index=True,
                on_select="rerun",
                selection_mode="single-row",
                key="ds.table",
                column_order=[
                    "name",
                    "project",
                    "source_type",
                    "file_format",
                    "num_rows",
                    "created_by",
                    "created_at",
                ],
            )
            st.caption(f"{len(sets)} datasets · newest: {sets[0]['name']}. Select one to download it.")
            csv_button(sets, "datasets", "ds.csv")
            if picked.selection.rows:
                chosen_set = sets[picked.selection.rows[0]]
                try:
                    with ui.connection() as con:
                        filename, data = datasets.read_dataset(ctx, con, chosen_set["uuid"])
                    st.download_button(f"Download {filename}", data, filename, icon=":material/download:")
                except WorkbenchError as exc:
                    st.error(str(exc))
                if ctx.can("datasets:write"):
                    ui.confirm_delete(
                        f"Unregister {chosen_set['name']} and delete its file",
                        lambda con: datasets.delete_dataset(ctx, con, ui.settings(), chosen_set["uuid"]),
                        key="dataset",
                    )
