"""Calls for analysts (issue 5): utterance search by keyword and meaning, intents by clustering with
analyst relabels, filters and charts, QA pairs (by hand, CSV, extracted from calls, near-duplicates
merged, searchable by the chat) and their export as a registered dataset."""

import csv
import io
import json

import pytest

from tests.conftest import ctx_of
from tests.test_chat import Scripted
from workbench import errors, home
from workbench.calls import browse as call_browse
from workbench.calls import datasets, intents, qa
from workbench.calls import imports as calls
from workbench.calls import search as call_search
from workbench.chat import ask as chat
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.search import vectors
from workbench.search.embed import HashEmbedder

DIALOGUE = (
    "call_id,role,content,index\n"
    "Q-1,agent,Thanks for calling Northwind.,0\n"
    "Q-1,customer,How long does a refund take to reach my card?,1\n"
    "Q-1,agent,Refunds reach your card within five working days.,2\n"
    "Q-1,customer,Great thanks that's all.,3\n"
    "Q-2,agent,Northwind support.,0\n"
    "Q-2,customer,how long does a refund take to reach my card ?,1\n"
    "Q-2,agent,About five working days after we approve it.,2\n"
    "Q-2,customer,Can I keep my number if I switch plans?,3\n"
    "Q-2,agent,Yes you keep your number on every plan.,4\n"
    "Q-2,customer,I am not happy.,5\n"
    "Q-2,agent,Sorry.,6\n"
)


@pytest.fixture
def wb(demo_copy):
    made = home.Workbench(demo_copy)
    assert isinstance(made.embedder, HashEmbedder)  # the test settings' hash backend
    return made


def load(wb, data=DIALOGUE, project="Retention desk", user="anna", name="dialogue.csv"):
    ctx = ctx_of(wb.store, user)
    done = calls.import_calls(ctx, wb, name, data.encode(), project)
    calls.index_pending(ctx, wb, project)
    return ctx, done


def count(store, sql, params=()):
    with store.connect() as con:
        return con.execute(sql, list(params)).fetchone()[0]


# --- utterance search --------------------------------------------------------------------------
def test_keyword_search_finds_any_word_phrase_first_within_the_organisation(wb):
    store = wb.store
    ctx, _ = load(wb)
    hits = call_search.search_utterances(ctx, wb, "refund take to reach my card", project="Retention desk")
    # the exact phrase first, said in both calls (case and punctuation aside): one hit
    assert [c["external_id"] for c in hits[0]["said_in"]] == ["Q-1", "Q-2"] and hits[0]["calls"] == 2
    assert hits[0]["phrase"] and not any(h["phrase"] for h in hits[1:])
    wide = call_search.search_utterances(ctx, wb, "refund card")
    assert len(wide) > 2 and all(
        "refund" in h["content"].lower() or "card" in h["content"].lower() for h in wide
    )
    assert "refund" in wide[0]["content"].lower() and "card" in wide[0]["content"].lower()
    assert wide[0]["terms"] == ["refund", "card"]
    marked = call_search.highlight(hits[0]["content"], hits[0]["terms"])
    assert "<mark>refund</mark>" in marked and "<mark>card</mark>" in marked
    assert call_search.highlight("<b>refund</b>", ["refund"]) == "&lt;b&gt;<mark>refund</mark>&lt;/b&gt;"
    helio = call_search.search_utterances(ctx_of(store, "amir"), wb, "reach my card")
    assert all(not h["external_id"].startswith("Q-") for h in helio)  # another tenant's calls
    with pytest.raises(InvalidInput, match="Type a word"):
        call_search.search_utterances(ctx, wb, "  ?! ")


def test_semantic_search_ranks_by_meaning_and_drops_stale_vectors_after_a_reimport(wb):
    store, vecs = wb.store, wb.vectors
    ctx, _ = load(wb)
    hits = call_search.search_utterances(
        ctx,
        wb,
        "keep my number when I switch plans",
        mode="semantic",
        project="Retention desk",
        k=5,
    )
    assert hits[0]["content"] == "Can I keep my number if I switch plans?" and hits[0]["score"] > 0.6
    assert [h["score"] for h in hits] == sorted((h["score"] for h in hits), reverse=True)
    changed = DIALOGUE.replace("Can I keep my number if I switch plans?", "Do you ship abroad?")
    load(wb, changed)
    again = call_search.search_utterances(
        ctx,
        wb,
        "keep my number when I switch plans",
        mode="semantic",
        project="Retention desk",
        k=5,
    )
    assert all("keep my number if" not in h["content"] for h in again)
    ids = {h["id"] for h in again}
    assert count(store, "SELECT count(*) FROM utterances WHERE id IN (SELECT unnest(?))", [list(ids)]) == len(
        ids
    )
    stored = vecs.table(call_search.UTTERANCES).count_rows("org_id = 1")
    assert stored == count(
        store, "SELECT count(*) FROM utterances u JOIN projects p ON p.id = u.project_id WHERE p.org_id = 1"
    )


def test_semantic_search_never_crosses_organisations(wb):
    store = wb.store
    load(wb)
    amir = ctx_of(store, "amir")
    hits = call_search.search_utterances(amir, wb, "refund reach my card", mode="semantic", k=100)
    with store.connect() as con:
        helio_projects = {
            r[0] for r in con.execute("SELECT name FROM projects WHERE org_id = ?", [amir.org_id]).fetchall()
        }
    assert hits and {h["project"] for h in hits} <= helio_projects
    with pytest.raises(NotFound):
        call_search.search_utterances(amir, wb, "refund", project="Retention desk")


# --- intents -----------------------------------------------------------------------------------
def test_demo_calls_get_clustered_intents_and_an_analyst_rename_survives_reclustering(wb):
    store, vecs = wb.store, wb.vectors
    anna = ctx_of(store, "anna")
    with store.connect() as con:
        found = intents.list_intents(anna, con, "Customer care line")
        assert 2 <= len(found) <= intents.MAX_INTENTS and all(i["source"] == "auto" for i in found)
        assert sum(i["calls"] for i in found) == count(
            store,
            "SELECT count(*) FROM calls c JOIN projects p ON p.id = c.project_id WHERE p.name = ?",
            ["Customer care line"],
        )
        biggest = found[0]
        assert (
            intents.rename_intent(anna, con, "Customer care line", biggest["intent"], "Billing questions")
            == (biggest["calls"])
        )
        project_id = con.execute("SELECT id FROM projects WHERE name = 'Customer care line'").fetchone()[0]
        intents.assign(con, vecs, project_id)  # a later import re-clusters
        again = {i["intent"]: i for i in intents.list_intents(anna, con, "Customer care line")}
    assert again["Billing questions"]["calls"] >= biggest["calls"]
    with store.connect() as con, pytest.raises(NotAllowed):
        intents.rename_intent(ctx_of(store, "vera"), con, "Customer care line", "Billing questions", "x")


def test_an_imported_intent_is_kept_and_one_call_can_be_relabelled(wb):
    store = wb.store
    data = (
        'call_id,transcript,metadata\nM-1,"Customer: my bill doubled?\nAgent: I will check.",'
        '"{""intent"": ""billing""}"\n'
    )
    ctx, _ = load(wb, data, name="meta.csv")
    with store.connect() as con:
        row = con.execute(
            "SELECT uuid::VARCHAR, intent, intent_source FROM calls WHERE external_id = 'M-1'"
        ).fetchone()
        assert row[1:] == ("billing", "import")
        intents.set_call_intent(ctx, con, row[0], "  Bill   shock ")
        assert con.execute(
            "SELECT intent, intent_source FROM calls WHERE external_id = 'M-1'"
        ).fetchone() == (
            "Bill shock",
            "analyst",
        )
        with pytest.raises(NotFound):
            intents.set_call_intent(ctx_of(store, "amir"), con, row[0], "mine now")


# --- filters and charts ------------------------------------------------------------------------
def test_filters_narrow_the_table_and_the_charts_agree_with_it(wb):
    store = wb.store
    anna = ctx_of(store, "anna")
    with store.connect() as con:
        everything = call_browse.Filters(project="Customer care line")
        rows = call_browse.find_calls(anna, con, everything)
        charts = call_browse.call_charts(anna, con, everything)
        assert (
            sum(r["calls"] for r in charts["by_day"])
            == len(rows)
            == sum(r["calls"] for r in charts["by_intent"])
        )
        day = charts["by_day"][-1]["day"]
        on_day = call_browse.find_calls(anna, con, call_browse.Filters(project="Customer care line", day=day))
        assert len(on_day) == charts["by_day"][-1]["calls"] and all(
            r["started_at"].date() == day for r in on_day
        )
        negative = call_browse.find_calls(anna, con, call_browse.Filters(sentiment="negative"))
        assert negative and all(r["sentiment"] < -0.05 for r in negative)
        worded = call_browse.find_calls(anna, con, call_browse.Filters(text="refund"))
        assert worded and len(worded) < call_browse.count_calls(anna, con, call_browse.Filters())
        low = charts["talk_ratio"][0]["low"]
        ratio = call_browse.find_calls(
            anna, con, call_browse.Filters(project="Customer care line", talk_ratio=(low, low + 0.1))
        )
        assert len(ratio) == charts["talk_ratio"][0]["calls"]
        call = call_browse.get_call(anna, con, rows[0]["uuid"])
        assert [u["utterance_index"] for u in call["utterances"]] == sorted(
            u["utterance_index"] for u in call["utterances"]
        )
        with pytest.raises(NotFound):
            call_browse.get_call(ctx_of(store, "amir"), con, rows[0]["uuid"])
        with pytest.raises(InvalidInput, match="after the end"):
            call_browse.find_calls(
                anna, con, call_browse.Filters(since=day, until=day.replace(year=day.year - 1))
            )


def test_the_transcript_view_escapes_text_and_marks_the_focused_utterance():
    turns = [
        {"id": 1, "role": "agent", "content": "Hello <script>x</script>", "utterance_index": 0},
        {"id": 2, "role": "customer", "content": "My refund?", "utterance_index": 1, "start_seconds": 3.0},
    ]
    page = call_browse.transcript_html(turns, focus_id=2, terms=["refund"])
    assert "&lt;script&gt;" in page and "<script>x" not in page
    assert 'class="u customer focus" id=focus' in page and "<mark>refund</mark>" in page


# --- QA pairs ----------------------------------------------------------------------------------
def test_extraction_pairs_questions_with_the_agents_answer_and_merges_repeats(wb):
    store = wb.store
    ctx, _ = load(wb)
    before = count(
        store,
        "SELECT count(*) FROM qa_pairs q JOIN projects p ON p.id = q.project_id"
        " WHERE p.name = 'Retention desk'",
    )
    result = qa.extract_from_calls(ctx, wb, "Retention desk")
    with store.connect() as con:
        mine = con.execute(
            "SELECT q.question, q.answer, q.occurrences, c.external_id FROM qa_pairs q"
            " JOIN calls c ON c.id = q.call_id"
            " WHERE c.external_id LIKE 'Q-%' ORDER BY q.id"
        ).fetchall()
    assert mine == [
        (
            "How long does a refund take to reach my card?",
            "Refunds reach your card within five working days.",
            2,
            "Q-1",
        ),
        ("Can I keep my number if I switch plans?", "Yes you keep your number on every plan.", 1, "Q-2"),
    ]  # "I am not happy." is no question; the repeated refund question folded into the first
    assert result["found"] >= 3 and result["merged"] >= 1
    after = count(
        store,
        "SELECT count(*) FROM qa_pairs q JOIN projects p ON p.id = q.project_id"
        " WHERE p.name = 'Retention desk'",
    )
    assert after - before == result["created"]
    again = qa.extract_from_calls(ctx, wb, "Retention desk")
    assert again["created"] == 0  # every question is known now: only the counts grow


def test_merge_duplicates_folds_stored_pairs_into_the_oldest(wb):
    store, vecs = wb.store, wb.vectors
    anna = ctx_of(store, "anna")
    first = qa.create_pair(anna, wb, "Retention desk", "Do you unlock phones?", "Yes, for free.")
    second = qa.create_pair(anna, wb, "Retention desk", "do you unlock phones", "We do.")
    other = qa.create_pair(anna, wb, "Retention desk", "Where is my parcel today?", "Tracking link.")
    result = qa.merge_duplicates(anna, wb, "Retention desk")
    assert result["merged"] >= 1
    with store.connect() as con:
        left = dict(con.execute("SELECT uuid::VARCHAR, occurrences FROM qa_pairs").fetchall())
    assert left[first["uuid"]] == 2 and second["uuid"] not in left and other["uuid"] in left
    assert vecs.count(f"id = '{second['uuid']}'") == 0


def test_pairs_are_edited_deleted_and_kept_to_their_tenant(wb):
    store, vecs = wb.store, wb.vectors
    anna, amir = ctx_of(store, "anna"), ctx_of(store, "amir")
    pair = qa.create_pair(anna, wb, "Retention desk", "Is roaming in Norway included?", "Yes, EU rates.")
    assert vecs.count(f"id = '{pair['uuid']}' AND doc_type = 'qa'") == 1
    with pytest.raises(NotFound):
        qa.update_pair(amir, wb, pair["uuid"], "mine?", "no")
    with pytest.raises(NotAllowed):
        qa.delete_pair(ctx_of(store, "vera"), wb, pair["uuid"])
    with pytest.raises(InvalidInput, match="both a question and an answer"):
        qa.update_pair(anna, wb, pair["uuid"], "still?", "  ")
    qa.update_pair(anna, wb, pair["uuid"], "Is roaming in Norway included?", "Yes, at EEA rates.")
    table = vecs.chunks().search().where(f"id = '{pair['uuid']}'").select(["text"]).limit(5).to_arrow()
    assert table["text"].to_pylist() == [
        "Question: Is roaming in Norway included?\nAnswer: Yes, at EEA rates."
    ]
    with store.connect() as con:
        assert all(p["project"] != "Retention desk" for p in qa.list_pairs(amir, con))
    gone = qa.delete_pair(anna, wb, pair["uuid"])
    assert gone["answer"] == "Yes, at EEA rates." and vecs.count(f"id = '{pair['uuid']}'") == 0
    assert count(store, "SELECT count(*) FROM qa_pairs WHERE uuid::VARCHAR = ?", [pair["uuid"]]) == 0


def test_a_csv_import_is_all_or_nothing_with_row_numbers(wb):
    store = wb.store
    anna = ctx_of(store, "anna")
    before = count(store, "SELECT count(*) FROM qa_pairs")
    bad = b"question,answer\nWhat is eSIM?,A digital SIM.\n,No question here\nWhy?,\n"
    with pytest.raises(errors.ImportReport) as report:
        qa.import_pairs(anna, wb, "Retention desk", "faq.csv", bad)
    assert [row for row, _ in report.value.problems] == [3, 4]
    with pytest.raises(errors.ImportReport, match="question and answer"):
        qa.import_pairs(anna, wb, "Retention desk", "faq.csv", b"q,a\nx,y\n")
    assert count(store, "SELECT count(*) FROM qa_pairs") == before
    good = "question,answer\nWhat is eSIM?,A digital SIM.\nWhat is an eSIM?,Same.\n".encode("utf-8-sig")
    assert qa.import_pairs(anna, wb, "Retention desk", "faq.csv", good)["created"] >= 1


def test_qa_pairs_are_sources_the_chat_cites(wb):
    store, vecs, emb = wb.store, wb.vectors, wb.embedder
    anna = ctx_of(store, "anna")
    pair = qa.create_pair(
        anna,
        wb,
        "Retention desk",
        "Can I pause my Zephyr plan for the winter?",
        "Yes, a Zephyr plan can be paused for up to three months.",
    )
    hits = vectors.search(anna, vecs, emb, "pause Zephyr plan winter", k=3)
    assert hits[0].chunk_id == pair["uuid"] and hits[0].doc_type == "qa"
    answer = chat.ask(
        anna,
        wb,
        "Can I pause my Zephyr plan for the winter?",
        provider=Scripted(reply="Yes, for up to three months. [1]"),
    )
    assert answer.sources[0]["id"] == pair["uuid"] and answer.sources[0]["cited"]
    assert not vectors.search(ctx_of(store, "amir"), vecs, emb, "pause Zephyr plan winter", k=10)[
        0
    ].text.startswith("Question: Can I pause my Zephyr")


def test_export_writes_the_file_and_registers_a_dataset(wb):
    cfg, store = wb.settings, wb.store
    anna = ctx_of(store, "anna")
    with store.connect() as con:
        pairs = qa.list_pairs(anna, con, "Customer care line")
        made = datasets.export_qa(anna, con, cfg, "Customer care line", "jsonl")
        listed = datasets.list_datasets(anna, con)
        assert [json.loads(line) for line in made["data"].decode().splitlines()][0] == {
            "question": pairs[0]["question"],
            "answer": pairs[0]["answer"],
        }
        assert listed[0]["name"] == made["name"] and listed[0]["num_rows"] == len(pairs)
        assert listed[0]["source_type"] == "qa_export" and listed[0]["file_format"] == "jsonl"
        name, data = datasets.read_dataset(anna, con, made["uuid"])
        assert data == made["data"] and name.endswith(".jsonl")
        as_csv = datasets.export_qa(anna, con, cfg, "Customer care line", "csv", name="FAQ for the website")
        rows = list(csv.DictReader(io.StringIO(as_csv["data"].decode())))
        assert len(rows) == len(pairs) and set(rows[0]) == {"question", "answer"}
        with pytest.raises(InvalidInput, match="already exists"):
            datasets.export_qa(anna, con, cfg, "Customer care line", "csv", name="FAQ for the website")
        with pytest.raises(InvalidInput, match="format"):
            datasets.export_qa(anna, con, cfg, "Customer care line", "xlsx")
        assert len(datasets.list_datasets(anna, con)) == 2
        assert datasets.list_datasets(ctx_of(store, "amir"), con) == []
        with pytest.raises(NotFound):
            datasets.read_dataset(ctx_of(store, "amir"), con, made["uuid"])
        with pytest.raises(NotAllowed):
            datasets.export_qa(ctx_of(store, "mike"), con, cfg, "Customer care line")
        datasets.delete_dataset(anna, con, cfg, made["uuid"])
        assert len(datasets.list_datasets(anna, con)) == 1
    assert len(list((cfg.exports_dir).rglob("*.*"))) == 1


def test_a_utf16_qa_csv_from_excel_is_read(wb):
    store = wb.store
    text = "question\tanswer\r\nWo ist mein Paket?\tUnterwegs, heute noch.\r\n"  # Excel's "Unicode text"
    for codec, bom in (("utf-16-le", b"\xff\xfe"), ("utf-16-be", b"\xfe\xff")):
        rows = qa.read_csv("faq.csv", bom + text.encode(codec))
        assert rows == [
            {"question": "Wo ist mein Paket?", "answer": "Unterwegs, heute noch.", "call_id": None}
        ]
    anna = ctx_of(store, "anna")
    data = b"\xff\xfe" + text.encode("utf-16-le")
    made = qa.import_pairs(anna, wb, "Retention desk", "faq.csv", data)
    assert made["created"] == 1
