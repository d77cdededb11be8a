"""Answers that hold only what answers the question: the sentence ranking, the extractive answer,
grounding's off-question claims and a confidence that tells right from wrong."""

from __future__ import annotations

import pytest

from workbench import text
from workbench.chat import grounding, relevance
from workbench.chat.providers import Extractive
from workbench.chat.providers.base import Passage
from workbench.search.embed import HashEmbedder

NEWT = [
    Passage(1, "Brannock newt: Behaviour",
            "# Brannock newt: Behaviour\n\n"
            "The Brannock newt is an amphibian of the upland ponds of the north. "
            "Females lay some 55 eggs, usually from July onwards. Males guard a small territory in spring."),
    Passage(2, "Brannock newt",
            "The Brannock newt reaches a length of 15 cm and lives up to 5 years in the wild."),
]
REPLACED = "A phone that does not power on when it arrives is replaced free of charge within 14 days."
KIT = "We send a free trade-in kit with a prepaid label to your address."
PHONE = [
    Passage(1, "Replacements",
            f"{REPLACED} Trade in an eligible phone and we credit its value against your next phone. {KIT}"),
]
PHONE_Q = "Is a phone that arrives broken replaced for free?"


def test_the_sentence_that_states_the_asked_fact_ranks_first_not_the_one_naming_the_subject():
    for embedder in (None, HashEmbedder()):
        ranking = relevance.rank("How many eggs does the Brannock newt lay?", NEWT, embedder)
        assert ranking.best.text == "Females lay some 55 eggs, usually from July onwards."
        assert all("Behaviour" not in s.text for s in ranking.sentences)  # the heading is no sentence


def test_the_ranking_knows_what_kind_of_answer_is_asked():
    assert relevance.asks_for("How many eggs does it lay?") == "number"
    assert relevance.asks_for("In which year was the bridge built?") == "year"
    assert relevance.asks_for("When was it founded?") == "year"
    assert relevance.asks_for("Who designed the headquarters?") is None
    assert text.without("The Brannock newt lays eggs.", frozenset({"brannock", "newt"})).split() == \
        ["The", "lays", "eggs."]


def test_the_extractive_answer_holds_the_answering_sentence_only():
    answer = Extractive().compose(PHONE_Q, PHONE)
    assert answer == REPLACED + " [1]"
    eggs = Extractive(embedder=HashEmbedder()).compose("How many eggs does the Brannock newt lay?", NEWT)
    assert eggs == "Females lay some 55 eggs, usually from July onwards. [1]"


def test_grounding_lists_a_true_sentence_beside_the_question_as_off_question():
    padded = f"{REPLACED} [1] {KIT} [1]"
    ranking = relevance.rank(PHONE_Q, PHONE, HashEmbedder())
    checked = grounding.ground(padded, PHONE, ranking)
    assert checked["verified_claims"] == [REPLACED]
    assert checked["off_question_claims"] == [KIT]
    assert checked["unverified_claims"] == [] and checked["score"] == 0.5
    assert "does not address the question" in checked["evidence"][1]
    # without a ranking (a check that cannot score sentences) both are only checked for support
    assert grounding.ground(padded, PHONE)["score"] == 1.0


def test_confidence_is_higher_when_the_answer_clearly_beats_the_other_passages():
    towns = [
        Passage(1, "Fenholm", "Fenholm has some 5,000 inhabitants and a market every Tuesday morning."),
        Passage(2, "Carnholm", "Carnholm has some 5,000 inhabitants and a market every Tuesday morning."),
    ]
    question = "How many inhabitants does Fenholm have?"
    clear = relevance.rank(question, towns[:1], HashEmbedder())
    tied = relevance.rank("How many inhabitants does the town have?", towns, HashEmbedder())
    assert tied.lead(tied.best) == pytest.approx(0.0)
    assert 0 < tied.confidence() < 0.5 < clear.confidence() < 1
    assert relevance.rank(question, [], HashEmbedder()).confidence() == 0.0
