"""Calls search (issue 19): keyword search matches any of the query's content words, ranked by BM25
with the exact phrase first; identical utterances from several calls are one hit with how many calls
said it (keyword and semantic); the marks skip stop words; nothing crosses organisations."""

import re

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, ctx_of
from workbench import home
from workbench.accounts import projects
from workbench.calls import imports as calls
from workbench.calls import search
from workbench.errors import InvalidInput, NotFound

LAB = "Search lab"
CRASHING = [  # six calls, one of them saying it twice: the same words, case and punctuation aside
    "Still crashing on the home screen.",
    "still crashing on the home screen",
    "STILL crashing on the home-screen!",
    "Still crashing, on the home screen...",
    "Still  crashing on the home screen?",
    "still crashing on the HOME screen.",
]
ROWS = [
    ("S-1", "customer", "my screen cracked yesterday"),
    ("S-1", "agent", "Sorry to hear that, let me book a repair."),
    ("S-2", "customer", "The screen is cracked along the top edge of my phone."),
    ("S-2", "agent", "We can replace it under the warranty."),
    *((f"C-{i}", "customer", text) for i, text in enumerate(CRASHING)),
    ("C-0", "customer", "Still crashing on the home screen"),  # said twice in C-0: one call
    ("C-1", "customer", "It is still crashing on the home screen"),  # other words: another hit
    *((f"I-{i}", "customer", f"The invoice for month {i} looks odd.") for i in range(8)),
    ("B-1", "customer", "The battery drains within the hour."),  # longer, and imported last
]


def said(text: str) -> str:
    return " ".join(re.findall(r"[^\W_]+", text.lower()))


def csv_of(rows) -> bytes:
    turns: dict[str, int] = {}
    lines = ["call_id,role,content,index"]
    for call, role, text in rows:
        turns[call] = turns.get(call, -1) + 1
        lines.append(f'{call},{role},"{text}",{turns[call]}')
    return ("\n".join(lines) + "\n").encode()


@pytest.fixture
def wb(demo_copy):
    made = home.Workbench(demo_copy)
    anna = ctx_of(made.store, "anna")
    with made.store.connect() as con:
        projects.create_project(anna, con, LAB)
    calls.import_calls(anna, made, "lab.csv", csv_of(ROWS), LAB)
    calls.index_pending(anna, made, LAB)
    return made


def find(wb, query, user="anna", **options):
    return search.search_utterances(ctx_of(wb.store, user), wb, query, **{"project": LAB, **options})


def test_any_content_word_finds_an_utterance_and_the_exact_phrase_comes_first(wb):
    hits = find(wb, "screen is cracked")
    assert [h["content"] for h in hits[:2]] == [
        "The screen is cracked along the top edge of my phone.",  # the phrase, though longer
        "my screen cracked yesterday",
    ]
    assert hits[0]["phrase"] and not hits[1]["phrase"]
    assert hits[0]["terms"] == ["screen", "cracked"]  # "is" is a stop word
    assert {h["external_id"] for h in hits} >= {"S-1", "S-2", "C-0"}  # "screen" alone is enough
    plural = find(wb, "cracks screens")
    assert {"S-1", "S-2"} <= {h["external_id"] for h in plural}


def test_bm25_ranks_the_rarer_word_above_the_common_one(wb):
    hits = find(wb, "invoice battery")
    assert hits[0]["content"] == "The battery drains within the hour."
    assert all(h["score"] < hits[0]["score"] for h in hits[1:]) and len(hits) == 9


def test_stop_words_alone_are_refused_with_a_message(wb):
    with pytest.raises(InvalidInput, match="only common words"):
        find(wb, "is it the")
    with pytest.raises(InvalidInput, match="Type a word"):
        find(wb, " ?! ")
    assert find(wb, "is it the", mode="semantic")  # meaning needs no keyword


@pytest.mark.parametrize("mode", ["keyword", "semantic"])
def test_identical_utterances_are_one_hit_with_the_calls_that_said_them(wb, mode):
    hits = find(wb, "still crashing on the home screen", mode=mode)
    crashing = [h for h in hits if said(h["content"]) == "still crashing on the home screen"]
    assert len(crashing) == 1 and hits[0] is crashing[0]
    assert any(h["content"] == "It is still crashing on the home screen" for h in hits)
    top = hits[0]
    assert top["calls"] == 6  # C-0 said it twice: one call
    listed = [c["external_id"] for c in top["said_in"]]
    assert len(listed) == search.SHOWN_CALLS == len(set(listed)) and listed[0] == top["external_id"]
    assert set(listed) <= {f"C-{i}" for i in range(6)}
    assert top["said_in"][0]["id"] == top["id"]
    assert [h["calls"] for h in hits[1:]] == [1] * (len(hits) - 1)


def test_another_organisations_utterances_never_appear_nor_count(wb):
    amir = ctx_of(wb.store, "amir")
    with wb.store.connect() as con:
        projects.create_project(amir, con, "Helio lab")
    twin = [("H-1", "customer", "my screen cracked yesterday"), ("H-2", "customer", CRASHING[0])]
    calls.import_calls(amir, wb, "twin.csv", csv_of(twin), "Helio lab")
    calls.index_pending(amir, wb, "Helio lab")
    for mode in search.MODES:
        mine = find(wb, "screen cracked crashing", mode=mode, project=None, k=500)
        said_in = {c["external_id"] for h in mine for c in h["said_in"]}
        assert not any(name.startswith("H-") for name in said_in), mode
        assert next(h for h in mine if h["content"] == "my screen cracked yesterday")["calls"] == 1
        assert next(h for h in mine if said(h["content"]) == said(CRASHING[0]))["calls"] == 6
        theirs = find(wb, "screen cracked crashing", user="amir", mode=mode, project=None, k=500)
        assert {"H-1", "H-2"} <= {h["external_id"] for h in theirs}
        assert not any(c["external_id"][:2] in ("S-", "C-") for h in theirs for c in h["said_in"])
    with pytest.raises(NotFound):
        find(wb, "screen", user="amir")  # anna's project is not amir's to search


def test_highlighting_marks_content_words_and_their_forms_never_stop_words():
    terms = search.terms_of("The screen is cracked")
    assert terms == ["screen", "cracked"]
    assert search.highlight("Is the screen cracked? Screens crack.", terms) == (
        "Is the <mark>screen</mark> <mark>cracked</mark>? <mark>Screens</mark> <mark>crack</mark>."
    )
    assert search.highlight("it is what it is", ["is", "it"]) == "it is what it is"
    assert search.highlight("<b>refund</b>", ["refund"]) == "&lt;b&gt;<mark>refund</mark>&lt;/b&gt;"


def test_the_search_page_shows_how_many_calls_said_it_and_opens_any_of_them(wb, monkeypatch):
    for name, value in {"WORKBENCH_HOME": str(wb.settings.home), "WORKBENCH_LOCK_WAIT_S": "1",
                        "WORKBENCH_EMBEDDING_BACKEND": "hash"}.items():
        monkeypatch.setenv(name, value)
    st.cache_resource.clear()
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
    at.session_state["ctx"] = ctx_of(wb.store, "anna")
    at.run()
    at.switch_page("pages/calls/search.py").run()
    at.selectbox(key="calls.sp").set_value(LAB).run()
    at.text_input(key="calls.query").input("still crashing on the home screen").run()
    assert not at.exception, at.exception
    first = next(m.value for m in at.markdown if "<mark>" in m.value)
    assert "said in 6 calls (also " in first and "and 1 more" in first and "exact phrase" in first
    assert "<mark>on</mark>" not in first and "<mark>the</mark>" not in first
    at.button(key="calls.open.0").click().run()
    picker = next(s for s in at.selectbox if s.label.startswith("Said in 6 calls"))
    other = picker.options[1]
    picker.select_index(1).run()
    assert not at.exception and any(s.value.startswith(f"{other.split(' · ')[0]} ·") for s in at.subheader)
    at.text_input(key="calls.query").input("is the").run()
    assert at.error and "only common words" in at.error[0].value
    st.cache_resource.clear()
