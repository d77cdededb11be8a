"""Answer writers for the chat: the offline `extractive` provider, and OpenAI-compatible
endpoints (OpenAI, DeepSeek, Ollama, vLLM, llama.cpp server) through the official client.

Every provider takes a `Request` (the question, its numbered passages and the rendered prompts)
and returns a `Completion` with the text and its token counts; `on_delta` receives the text as it
streams. Failures raise `ProviderError` with a message a user can act on. The types live in
`base`, which every provider imports; they are named here too, as the package's face."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Mapping

import numpy as np

from workbench.chat.providers.base import (
    Completion,
    Delta,
    Passage,
    Provider,
    ProviderError,
    Request,
    estimate_tokens,
)
from workbench.settings import Settings
from workbench.text import content_words, sentences

__all__ = ["Completion", "Delta", "Passage", "Provider", "ProviderError", "Request", "estimate_tokens",
           "Extractive", "Unavailable", "PROVIDERS", "NOT_FOUND", "make"]

class Extractive:
    """The offline default: the answer is the passages' sentences that best cover the question,
    in source order, each cited. Deterministic; no generative model, no network. Sentences are
    ranked by the words they share with the question and, given the retrieval embedder, by their
    meaning (so "broken on arrival" finds "does not power on"); that embedding is metered."""

    name = "extractive"
    model = "extractive-v1"
    max_sentences = 3
    min_words = 6  # shorter lines are headings or list fragments, not answers

    def __init__(self, count_tokens: Callable[[list[str]], list[int]] | None = None, embedder=None) -> None:
        self.count_tokens = count_tokens or (embedder.count_tokens if embedder is not None else None)
        self.embedder = embedder
        self.embedding_tokens = 0

    def generate(self, request: Request, on_delta: Delta | None = None) -> Completion:
        began = time.perf_counter()
        text = self.compose(request.question, request.passages)
        if on_delta:
            for piece in re.split(r"(?<= )", text):
                on_delta(piece)
        prompt_tokens, completion_tokens = self._count([request.system + "\n" + request.prompt, text])
        return Completion(
            text,
            self.name,
            self.model,
            prompt_tokens,
            completion_tokens,
            True,
            round((time.perf_counter() - began) * 1000),
            self.embedding_tokens,
        )

    def _count(self, texts: list[str]) -> list[int]:
        if self.count_tokens is not None:
            return list(self.count_tokens(texts))
        return [estimate_tokens(t) for t in texts]

    def _meanings(self, question: str, candidates: list[str]) -> list[float]:
        """Cosine of each sentence to the question (zeros without an embedder)."""
        if self.embedder is None or not candidates:
            return [0.0] * len(candidates)
        vectors = self.embedder.encode([question, *candidates])
        self.embedding_tokens = sum(self.embedder.count_tokens([question, *candidates]))
        norms = np.linalg.norm(vectors, axis=1)
        return list(vectors[1:] @ vectors[0] / np.maximum(norms[1:] * norms[0], 1e-9))

    def compose(self, question: str, passages: list[Passage]) -> str:
        asked = content_words(question)
        candidates = [
            (p.number, i, s)
            for p in passages
            for i, s in enumerate(sentences(p.text))
            if len(s.split()) >= self.min_words and not s.isupper()
        ]
        meanings = self._meanings(question, [s for _n, _i, s in candidates])
        weight = 0.65 if self.embedder is not None else 0.0
        scored = []
        for (number, position, sentence), meaning in zip(candidates, meanings, strict=True):
            words = content_words(sentence)
            overlap = len(asked & words)
            if not overlap and meaning < PARAPHRASE:
                continue
            # meaning, coverage of the question, a little precision; earlier (better) sources first
            lexical = overlap / max(1, len(asked)) + 0.1 * overlap / max(1, len(words))
            score = weight * float(meaning) + (1 - weight) * lexical - 0.01 * number
            scored.append((score, number, position, sentence))
        if not scored:
            return NOT_FOUND
        best = sorted(scored, key=lambda s: (-s[0], s[1], s[2]))
        chosen, seen, answered = [], set(), set()  # words of the chosen sentences; question words among them
        for score, number, position, sentence in best:
            words = content_words(sentence)
            if len(chosen) == self.max_sentences:
                break
            new = (words & asked) - answered  # a part of the question no chosen sentence covers yet
            if chosen and (words <= seen or score < (0.5 if new else 0.85) * best[0][0]):
                continue  # repeats what is chosen, or weaker than the best without answering more
            chosen.append((number, position, sentence))
            seen |= words
            answered |= words & asked
        chosen.sort(key=lambda c: (c[0], c[1]))
        return " ".join(f"{_end(sentence)} [{number}]" for number, _pos, sentence in chosen)


PARAPHRASE = 0.5  # cosine above which a sentence sharing no word with the question still counts
NOT_FOUND = "I could not find an answer to this in the documents you can read."


def _end(sentence: str) -> str:
    sentence = sentence[:1].upper() + sentence[1:]
    return sentence if sentence[-1:] in ".!?:" else sentence + "."


class Unavailable:
    """A provider that could not be set up (no key, no model): every call fails with the reason."""

    def __init__(self, name: str, model: str, reason: str) -> None:
        self.name, self.model, self.reason = name, model, reason

    def generate(self, request: Request, on_delta: Delta | None = None) -> Completion:
        raise ProviderError(self.reason)


# --- registry -------------------------------------------------------------------------------
PROVIDERS = ("extractive", "openai")


def make(
    settings: Settings,
    name: str | None = None,
    model: str | None = None,
    secrets: Mapping[str, str] | None = None,
    count_tokens: Callable[[list[str]], list[int]] | None = None,
    embedder=None,
) -> Provider:
    """The provider `name` (default: the settings'), configured from settings, the environment
    and Streamlit secrets. Keys are never read from or written to the database. The extractive
    provider ranks sentences with `embedder` when given."""
    name = name or settings.llm_provider
    if name == "extractive":
        return Extractive(count_tokens, embedder)
    if name == "openai":
        from workbench.chat.providers.openai import OpenAICompatible, endpoint

        base_url, api_key, chosen = endpoint(settings, model, secrets)
        # one retry: with the read timeout of 60 s a dead endpoint still answers within 2 minutes
        return OpenAICompatible(
            base_url,
            api_key,
            chosen,
            timeout_s=settings.llm_timeout_s,
            max_retries=1,
            count_tokens=count_tokens,
        )
    raise ProviderError(f"Unknown provider {name!r}: choose one of {', '.join(PROVIDERS)}.")
