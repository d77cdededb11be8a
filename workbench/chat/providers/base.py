"""What every provider speaks: the request, its passages, the completion, and the one error."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from workbench.errors import WorkbenchError

if TYPE_CHECKING:
    from workbench.chat.relevance import Ranking

Delta = Callable[[str], None]


@dataclass(frozen=True)
class Passage:
    """One numbered source handed to the provider: cite it as [number]."""

    number: int
    title: str
    text: str
    page_number: int | None = None
    location: str | None = None  # "path/to/file.py:10-42" for code


@dataclass(frozen=True)
class Request:
    question: str
    passages: list[Passage]
    system: str  # rendered system prompt
    prompt: str  # rendered user prompt: passages and question
    max_tokens: int = 700
    temperature: float = 0.1
    ranking: Ranking | None = None  # the passages' sentences scored against the question, when ranked


@dataclass(frozen=True)
class Completion:
    text: str
    provider: str  # as metered: extractive, openai, deepseek, ollama, ...
    model: str
    prompt_tokens: int
    completion_tokens: int
    tokens_estimated: bool  # counted by a tokenizer here, not reported by the provider
    latency_ms: int
    embedding_tokens: int = 0  # the extractive provider's sentence embeddings
    cached_tokens: int = 0  # of the prompt tokens, those the provider served from its cache


class ProviderError(WorkbenchError):
    """The provider could not answer; `status` is metered (error or timeout)."""

    def __init__(self, message: str, status: str = "error") -> None:
        super().__init__(message)
        self.status = status


class Provider(Protocol):
    name: str
    model: str

    def generate(self, request: Request, on_delta: Delta | None = None) -> Completion: ...


def estimate_tokens(text: str) -> int:
    """A tokenizer-free estimate used only when nothing better is at hand (about 4 chars/token)."""
    return max(1, round(len(text) / 4)) if text else 0
