"""Intents people can read (issue 19): clusters are named by phrases their customers said, picked
by class TF-IDF and closeness to the cluster's centre; labels are distinct, never stop words alone;
a configured LLM proposes a name only when asked; analysts' labels survive re-clustering."""

import re

import numpy as np
import pytest

from tests.conftest import ctx_of
from tests.fake_openai import fake_openai_fixture  # noqa: F401
from tests.test_chat import Scripted
from workbench import home
from workbench.calls import imports, intents
from workbench.chat import naming, providers
from workbench.errors import InvalidInput, WorkbenchError
from workbench.search.embed import HashEmbedder
from workbench.settings import Settings

SAID = {
    "signal": [
        "Hi, my signal keeps dropping out when I'm at home.",
        "Hello, the signal drops every evening at home and calls fail.",
        "I've got no signal at home, it just drops.",
        "My calls drop when I'm at home, the signal is terrible.",
        "Hi, this is Priya Shah, my signal drops at home all the time.",
        "The signal at home drops after a minute or two.",
        "Since last week the signal drops whenever I'm in my flat.",
        "My phone loses signal at home, calls drop constantly.",
    ],
    "cancel": [
        "Hi, I'd like to cancel my contract please.",
        "I want to cancel my contract, I've found a cheaper deal.",
        "Hello, how do I cancel my contract early?",
        "Hi, this is Tom Baker, I need to cancel my contract.",
        "What's the fee to cancel my contract before it ends?",
        "I'm moving abroad so I want to cancel my contract.",
        "Please cancel my contract at the end of the month.",
    ],
    "roaming": [
        "I was charged for roaming in Spain on holiday.",
        "There are roaming charges on my bill from France.",
        "Why am I paying roaming charges abroad? I thought it was included.",
        "Hello, the roaming charges from my trip are far too high.",
        "I got roaming charges in Italy even though it's in the EU.",
        "Hi, my son ran up roaming charges on a school trip abroad.",
    ],
    "screen": [
        "I dropped my phone and the screen is cracked.",
        "My screen is cracked, can you repair it?",
        "Hi, the screen is cracked and the touch doesn't work.",
        "The screen cracked when it fell, is that covered?",
        "Hello, my daughter's screen is cracked across the middle.",
        "My phone screen is cracked and cutting my finger.",
    ],
}


def named(embedder=None, said=SAID):
    """Name the topics of `said` as clusters (one cluster a topic): (topic -> ClusterName, texts)."""
    topics = list(said)
    texts = [t for topic in topics for t in said[topic]]
    clusters = np.array([i for i, topic in enumerate(topics) for _t in said[topic]])
    vectors = HashEmbedder().encode(texts)
    names = intents.name_clusters(texts, vectors, clusters, embedder)
    return {topic: names[i] for i, topic in enumerate(topics)}


def said_in(label: str, texts: list[str]) -> bool:
    return any(label in " ".join(re.sub(r"[^\w'\s-]", " ", t.lower()).split()) for t in texts)


@pytest.mark.parametrize("embedder", [HashEmbedder(), None], ids=["embedded", "no-embedder"])
def test_each_cluster_is_labelled_by_a_phrase_its_customers_said_and_labels_differ(embedder):
    names = named(embedder)
    for topic, name in names.items():
        assert said_in(name.label, SAID[topic]), (topic, name.label)
        words = name.label.split()
        assert set(words) - intents.CHATTER, f"only stop words: {name.label!r}"
        assert len(set(words)) == len(words), f"repeats a word: {name.label!r}"
        assert name.representative in SAID[topic] and name.phrases
    assert len({n.label for n in names.values()}) == len(names)
    assert {"signal", "drop", "drops", "dropping"} & set(names["signal"].label.split())
    assert "cancel" in names["cancel"].label and "roaming" in names["roaming"].label
    assert "screen" in names["screen"].label or "cracked" in names["screen"].label
    assert 2 <= len(names["cancel"].label.split()) <= 4  # a phrase rather than one word


def test_two_clusters_about_the_same_thing_never_share_a_label():
    halves = {"cancel a": SAID["cancel"][:4], "cancel b": SAID["cancel"][3:], "signal": SAID["signal"]}
    names = named(HashEmbedder(), halves)
    assert len({n.label for n in names.values()}) == 3
    assert all(said_in(n.label, halves[t]) for t, n in names.items())


def test_a_repeated_word_names_and_capitalised_names_never_make_the_label():
    said = {
        "signal": [f"Hi, this is Grace Okafor, signal signal signal drops at home {i}." for i in "abcdef"],
        "cancel": SAID["cancel"],
    }
    names = named(HashEmbedder(), said)
    label = names["signal"].label
    assert "signal signal" not in label and "grace" not in label and "okafor" not in label
    assert said_in(label, said["signal"])


def test_a_cluster_that_says_nothing_but_chatter_still_gets_a_distinct_label():
    said = {"chatter": ["Hi, yes, thanks.", "Okay, thank you.", "Yes please, hello."] * 2,
            "cancel": SAID["cancel"]}
    names = named(HashEmbedder(), said)
    assert names["chatter"].label == "general" and names["chatter"].label != names["cancel"].label


def test_a_configured_llm_proposes_a_name_from_the_phrases_and_utterances():
    llm = Scripted(reply='Label: "Signal drops at home."\n')
    name = named(HashEmbedder())["signal"]
    label, completion = naming.propose_label(llm, list(name.phrases), [name.representative])
    assert label == "Signal drops at home" and completion.provider == "openai"
    [request] = llm.requests
    assert name.phrases[0] in request.prompt and name.representative in request.prompt
    assert "label" in request.system.lower()
    with pytest.raises(InvalidInput):
        naming.propose_label(Scripted(reply="\n\n"), ["signal"], ["no signal"])


def test_the_openai_compatible_provider_speaks_the_naming_request(fake_openai, tmp_path):
    fake_openai.reply = "roaming charges abroad"
    llm = providers.make(Settings(home=tmp_path, llm_provider="openai", llm_base_url=fake_openai.url,
                                  llm_model="gpt-4o-mini", llm_api_key="sk-test"))  # fmt: skip
    label, completion = naming.propose_label(llm, ["roaming charges", "abroad"], SAID["roaming"][:2])
    assert label == "roaming charges abroad" and completion.completion_tokens > 0
    assert "roaming charges" in fake_openai.requests[0]["messages"][1]["content"]


@pytest.fixture
def wb(demo_copy):
    made = home.Workbench(demo_copy)
    assert isinstance(made.embedder, HashEmbedder)  # the test settings' hash backend
    return made


def test_the_demo_calls_get_phrases_and_an_analysts_labels_survive_reclustering(wb):
    store = wb.store
    anna = ctx_of(store, "anna")
    with store.connect() as con:
        project_id = con.execute("SELECT id FROM projects WHERE name = 'Customer care line'").fetchone()[0]
        result = intents.assign(con, wb.vectors, project_id, wb.embedder)
        said = [r[0] for r in con.execute(
            "SELECT content FROM utterances WHERE project_id = ? AND role = 'customer'", [project_id]
        ).fetchall()]  # fmt: skip
        labels = [c["label"] for c in result["clusters"]]
        assert len(labels) == len(set(labels)) >= 2 and all(" / " not in label for label in labels)
        assert all(said_in(label, said) for label in labels)
        assert all(c["representative"] in said for c in result["clusters"])
        found = intents.list_intents(anna, con, "Customer care line")
        assert {i["intent"] for i in found} == set(labels)

        biggest = found[0]
        intents.rename_intent(anna, con, "Customer care line", biggest["intent"], "Line keeps dropping")
        one = con.execute(
            "SELECT uuid::VARCHAR FROM calls WHERE project_id = ? AND intent = ? ORDER BY id LIMIT 1",
            [project_id, found[1]["intent"]],
        ).fetchone()[0]
        intents.set_call_intent(anna, con, one, "Wants a callback")
        again = intents.assign(con, wb.vectors, project_id, wb.embedder)  # a later import re-clusters
        after = {i["intent"]: i for i in intents.list_intents(anna, con, "Customer care line")}
        kept = con.execute(
            "SELECT intent, intent_source FROM calls WHERE uuid::VARCHAR = ?", [one]
        ).fetchone()
    assert after["Line keeps dropping"]["calls"] >= biggest["calls"]  # the renamed calls, and new ones
    assert kept == ("Wants a callback", "analyst") and after["Wants a callback"]["calls"] == 1
    labels = [c["label"] for c in again["clusters"]]
    assert labels.count("Line keeps dropping") == 1 and len(set(labels)) == len(labels)


def test_clustering_holds_no_database_and_keeps_a_label_an_analyst_gave_meanwhile(wb, monkeypatch):
    store = wb.store
    anna = ctx_of(store, "anna")
    with store.connect() as con:
        project_id = con.execute("SELECT id FROM projects WHERE name = 'Customer care line'").fetchone()[0]
        call_ids = [r[0] for r in con.execute("SELECT id FROM calls WHERE project_id = ?",
                                              [project_id]).fetchall()]
        one = con.execute("SELECT uuid::VARCHAR FROM calls WHERE project_id = ? ORDER BY id LIMIT 1",
                          [project_id]).fetchone()[0]
    clustering = intents.cluster

    def meanwhile(opening, embedder=None):  # an analyst labels a call while the import clusters
        with store.connect() as con:
            intents.set_call_intent(anna, con, one, "Wants a callback")
        return clustering(opening, embedder)

    monkeypatch.setattr(intents, "cluster", meanwhile)
    result = imports.index_calls(store, wb.vectors, wb.embedder, call_ids)
    with store.connect() as con:
        kept = con.execute("SELECT intent, intent_source FROM calls WHERE uuid::VARCHAR = ?",
                           [one]).fetchone()
        auto = con.execute("SELECT count(*) FROM calls WHERE project_id = ? AND intent_source = 'auto'",
                           [project_id]).fetchone()[0]
    assert kept == ("Wants a callback", "analyst")
    assert result["intents"][project_id]["calls"] == auto == len(call_ids) - 1


def test_an_intent_keeps_its_phrases_and_example_through_a_rename_and_a_proposal_is_metered(wb):
    store = wb.store
    anna, hannah = ctx_of(store, "anna"), ctx_of(store, "hannah")
    with store.connect() as con:
        project_id = con.execute("SELECT id FROM projects WHERE name = 'Customer care line'").fetchone()[0]
        result = intents.assign(con, wb.vectors, project_id, wb.embedder)
        biggest = result["clusters"][0]
        found = {i["intent"]: i for i in intents.list_intents(anna, con, "Customer care line")}
        assert found[biggest["label"]]["phrases"] == biggest["phrases"] and biggest["phrases"]
        assert found[biggest["label"]]["representative"] == biggest["representative"]

        llm = Scripted(reply="line drops at home")
        before = con.execute("SELECT count(*) FROM llm_calls").fetchone()[0]
        proposed = naming.propose_name(anna, con, llm, "Customer care line", biggest["label"])
        [request] = llm.requests
        assert proposed == "line drops at home" and biggest["phrases"][0] in request.prompt
        assert biggest["representative"] in request.prompt
        metered = con.execute("SELECT operation_type, user_id, project_id FROM llm_calls WHERE id > ("
                              " SELECT max(id) - 1 FROM llm_calls)").fetchall()
        assert con.execute("SELECT count(*) FROM llm_calls").fetchone()[0] == before + 1
        assert metered == [("analysis", anna.user_id, project_id)]
        assert biggest["label"] in {i["intent"] for i in intents.list_intents(anna, con)}  # nothing renamed

        intents.rename_intent(anna, con, "Customer care line", biggest["label"], proposed)
        renamed = {i["intent"]: i for i in intents.list_intents(anna, con, "Customer care line")}[proposed]
        assert renamed["phrases"] == biggest["phrases"] and renamed["source"] == "analyst"
        # another organisation's admin reads none of it, and cannot have a name proposed for it
        assert proposed not in {i["intent"] for i in intents.list_intents(hannah, con)}
        with pytest.raises(WorkbenchError):
            naming.propose_name(hannah, con, llm, "Customer care line", proposed)


def test_a_cluster_of_two_topics_is_named_after_the_larger_one():
    """The demo's case: connection problems with a few app crashes among them were named "app keeps
    crashing", the phrase nearest the plain centre. The centre is now that of the larger half."""
    said = SAID["signal"] + SAID["screen"][:5]
    vectors = HashEmbedder().encode(said)
    cosine = lambda a, b: a @ b / np.linalg.norm(a) / np.linalg.norm(b)  # noqa: E731
    signal = vectors[:8].mean(axis=0)  # where the larger topic is
    assert cosine(intents._main_centre(vectors), signal) > cosine(vectors.mean(axis=0), signal)
    names = intents.name_clusters(said, vectors, np.zeros(len(said), dtype=int), HashEmbedder())
    assert "signal" in names[0].label or "drop" in names[0].label, names[0].label
