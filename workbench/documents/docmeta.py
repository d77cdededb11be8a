"""Automatic document metadata, offline (seed 004's fields): an extractive summary of the most
central sentences, top keywords by TF-IDF, five topic phrases and a content classification."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

from workbench.text import sentences as split_sentences

METHOD = "extractive: TF-IDF sentence centrality, TF-IDF keywords and phrases, lexicon classification"
MARKUP = re.compile(r"^#{1,6}\s+|^\s*[-*+]\s+|^\s*\d+\.\s+|[*_`>|]+", re.MULTILINE)
# seed 004's classes; a document is the class whose words it uses most (general when none stand out)
CLASSES = {
    "technical": "api server install configure configuration error firmware device sensor software "
    "hardware network version protocol update reset troubleshooting setting code system",
    "legal": "policy agreement contract liability law legal terms clause compliance privacy gdpr "
    "regulation warranty rights obligation consent breach jurisdiction",
    "financial": "price pricing invoice payment refund cost fee billing revenue budget tax credit "
    "charge discount subscription plan account",
    "academic": "study research hypothesis experiment results method analysis paper journal abstract "
    "literature theory sample",
    "business": "customer sales market strategy team process service support manager onboarding "
    "partner escalation quarterly target product order delivery shipping",
    "medical": "patient clinical diagnosis treatment symptom medication dose health hospital therapy",
}


@dataclass(frozen=True)
class Metadata:
    summary: str
    keywords: list[str]
    topics: list[str]
    content_type: str
    method: str = METHOD


def sentences(text: str) -> list[str]:
    """Prose sentences of a text (the one splitter, text.sentences), markup removed, table lines,
    rules, headings and fragments under five words dropped."""
    # tables and rules are not prose: drop their lines before joining the rest into sentences
    lines = [line for line in text.splitlines() if "|" not in line and not line.strip().startswith("---")]
    plain = MARKUP.sub("", "\n".join(lines))
    return [s for s in split_sentences(plain) if len(s.split()) >= 5]


def summarize(text: str, max_words: int = 250) -> str:
    """The most central sentences (highest mean TF-IDF cosine to the others), in document order."""
    candidates = sentences(text)
    if len(candidates) <= 2:
        return " ".join(candidates)[: max_words * 8]
    try:
        matrix = TfidfVectorizer(stop_words="english").fit_transform(candidates)
    except ValueError:  # nothing but stop words
        return " ".join(candidates[:2])
    centrality = np.asarray((matrix @ matrix.T).mean(axis=1)).ravel()
    chosen, words = [], 0
    for index in np.argsort(-centrality, kind="stable"):
        length = len(candidates[index].split())
        if words and words + length > max_words:
            break
        chosen.append(index)
        words += length
    return " ".join(candidates[i] for i in sorted(chosen))


def keywords(passages: list[str], top: int = 10, ngrams: tuple[int, int] = (1, 1)) -> list[str]:
    """Terms with the highest summed TF-IDF over the passages (chunks) of one document."""
    passages = [p for p in passages if p.strip()]
    if not passages:
        return []
    try:
        vectorizer = TfidfVectorizer(
            stop_words="english",
            ngram_range=ngrams,
            sublinear_tf=True,
            token_pattern=r"(?u)\b[^\W\d_][\w-]+\b",
        )
        matrix = vectorizer.fit_transform(passages)
    except ValueError:
        return []
    weights = np.asarray(matrix.sum(axis=0)).ravel()
    terms = vectorizer.get_feature_names_out()
    return [str(terms[i]) for i in np.argsort(-weights, kind="stable")[:top]]


def classify(text: str) -> str:
    """seed 004's content classes by lexicon hits per 1000 words; 'general' below a floor."""
    words = [_singular(w) for w in re.findall(r"[a-z]+", text.lower())]
    if not words:
        return "general"
    counts: dict[str, int] = {}
    for word in words:
        counts[word] = counts.get(word, 0) + 1
    scores = {
        name: sum(counts.get(_singular(w), 0) for w in lexicon.split()) * 1000 / len(words)
        for name, lexicon in CLASSES.items()
    }
    best = max(scores, key=scores.__getitem__)
    return best if scores[best] >= 8 else "general"


def _singular(word: str) -> str:
    return word[:-1] if len(word) > 3 and word.endswith("s") and not word.endswith("ss") else word


def describe(text: str, passages: list[str]) -> Metadata:
    """All automatic metadata of one document."""
    return Metadata(
        summary=summarize(text),
        keywords=keywords(passages),
        topics=keywords(passages, top=5, ngrams=(2, 3)),
        content_type=classify(text),
    )
