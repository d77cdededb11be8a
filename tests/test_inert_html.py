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
from tests.test_pages import app, calls_table, logged_in  # noqa: F401 - the `app` fixture
from workbench import home, ui
from workbench.accounts import users
from workbench.calls import browse as call_browse
from workbench.calls import imports as calls
from workbench.calls import qa
from workbench.calls import search as call_search
from workbench.documents import ingest
from workbench.search.embed import HashEmbedder
from workbench.sql_console import console as sql_console


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
    wb = home.Workbench(demo_copy)
    calls.import_calls(anna, wb, "xss.json", json.dumps(rows).encode(), "Customer care line")
    return store, demo_copy, anna, alice


def elements(at):
    """Every element of the page (blocks walked through), with its protobuf."""
    stack = [at._tree]
    while stack:
        node = stack.pop()
        if isinstance(node, Block):
            stack.extend(reversed(node.children.values()))
        elif getattr(node, "proto", None) is not None:
            yield node


def html_sinks(at) -> list[str]:
    """The text of every element that renders HTML: markdown allowed to, st.html, iframes."""
    found = []
    for node in elements(at):
        if node.type == "markdown" and node.proto.allow_html or node.type == "html":
            found.append(node.proto.body)
        elif node.type == "iframe":
            found.append(node.proto.srcdoc)
    return found


def shown(at) -> str:
    """Everything the page sent, as text (to check the hostile data was rendered at all)."""
    parts = []
    for node in elements(at):
        parts.append(str(node.proto))
        if node.type == "dataframe" and getattr(node, "value", None) is not None:
            parts.append(node.value.to_csv() if hasattr(node.value, "to_csv") else str(node.value))
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
    at = logged_in(store, "anna", "pages/calls/search.py")
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
    wb = home.Workbench(cfg)
    assert isinstance(wb.embedder, HashEmbedder)  # the test settings' embedder
    name = f"{image('docname')}.md"
    text = f"# {script('doctitle')}\n\nRefunds {image('chunk')} take five working days to reach the card."
    [outcome] = ingest.ingest_files(anna, wb, [(name, text.encode())])
    assert outcome.status == "completed", outcome
    qa.create_pair(anna, wb, "Customer care line", f"Refund {script('qa-q')}?", f"Five days {image('qa-a')}.")
    with store.connect() as con:
        users.add_user(alice, con, "mallory", "mallory@northwind.example", "a-long-password-1", "analyst",
                       full_name=image("fullname"))
        sql_console.save(ctx_of(store, "mallory"), con, script("query"), "SELECT 1 AS one")
        sql_console.save(anna, con, script("query"), "SELECT 1 AS one")

    at = logged_in(store, "anna", "pages/documents/library.py")
    assert_inert(at)
    assert "xss-docname" in shown(at) and "xss-doctitle" in shown(at)
    at.switch_page("pages/documents/search.py").run()
    at.text_input(key="docs.query").input("refunds working days card").run()
    assert_inert(at)
    assert "xss-chunk" in shown(at)

    at = logged_in(store, "anna", "pages/calls/qa.py")
    assert_inert(at)
    assert "xss-qa-q" in shown(at)

    at = logged_in(store, "mallory", "pages/workbench/sql.py")
    assert_inert(at)
    assert "xss-query" in shown(at)
    at = logged_in(store, "mallory")  # home, with the name in the sidebar
    assert_inert(at)
    assert "xss-fullname" in shown(at)
    at = logged_in(store, "mallory", "pages/account/my_account.py")
    assert_inert(at)
    assert "xss-fullname" in shown(at)

    at = logged_in(store, "alice")  # an admin opens every page of the app
    visited = {}
    for page in ui.visible_pages(ctx_of(store, "alice")):
        at.switch_page(page.path).run()
        assert_inert(at)
        visited[page.path] = shown(at)
    assert len(visited) >= 13 and "xss-fullname" in visited["pages/admin/users.py"]



def test_the_calls_page_survives_a_large_import_of_calls_without_intents(app, demo_copy):  # noqa: F811
    """The newest 150 calls have no intent yet (not embedded), the older ones have: the table's CSV
    export must not guess the column types from the first 100 rows."""
    store = app
    rows = [{"call_id": f"bulk-{i}", "transcript": "Agent: Hello.\nCustomer: My parcel is late.",
             "timestamp": "2026-12-01T10:00:00"} for i in range(150)]
    calls.import_calls(ctx_of(store, "anna"), home.Workbench(demo_copy), "bulk.json",
                       json.dumps(rows).encode(), "Customer care line")
    at = logged_in(store, "anna", "pages/calls/browse.py")
    assert not at.exception, at.exception
    assert len(calls_table(at)) > 150


# --- remote images (issue item 5) -----------------------------------------------------------------
# A Markdown image in a document or an answer is fetched by every browser that shows it, with the
# referer: a tracking pixel, and with a remote model an exfiltration channel. Every text from the data
# is rendered through workbench.markup.inert, whose output holds no image a Markdown renderer loads.

PIXEL = "http://evil.example/pixel.png?from="
IMAGES = [
    f"![x]({PIXEL}inline)",
    f"![x]({PIXEL}titled \"a title\")",
    f"![x](<{PIXEL}angle>)",
    f"![a [nested] alt]({PIXEL}nested)",
    f"![multi\nline alt]({PIXEL}multiline)",
    f"![x][ref]\n\n[ref]: {PIXEL}reference",
    f"![Ref]\n\n[ref]: {PIXEL}shortcut",
    f"![ref][]\n\n[ref]: <{PIXEL}collapsed> \"t\"",
    f"[![x]({PIXEL}linked)](http://evil.example/)",
    f"\\\\![x]({PIXEL}escaped-backslash)",
    f"**![x]({PIXEL}bold)**",
    f"- ![x]({PIXEL}list)",
    f"> ![x]({PIXEL}quote)",
    f"| a |\n|---|\n| ![x]({PIXEL}table) |",
    f"<img src=\"{PIXEL}html\">",
    f"<IMG\nSRC='{PIXEL}html-upper'>",
    f"<p>\n<img src={PIXEL}html-block>\n</p>",
    f"text <picture><source srcset=\"{PIXEL}srcset\"></picture>",
    f"<svg><image href=\"{PIXEL}svg\"/></svg>",
    f"<div style=\"background:url({PIXEL}style)\">x</div>",
    f"<video poster='{PIXEL}poster'></video>",
]


def rendered_html(markdown: str) -> str:
    """The HTML a CommonMark renderer (with tables and raw HTML allowed, the worst case) makes of it."""
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark", {"html": True}).enable(["table", "strikethrough"]).render(markdown)


LOADING = {"img", "image", "picture", "source", "video", "audio", "track", "iframe", "frame", "object",
           "embed", "link", "style", "svg", "input", "body", "meta", "base"}


def loads_remote(markdown: str) -> bool:
    """Whether the rendered Markdown holds an element that loads something by itself: an image or
    another fetching element, or any element with a URL in an attribute other than a link's href."""
    from html.parser import HTMLParser

    found = []

    class Elements(HTMLParser):
        def handle_starttag(self, tag, attrs):
            urls = [v for k, v in attrs if v and "evil.example" in v and not (tag == "a" and k == "href")]
            if tag in LOADING or urls:
                found.append(tag)

    Elements().feed(rendered_html(markdown))
    return bool(found)


@pytest.mark.parametrize("payload", IMAGES)
def test_markdown_images_become_inert_text(payload):
    from workbench import markup

    assert loads_remote(payload), "the payload itself loads an image (else the test proves nothing)"
    safe = markup.inert(payload)
    assert not loads_remote(safe), rendered_html(safe)
    assert markup.inert(safe) == safe  # rendering twice changes nothing
    shown = rendered_html(safe)
    assert "evil.example" in shown or "![" in shown  # shown as text (or a link), not dropped


def test_ordinary_markdown_is_left_as_it_is():
    from workbench import markup

    for text in ["Refunds take **five** days [1][2].", "See [the policy](https://example.com/policy).",
                 "Wow! [1]", "a < b and b > c", "`List<String>` and `Map<K, V>`", "# Title\n\n- one\n- two",
                 "```\nif a < b:\n    print(x)\n```", "Call <https://example.com> or <help@example.com>."]:
        assert markup.inert(text) == text


def image_sinks(at) -> list[str]:
    """Every text the page renders as Markdown: markdown and captions, and radio options."""
    found = []
    for node in elements(at):
        if node.type in ("markdown", "caption"):
            found.append(node.proto.body)
        elif node.type == "radio":
            found.extend(str(o) for o in node.options)
    return found


def assert_no_remote_images(at) -> list[str]:
    assert not at.exception, at.exception
    bodies = image_sinks(at)
    for body in bodies:
        assert not loads_remote(body), f"an image from the data would load: {body[:300]!r}"
    return bodies


IMAGE_DOC = f"""# Loyalty points ![logo]({PIXEL}title)

Members earn one loyalty point per euro spent ![x]({PIXEL}doc) at every store.

Gold members earn two loyalty points per euro <img src="{PIXEL}html"> on weekends.

Silver members earn loyalty points per euro ![tracker] on weekdays and ![tr][tracker] on holidays.

Bronze members earn loyalty points per euro [![b]({PIXEL}linked)](http://evil.example/) as well.

[tracker]: {PIXEL}reference
"""
LOYALTY_Q = "How many loyalty points do members earn per euro?"


def test_images_in_documents_and_answers_load_nothing_in_chat_and_search(app, demo_copy):  # noqa: F811
    from tests.test_chat import Scripted
    from workbench.chat import ask as chat
    from workbench.chat import conversations

    store, cfg = app, demo_copy
    anna, wb = ctx_of(store, "anna"), home.Workbench(cfg)
    [outcome] = ingest.ingest_files(anna, wb, [("loyalty.md", IMAGE_DOC.encode())])
    assert outcome.status == "completed", outcome
    with store.connect() as con:
        chunks = " ".join(r[0] for r in con.execute("SELECT content FROM document_chunks").fetchall())
    assert f"![x]({PIXEL}doc)" in chunks and f"[tracker]: {PIXEL}reference" in chunks

    # a model's answer with an image of its own, then the conversation opened in the page
    model = Scripted(reply=f"Members earn one loyalty point per euro ![p]({PIXEL}model). [1]")
    asked = chat.ask(anna, wb, LOYALTY_Q, provider=model)
    assert f"{PIXEL}model" in asked.content
    with store.connect() as con:  # the Markdown export, opened in any Markdown viewer, loads nothing
        exported = conversations.export(anna, con, asked.conversation_uuid)
    assert f"{PIXEL}model" in exported and not loads_remote(exported)
    at = logged_in(store, "anna", "pages/workbench/chat.py")
    at.radio[0].set_value(asked.conversation_uuid).run()
    bodies = assert_no_remote_images(at)
    assert any(f"{PIXEL}model" in b for b in bodies), "the answer is shown, as text"
    assert any(f"{PIXEL}reference" in b for b in bodies), "the source cards are shown, as text"

    # the offline answer, written while the page watches, and its source cards
    at = logged_in(store, "anna", "pages/workbench/chat.py")
    at.chat_input[0].set_value(LOYALTY_Q).run()
    bodies = assert_no_remote_images(at)
    assert any(f"{PIXEL}doc" in b for b in bodies)

    # search hits on the Search documents page
    at = logged_in(store, "anna", "pages/documents/search.py")
    at.text_input(key="docs.query").input("loyalty points per euro members").run()
    bodies = assert_no_remote_images(at)
    assert any(f"{PIXEL}reference" in b for b in bodies)


@pytest.mark.parametrize("payload", IMAGES)
def test_utterance_search_hits_load_no_image(payload):
    """The Calls page renders a hit's highlighted text as Markdown with HTML allowed (for the marks):
    HTML escaping alone leaves Markdown images in it."""
    for terms in ([], ["refund"]):
        assert not loads_remote(call_search.highlight(f"refund {payload} desk", terms))
