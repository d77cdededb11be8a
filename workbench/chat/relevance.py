"""How well each sentence of the passages answers the question. The extractive answer is made of the
best ones; grounding flags the claims that rest on a sentence far below the best (true, but not
what was asked); confidence reads how clearly the best sentence wins over other passages.

A sentence's score adds four measures; the weights were measured on bench/answer_eval.py's
encyclopedia set (400 questions with their answer sentences):

    meaning   cosine of the question and the sentence, each with its passage title's words taken
              out: the subject both name says nothing about *what* is asked ("How many eggs does
              the Brannock newt lay?" is about eggs, not about the newt)
    focus     the share of the question's words, the title's aside, that the sentence holds
    passage   the passage's retrieval relevance (the ranking already chose the likely paragraph)
    kind      a question asking "how many" or "when" gets sentences with a number or a year

Without an embedder (tests, a provider's fallback) meaning is left out and focus weighs it all."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from workbench.text import SENTENCE, content_words, sentences, without

if TYPE_CHECKING:
    from workbench.chat.providers.base import Passage
    from workbench.search.embed import Embedder

MEANING, PASSAGE, KIND = 0.65, 1.0, 0.2  # focus weighs the rest: 0.35, or all of it without an embedder
MIN_WORDS = 6  # shorter lines are headings or list fragments, not answers
# a sentence addresses the question when it scores within this of the best sentence of the sources;
# the grounding check on the encyclopedia set's answers of the old composer flags 68% of their padding
# sentences (471 of 689) and 6% of their right ones (14 of 237)
OFF_QUESTION = 0.12
OFF_QUESTION_TWO_PARTS = 0.25  # a question asking two things: each part's answer scores lower on the whole
# confidence: the chance that the best sentence answers the question, from its score and its lead
# over the best sentence of any other passage; logistic fit on the encyclopedia set (5-fold AUROC 0.78)
SLOPE_SCORE, SLOPE_LEAD, INTERCEPT = 1.06, 6.23, -1.46

_NUMBER = re.compile(r"\d")
_YEAR = re.compile(r"\b(1[0-9]{3}|20[0-9]{2})\b")
_ASKS_NUMBER = re.compile(
    r"\bhow (many|much|long|high|tall|deep|wide|large|big|heavy|old|far|often)\b"
    r"|\bwhat (is the )?(number|length|height|population|size|area|depth|weight|age|price|fee|cost)\b"
)
_ASKS_YEAR = re.compile(r"\b(when|what year|which year|what date|which century|what century)\b")
# "How many days ..., and when is the refund paid?": two things asked, maybe answered in two places
TWO_PARTS = re.compile(r",? and (when|where|who|what|which|how|in which|in what|is|are|does|do|can)\b|\?.+\?",
                       re.IGNORECASE)


@dataclass(frozen=True)
class Scored:
    """One sentence of a passage, scored against the question."""

    number: int  # the passage's
    position: int  # the sentence's place in its passage
    text: str
    score: float
    meaning: float  # title-free cosine to the question (0 without an embedder)
    shared: frozenset[str]  # the question's content words it holds, the title's included


@dataclass
class Ranking:
    """Every sentence of the passages, best first, and the embedding it cost."""

    question: str
    sentences: list[Scored]
    embedding_tokens: int = 0
    embedding_ms: int = 0
    topics: dict[int, frozenset[str]] = field(default_factory=dict)  # each passage's title words

    @property
    def best(self) -> Scored | None:
        return self.sentences[0] if self.sentences else None

    def lead(self, sentence: Scored) -> float:
        """How far `sentence` scores above the best sentence of any other passage (its whole score
        when no other passage has one)."""
        other = next((s for s in self.sentences if s.number != sentence.number), None)
        return sentence.score - (other.score if other else 0.0)

    def confidence(self, sentence: Scored | None = None) -> float:
        """0-1: the chance that `sentence` (the best one by default) answers the question."""
        sentence = sentence or self.best
        if sentence is None:
            return 0.0
        x = SLOPE_SCORE * sentence.score + SLOPE_LEAD * self.lead(sentence) + INTERCEPT
        return 1.0 / (1.0 + math.exp(-x))

    def addresses(self, sentence: Scored) -> bool:
        """Whether `sentence` answers the question (near the best sentence), or is beside it."""
        if self.best is None:
            return False
        gap = OFF_QUESTION_TWO_PARTS if TWO_PARTS.search(self.question) else OFF_QUESTION
        return self.best.score - sentence.score <= gap

    def focus(self, number: int) -> set[str]:
        """The question's words that ask something of passage `number`: its title's taken out."""
        return content_words(self.question) - self.topics.get(number, frozenset())


def asks_for(question: str) -> str | None:
    """"number" or "year" when the question asks for one, else None."""
    lowered = question.lower()
    if _ASKS_NUMBER.search(lowered):
        return "number"
    return "year" if _ASKS_YEAR.search(lowered) else None


def prose(text: str) -> list[str]:
    """A passage's sentences that can answer: headings and short fragments left out."""
    out = []
    for part in SENTENCE.split(text):
        if part.lstrip().startswith("#"):
            continue
        out += [s for s in sentences(part) if len(s.split()) >= MIN_WORDS and not s.isupper()]
    return out


def rank(question: str, passages: list[Passage], embedder: Embedder | None = None) -> Ranking:
    """Score every sentence of `passages` against `question`, best first (ties: earlier passage,
    earlier sentence)."""
    asked = content_words(question)
    topics = {p.number: frozenset(content_words(p.title or "")) for p in passages}
    found = [(p, i, s) for p in passages for i, s in enumerate(prose(p.text))]
    ranking = Ranking(question, [], topics=topics)
    if not found:
        return ranking
    meanings = np.zeros(len(found))
    if embedder is not None:
        began = time.perf_counter()
        asks = [without(question, topics[p.number]) for p, _i, _s in found]
        says = [without(s, topics[p.number]) for p, _i, s in found]
        texts = list(dict.fromkeys(asks + says))  # each text once (one question per title)
        vectors = np.asarray(embedder.encode(texts), dtype=np.float32)
        vectors /= np.maximum(np.linalg.norm(vectors, axis=1), 1e-9)[:, None]
        at = {text: i for i, text in enumerate(texts)}
        meanings = np.sum(vectors[[at[t] for t in asks]] * vectors[[at[t] for t in says]], axis=1)
        ranking.embedding_tokens = sum(embedder.count_tokens(texts))
        ranking.embedding_ms = round((time.perf_counter() - began) * 1000)
    weight = MEANING if embedder is not None else 0.0
    kind = asks_for(question)
    scored = []
    for (p, i, s), meaning in zip(found, meanings, strict=True):
        words = content_words(s)
        focus = asked - topics[p.number]
        covered = len(focus & words) / len(focus) if focus else 0.0
        fits = kind is not None and bool((_YEAR if kind == "year" else _NUMBER).search(s))
        score = (weight * float(meaning) + (1 - weight) * covered + KIND * fits
                 + PASSAGE * getattr(p, "relevance", 1.0))
        scored.append(Scored(p.number, i, s, round(score, 6), float(meaning), frozenset(asked & words)))
    ranking.sentences = sorted(scored, key=lambda s: (-s.score, s.number, s.position))
    return ranking
