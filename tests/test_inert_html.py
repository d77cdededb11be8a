"""HTML and script in the data stay inert in every page: a transcript utterance and call id, a document's
title, name and text, a QA pair, a user's full name and a saved query's name, each carrying a script
or an onerror image, are rendered through AppTest, and no raw tag reaches an element that renders
HTML (markdown with unsafe_allow_html, st.html, the transcript iframe). And a bulk import leaves the
Calls page working."""

from __future__ import annotations

import json

import pytest
from streamlit.testing.v1.element_tree import Block

from tests.conftest import ctx_of
from tests.test_pages import app, logged_in  # noqa: F401 - the `app` fixture
from workbench import call_browse, call_search, calls, home, ingest, qa, sql_console, ui, users
from workbench.embed import HashEmbedder


def script(where: str) -> str:
    return f"<script>alert('xss-{where}')</script>"


def image(where: str) -> str:
    return f"<img src=x onerror=alert('xss-{where}')>"


PLACES = ["callid", "utterance", "utterance2", "docname", "doctitle", "chunk", "qa-q", "qa-a", "fullname",
          "query"]
RAW = [p(w) for w in PLACES for p in (script, image)]


@pytest.fixture
def hostile(app, demo_copy):  # noqa: F811
    """The demo with a hostile call in it (the other hostile data is added by the test that needs it)."""
    store = app
    anna, alice = ctx_of(store, "anna"), ctx_of(store, "alice")
    rows = [{"call_id": image("callid"), "transcript": f"Agent: Hello, {script('utterance')} refund desk.\n"
             f"Customer: I want my refund {image('utterance2')} today."}]
    calls.import_calls(anna, store, "xss.json", json.dumps(rows).encode(), "Customer care line")
    return store, demo_copy, anna, alice


def html_sinks(at) -> list[str]:
    """The text of every element that renders HTML: markdown allowed to, st.html, iframes."""
    found = []

    def walk(node):
        if isinstance(node, Block):
            for child in node.children.values():
                walk(child)
            return
        proto = getattr(node, "proto", None)
        if node.type == "markdown" and proto is not None and proto.allow_html:
            found.append(proto.body)
        elif node.type == "html" and proto is not None:
            found.append(proto.body)
        elif node.type == "iframe" and proto is not None:
            found.append(proto.srcdoc)

    walk(at._tree)
    return found


def shown(at) -> str:
    """Everything the page sent, as text (to check the hostile data was rendered at all)."""
    parts = []

    def walk(node):
        if isinstance(node, Block):
            for child in node.children.values():
                walk(child)
        elif getattr(node, "proto", None) is not None:
            parts.append(str(node.proto))
        if node.type == "dataframe" and getattr(node, "value", None) is not None:
            parts.append(node.value.to_csv() if hasattr(node.value, "to_csv") else str(node.value))

    walk(at._tree)
    return "\n".join(parts)


def assert_inert(at) -> None:
    assert not at.exception, at.exception
    for body in html_sinks(at):
        for raw in RAW:
            assert raw not in body, f"raw HTML from the data reached an HTML element: {raw}"
        assert "<script>alert" not in body and "onerror=" not in body.replace("onerror=alert", "")


def test_transcripts_escape_every_text_from_the_data():
    utterances = [{"id": 1, "role": "<b>agent</b>", "utterance_index": 0, "content": script("utterance"),
                   "start_seconds": None, "sentiment": None}]
    page = call_browse.transcript_html(utterances, 1, ["alert", "<script>"])
    assert script("utterance") not in page and "&lt;script&gt;" in page and "<b>agent" not in page
    marked = call_search.highlight(image("x"), ["src"])
    assert marked == "&lt;img <mark>src</mark>=x onerror=alert(&#x27;xss-x&#x27;)&gt;"


def test_a_hostile_call_is_inert_in_search_hits_and_the_transcript(hostile):
    store, _cfg, _anna, _alice = hostile
    at = logged_in(store, "anna", "pages/calls.py")
    at.text_input(key="calls.query").input("refund desk").run()
    hits = [b for b in html_sinks(at) if "<mark>" in b]
    assert hits and any("xss-callid" in h and "xss-utterance" in h for h in hits), hits
    assert_inert(at)
    opened = next(i for i in range(20) if "xss-callid" in hits[i])
    at.button(key=f"calls.open.{opened}").click().run()
    transcript = [b for b in html_sinks(at) if "xss-utterance2" in b]
    assert transcript, "the transcript iframe shows the call"
    assert_inert(at)
    assert any("xss-callid" in s.value for s in at.subheader)  # plain markdown: shown as text


def test_a_hostile_document_qa_pair_name_and_query_are_inert_on_every_page(hostile):
    store, cfg, anna, alice = hostile
    vectors = home.open_vectors(cfg)
    name = f"{image('docname')}.md"
    text = f"# {script('doctitle')}\n\nRefunds {image('chunk')} take five working days to reach the card."
    [outcome] = ingest.ingest_files(anna, cfg, store, vectors, HashEmbedder(), [(name, text.encode())])
    assert outcome.status == "completed", outcome
    qa.create_pair(anna, store, vectors, HashEmbedder(), "Customer care line", f"Refund {script('qa-q')}?",
                   f"Five days {image('qa-a')}.")
    with store.connect() as con:
        users.add_user(alice, con, "mallory", "mallory@northwind.example", "a-long-password-1", "analyst",
                       full_name=image("fullname"))
        sql_console.save(ctx_of(store, "mallory"), con, script("query"), "SELECT 1 AS one")
        sql_console.save(anna, con, script("query"), "SELECT 1 AS one")

    at = logged_in(store, "anna", "pages/documents.py")
    assert_inert(at)
    assert "xss-docname" in shown(at) and "xss-doctitle" in shown(at)
    at.text_input(key="docs.query").input("refunds working days card").run()
    assert_inert(at)
    assert "xss-chunk" in shown(at)

    at = logged_in(store, "anna", "pages/calls.py")
    assert_inert(at)
    assert "xss-qa-q" in shown(at)

    at = logged_in(store, "mallory", "pages/sql.py")
    assert_inert(at)
    assert "xss-query" in shown(at)
    at = logged_in(store, "mallory")  # home, with the name in the sidebar
    assert_inert(at)
    assert "xss-fullname" in shown(at)
    at = logged_in(store, "mallory", "pages/account.py")
    assert_inert(at)
    assert "xss-fullname" in shown(at)

    at = logged_in(store, "alice")  # an admin opens every page of the app
    visited = {}
    for page in ui.visible_pages(ctx_of(store, "alice")):
        at.switch_page(page.path).run()
        assert_inert(at)
        visited[page.path] = shown(at)
    assert len(visited) >= 13 and "xss-fullname" in visited["pages/users.py"]



def test_the_calls_page_survives_a_large_import_of_calls_without_intents(app):  # noqa: F811
    """The newest 150 calls have no intent yet (not embedded), the older ones have: the table's CSV
    export must not guess the column types from the first 100 rows."""
    store = app
    rows = [{"call_id": f"bulk-{i}", "transcript": "Agent: Hello.\nCustomer: My parcel is late.",
             "timestamp": "2026-12-01T10:00:00"} for i in range(150)]
    calls.import_calls(ctx_of(store, "anna"), store, "bulk.json", json.dumps(rows).encode(),
                       "Customer care line")
    at = logged_in(store, "anna", "pages/calls.py")
    assert not at.exception, at.exception
    assert len(at.dataframe[0].value) > 150
