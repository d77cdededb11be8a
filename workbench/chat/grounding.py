"""Grounding: split an answer into claims and check each against the retrieved text.

A claim is supported when one sentence window (one or two neighbouring sentences) of a source
covers at least `SUPPORT` of the claim's content words and every number the claim states. The
check is lexical and deterministic: it catches invented facts, numbers and names, not subtle
paraphrases of a wrong meaning. A supported claim also has to address the question: the source
sentence it rests on must score near the best sentence the sources hold for the question
(`Ranking.addresses`, workbench.chat.relevance); true but beside the point ("We send a free trade-in kit"
under "Is a phone that arrives broken replaced for free?") it is an off-question claim. The result
has seed 004's shape (score, verified_claims, unverified_claims, evidence) plus
off_question_claims; the score is the share of claims verified and on the question."""

from __future__ import annotations

import re
from dataclasses import dataclass

from workbench.chat.providers import NOT_FOUND, Passage
from workbench.chat.relevance import Ranking, Scored
from workbench.text import content_words, sentences

METHOD = "lexical-support-v2"
SUPPORT = 0.6
_CITE = re.compile(r"\s*\[(\d+)\]")
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")


@dataclass(frozen=True)
class Claim:
    text: str
    cited: tuple[int, ...]


def claims(answer: str) -> list[Claim]:
    """The answer's sentences with the sources each cites; the not-found sentence is no claim."""
    if not answer.strip() or answer.strip() == NOT_FOUND:
        return []
    # citations written after the full stop ("... fee. [2]") belong to the sentence before them
    moved = re.sub(r"([.!?])((?:\s*\[\d+\])+)", r"\2\1", answer)
    out = []
    for sentence in re.split(r"(?<=[.!?])\s+(?=[A-Z0-9\"'(*-])|\n+", moved):
        cited = tuple(int(n) for n in _CITE.findall(sentence))
        text = _CITE.sub("", sentence).strip(" -*")
        if len(content_words(text)) >= 2 or _NUMBER.search(text):  # "The limit is 5." is a claim
            out.append(Claim(text, cited))
    return out


def _windows(passage: Passage) -> list[str]:
    parts = sentences(passage.text) or [passage.text]
    return parts + [a + " " + b for a, b in zip(parts, parts[1:], strict=False)]


def _support(claim: str, window: str) -> float:
    words = content_words(claim)
    if not words:
        return 0.0
    numbers = _numbers(claim)
    if numbers - _numbers(window):
        return 0.0  # a number the source does not state is not supported, however similar the rest
    return len(words & content_words(window)) / len(words)


def _numbers(text: str) -> set[str]:
    """The numbers of a text, thousands separators dropped: "1,000" and "1000" are one number."""
    return {re.sub(r",(?=\d{3}\b)", "", n) for n in _NUMBER.findall(text)}


def answering(claim: str, ranking: Ranking) -> Scored | None:
    """The ranked source sentence `claim` rests on: the one covering most of its words (the better
    scored on a tie); None when no single sentence covers `SUPPORT` of them."""
    best = max(ranking.sentences, key=lambda s: (_support(claim, s.text), s.score), default=None)
    return best if best is not None and _support(claim, best.text) >= SUPPORT else None


def ground(answer: str, passages: list[Passage], ranking: Ranking | None = None) -> dict:
    """Check each claim of `answer` against `passages` (and, given their `ranking`, that it
    addresses the question); seed 004's grounding_evidence."""
    by_number = {p.number: p for p in passages}
    verified, unverified, off_question, evidence = [], [], [], []
    top = ranking.best.score if ranking is not None and ranking.best is not None else None
    for i, claim in enumerate(claims(answer), start=1):
        best = (0.0, None, "")
        for passage in passages:
            for window in _windows(passage):
                support = _support(claim.text, window)
                if support > best[0]:
                    best = (support, passage.number, window)
        support, number, _window = best
        rests_on = answering(claim.text, ranking) if support >= SUPPORT and top is not None else None
        if rests_on is not None and not ranking.addresses(rests_on):
            off_question.append(claim.text)
            evidence.append(
                f"Claim {i} is in Source {rests_on.number} but does not address the question "
                f"(scores {top - rests_on.score:.2f} below the best sentence of the sources)"
            )
        elif support >= SUPPORT and number is not None:
            verified.append(claim.text)
            where = _where(by_number[number])
            cited = ", ".join(map(str, claim.cited))
            note = "" if not claim.cited or number in claim.cited else f" (cited [{cited}])"
            evidence.append(f"Claim {i} verified in Source {number}{where}, support {support:.2f}{note}")
        else:
            unverified.append(claim.text)
            found = f"best support {support:.2f} in Source {number}" if number else "no source matches"
            evidence.append(f"Claim {i} not found in the sources ({found})")
    total = len(verified) + len(unverified) + len(off_question)
    return {
        "score": round(len(verified) / total, 3) if total else 0.0,
        "verified_claims": verified,
        "unverified_claims": unverified,
        "off_question_claims": off_question,
        "evidence": evidence,
        "method": METHOD,
    }


def _where(passage: Passage) -> str:
    if passage.location:
        return f", {passage.location}"
    return f", page {passage.page_number}" if passage.page_number else ""
