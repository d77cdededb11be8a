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

from workbench.chat import relevance
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

__all__ = ["Completion", "Delta", "Passage", "Provider", "ProviderError", "Request", "estimate_tokens",
           "Extractive", "Unavailable", "PROVIDERS", "NOT_FOUND", "make"]

class Extractive:
    """The offline default: the answer is the sentence of the passages that best answers the question
    (see workbench.chat.relevance), cited; a second one only where it answers a part of the question
    the first leaves open, also addresses the question (scores near the first), and comes from the
    same passage (or the question asks two things). Deterministic; no generative model, no network.
    Given the retrieval embedder, sentences are matched by meaning too (so "broken on arrival" finds
    "does not power on"); that embedding is metered."""

    name = "extractive"
    model = "extractive-v2"
    max_sentences = 2

    def __init__(self, count_tokens: Callable[[list[str]], list[int]] | None = None, embedder=None) -> None:
        self.count_tokens = count_tokens or (embedder.count_tokens if embedder is not None else None)
        self.embedder = embedder
        self.embedding_tokens = 0

    def generate(self, request: Request, on_delta: Delta | None = None) -> Completion:
        began = time.perf_counter()
        text = self.compose(request.question, request.passages, request.ranking)
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

    def compose(self, question: str, passages: list[Passage], ranking: relevance.Ranking | None = None
                ) -> str:
        """The answer from `passages`; `ranking` is theirs when the caller has ranked them already."""
        if ranking is None:
            ranking = relevance.rank(question, passages, self.embedder)
            self.embedding_tokens = ranking.embedding_tokens
        # a sentence sharing no word with the question must be close to it in meaning
        eligible = [s for s in ranking.sentences if s.shared or s.meaning >= MEANING_ALONE]
        if not eligible:
            return NOT_FOUND
        best = eligible[0]
        chosen, focus = [best], ranking.focus(best.number)
        answered = set(best.shared) & focus
        two_parts = bool(relevance.TWO_PARTS.search(question))
        for sentence in eligible[1:]:
            if len(chosen) == self.max_sentences:
                break
            new = (set(sentence.shared) & focus) - answered  # a part of the question still open
            near = ranking.addresses(sentence)
            if new and near and (sentence.number == best.number or two_parts):
                chosen.append(sentence)
                answered |= new
        chosen.sort(key=lambda s: (s.number, s.position))
        return " ".join(f"{_end(s.text)} [{s.number}]" for s in chosen)


# a sentence sharing no word with the question counts when its title-free cosine to it is above this
# (on the encyclopedia set, 0.5 left out the answer sentence of 22% of the questions, 0.2 of 3%)
MEANING_ALONE = 0.2
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
