"""How well each of the analytics agent's named queries fits a question.

A question names concepts (calls, intents, sentiment, cost, users, days...; by words, synonyms and
phrases). A query `needs` some of them and answers a few more (`also`). Its score is the share of
its needed concepts the question names, times the share of what the question asks that it answers;
a breakdown or filter the question asks for ("per agent", "which model", "about roaming") weighs
BREAKDOWN_WEIGHT, a word that names nothing the catalogue knows UNKNOWN_WEIGHT. A fifth of the
score is the embedding similarity to the query's description and example questions, so a model
embedder helps with paraphrases but never carries a question that names none of the concepts.
Deterministic with the hash test embedder; scores are 0-1."""

from __future__ import annotations

import re

import numpy as np

from workbench.chat.queries import CATALOGUE, Query
from workbench.search.embed import Embedder
from workbench.text import STOPWORDS, WORD, stem

BREAKDOWN_WEIGHT = 3.0  # "per X", "which X", "about X": the query must break down (or filter) by X
UNKNOWN_WEIGHT = 0.75  # a word that names no concept any query knows
MEANING_WEIGHT = 0.2  # the embedding similarity's share of the score

# concept -> the words that name it (stemmed like the question) ...
CONCEPT_WORDS = {
    "call": "call calls caller callers phone phones",
    "intent": "intent intents topic topics reason reasons category categories subject theme issues",
    "sentiment": "sentiment mood feel feeling feelings happy unhappy angry upset satisfaction satisfied "
    "frustrated tone emotion positive negative",
    "resolved": "resolved resolution resolutions resolve solved fixed fcr outcome outcomes",
    "unresolved": "unresolved unsolved escalated escalation escalations unfixed",
    "duration": "duration durations aht long length lasted minutes",
    "latency": "latency slow slowest slower fast fastest faster speed quick p50 p95 percentile",
    "cost": "cost costs spend spent spending money dollar dollars usd expensive price expense expenses",
    "token": "token tokens",
    "model": "model models provider providers gpt",
    "user": "user users people person member members colleague staff employee who analyst",
    "project": "project projects",
    "conversation": "conversation conversations chat chats session sessions thread",
    "confidence": "confidence confident quality answer answers",
    "document": "document documents doc docs file files pdf upload uploads indexed",
    "status": "status state processing",
    "day": "day days daily date dates trend timeline",
    "count": "count number volume common frequent often busiest busy many",
    "top": "top most highest biggest largest worst best heaviest rank ranking",
    "total": "total overall sum altogether much",
    "average": "average mean typical avg median",
    "rate": "rate share percentage percent ratio proportion fraction",
}
# ... and the phrases, read (and taken out) before the words
CONCEPT_PHRASES = {
    "handle time": ("duration",),
    "handling time": ("duration",),
    "talk time": ("duration",),
    "how long": ("duration",),
    "call length": ("duration", "call"),
    "call duration": ("duration", "call"),
    "response time": ("latency",),
    "response times": ("latency",),
    "over time": ("day",),
    "each day": ("day",),
    "every day": ("day",),
    "day by day": ("day",),
    "not resolved": ("unresolved",),
    "not fixed": ("unresolved",),
    "not solved": ("unresolved",),
    "first call resolution": ("resolved", "call"),
    "first contact resolution": ("resolved", "call"),
    "llm calls": ("llm_call",),
    "llm call": ("llm_call",),
    "model calls": ("llm_call", "model"),
    "api calls": ("llm_call",),
    "llm requests": ("llm_call",),
    "low confidence": ("confidence",),
    "low-confidence": ("confidence",),
    "how many": ("count",),
    "number of": ("count",),
    "how much": ("total",),
    "reason for calling": ("intent", "call"),
    "reasons for calling": ("intent", "call"),
    "why customers call": ("intent", "call"),
    "why people call": ("intent", "call"),
    "call volume": ("call", "count"),
    "token usage": ("token",),
}
# words that ask but name nothing ("show me the...", "LLM cost" is cost)
GENERIC = {
    stem(w)
    for w in (
        "show give list see llm ai customer customers breakdown break down split group grouped chart graph "
        "plot table compare look like let workbench data use used using come came went go make made happen "
        "happened there been had did we us whats what's take took receive received run running last "
        "this past period time were was many much"
    ).split()
}
_WORD_CONCEPT = {stem(w): concept for concept, words in CONCEPT_WORDS.items() for w in words.split()}
_BREAKDOWN = re.compile(
    r"\b(?:per|by|each|every|which|across|about|regarding|for|from|with|among)\s+"
    r"(?:the\s+|a\s+|an\s+|our\s+|each\s+|every\s+)?"
    r"([a-z0-9']+(?:\s+[a-z0-9']+)?)"
)


def concepts_of(question: str) -> tuple[dict[str, float], set[str]]:
    """What the question asks about: concept (or unknown word it breaks down or filters by) ->
    weight, and the other words that name no concept."""
    text = " " + question.lower().replace("\u2019", "'") + " "
    named: dict[str, tuple[str, ...]] = {}  # a phrase, replaced by one placeholder word
    for number, phrase in enumerate(sorted(CONCEPT_PHRASES, key=len, reverse=True)):
        pattern = rf"\b{re.escape(phrase)}\b"
        if re.search(pattern, text):
            named[f"phrase{number}x"] = CONCEPT_PHRASES[phrase]
            text = re.sub(pattern, f" phrase{number}x ", text)

    def concepts(word: str) -> tuple[str, ...]:
        return named.get(word) or ((_WORD_CONCEPT[stem(word)],) if stem(word) in _WORD_CONCEPT else ())

    asked: dict[str, float] = {}
    for found in _BREAKDOWN.finditer(text):
        words = found.group(1).split()
        if known := [c for w in words for c in concepts(w)[:1]]:
            asked[known[0]] = BREAKDOWN_WEIGHT
        elif unknown := [stem(w) for w in words if _meaningful(w)]:
            asked[unknown[-1]] = BREAKDOWN_WEIGHT  # "per customer segment": segment
    unknown = set()
    for word in WORD.findall(text):
        for concept in concepts(word):
            asked.setdefault(concept, 1.0)
        if not concepts(word) and _meaningful(word) and stem(word) not in asked:
            unknown.add(stem(word))
    return asked, unknown


def _meaningful(word: str) -> bool:
    """A word that names something (not "the", "show", "customers", "2026", the "4o" of "gpt-4o")."""
    word = stem(word)
    return word not in STOPWORDS and word not in GENERIC and len(word) > 1 and not re.search(r"\d", word)


def words_score(query: Query, asked: dict[str, float], unknown: set[str]) -> float:
    """0-1: the share of the query's needed concepts the question names, times the (weighted)
    share of what the question asks that the query answers."""
    if not query.needs:
        return 0.0
    answers = set(query.needs) | set(query.also)
    recall = sum(c in asked for c in query.needs) / len(query.needs)
    total = sum(asked.values()) + UNKNOWN_WEIGHT * len(unknown)
    precision = sum(w for c, w in asked.items() if c in answers) / total if total else 0.0
    return recall * precision


_VECTORS: dict[str, list[np.ndarray]] = {}


def _query_vectors(embedder: Embedder) -> list[np.ndarray]:
    """Per query, the vectors of its description and example questions, embedded once per model."""
    if embedder.model_name not in _VECTORS:
        texts = [[f"{q.name.replace('_', ' ')}: {q.description}", *q.examples] for q in CATALOGUE]
        flat = embedder.encode([t for group in texts for t in group])
        out, at = [], 0
        for group in texts:
            out.append(flat[at : at + len(group)])
            at += len(group)
        _VECTORS[embedder.model_name] = out
    return _VECTORS[embedder.model_name]


def scored_queries(question: str, asked_vector: np.ndarray, embedder: Embedder) -> list[tuple[float, Query]]:
    """Every query with its score for the question (period words already taken out), best first."""
    asked, unknown = concepts_of(question)
    scored = []
    for query, vectors in zip(CATALOGUE, _query_vectors(embedder), strict=True):
        meaning = max(0.0, float(np.max(vectors @ asked_vector)))
        words = words_score(query, asked, unknown)
        scored.append((round((1 - MEANING_WEIGHT) * words + MEANING_WEIGHT * meaning, 3), query))
    return sorted(scored, key=lambda s: -s[0])
