"""OpenAI-compatible chat endpoints (OpenAI, DeepSeek, Mistral, Ollama, vLLM, llama.cpp server)
through the official `openai` client, streamed, with every failure turned into a `ProviderError`."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Mapping
from urllib.parse import urlsplit

import openai
from openai.types import CompletionUsage

from workbench.chat.providers.base import Completion, Delta, ProviderError, Request, estimate_tokens
from workbench.settings import Settings

DEFAULT_BASE_URL = "https://api.openai.com/v1"
LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})
LABELS = {"api.openai.com": "openai", "api.deepseek.com": "deepseek", "api.mistral.ai": "mistral",
          "generativelanguage.googleapis.com": "google"}
MALFORMED = "The endpoint sent a response that is not valid chat-completions JSON."


def endpoint(settings: Settings, model: str | None = None,
             secrets: Mapping[str, str] | None = None) -> tuple[str, str, str]:
    """(base_url, api_key, model) from settings, then Streamlit secrets, then defaults."""
    secrets = secrets or {}
    base_url = settings.llm_base_url or secrets.get("WORKBENCH_LLM_BASE_URL") or DEFAULT_BASE_URL
    base_url = base_url.rstrip("/")
    host = urlsplit(base_url).hostname or base_url
    chosen = model or settings.llm_model or secrets.get("WORKBENCH_LLM_MODEL")
    if not chosen:
        raise ProviderError(f"No model chosen for {host}: set WORKBENCH_LLM_MODEL in the environment "
                            "or Streamlit secrets.")
    api_key = (settings.llm_api_key or secrets.get("WORKBENCH_LLM_API_KEY")
               or secrets.get("OPENAI_API_KEY") or "")
    if not api_key:
        if host not in LOCAL_HOSTS:
            raise ProviderError(f"No API key for {host}: set WORKBENCH_LLM_API_KEY (or OPENAI_API_KEY) "
                                "in the environment or Streamlit secrets.")
        api_key = "not-needed"  # Ollama, vLLM and llama.cpp accept any key
    return base_url, api_key, chosen


def provider_label(base_url: str) -> str:
    """The provider name as metered, from the endpoint's URL."""
    parts = urlsplit(base_url)
    try:
        port = parts.port
    except ValueError:
        port = None
    if port == 11434:
        return "ollama"
    return LABELS.get(parts.hostname or "", "openai-compatible")


class OpenAICompatible:
    """Any server that speaks the chat-completions API; answers are streamed."""

    def __init__(self, base_url: str, api_key: str, model: str, timeout_s: float = 60.0,
                 max_retries: int = 2, count_tokens: Callable[[list[str]], list[int]] | None = None) -> None:
        self.name = provider_label(base_url)
        self.model = model
        self.base_url = base_url
        self.timeout_s = timeout_s
        self.count_tokens = count_tokens
        self.client = openai.OpenAI(base_url=base_url, api_key=api_key or "not-needed", timeout=timeout_s,
                                    max_retries=max_retries)

    def generate(self, request: Request, on_delta: Delta | None = None) -> Completion:
        began = time.perf_counter()
        messages = [{"role": "system", "content": request.system},
                    {"role": "user", "content": request.prompt}]
        pieces: list[str] = []
        usage: CompletionUsage | None = None
        try:
            stream = self.client.chat.completions.create(
                model=self.model, messages=messages, max_tokens=request.max_tokens,  # type: ignore[arg-type]
                temperature=request.temperature, stream=True, stream_options={"include_usage": True})
            with stream:
                for piece, chunk_usage in _chunks(stream):
                    usage = chunk_usage or usage
                    if piece:
                        pieces.append(piece)
                        if on_delta:
                            on_delta(piece)
        except openai.OpenAIError as err:
            explained = self._explain(err)
            # a server may echo the key in its error text: mask it, and chain nothing that holds it
            key = self.client.api_key
            if key and len(key) >= 8 and (key in str(explained) or key in str(err)):
                raise ProviderError(str(explained).replace(key, "***"), explained.status) from None
            raise explained from err
        text = "".join(pieces)
        if not text.strip():
            raise ProviderError(f"The model {self.model} sent an empty answer; try again or another model.")
        if usage is not None and usage.prompt_tokens is not None and usage.completion_tokens is not None:
            prompt_tokens, completion_tokens, estimated = usage.prompt_tokens, usage.completion_tokens, False
        else:
            prompt_tokens, completion_tokens = self._count([request.system + "\n" + request.prompt, text])
            estimated = True
        details = getattr(usage, "prompt_tokens_details", None)
        cached = int(getattr(details, "cached_tokens", 0) or 0)  # OpenAI's prompt caching, billed lower
        return Completion(text, self.name, self.model, prompt_tokens, completion_tokens, estimated,
                          round((time.perf_counter() - began) * 1000), cached_tokens=cached)

    def _count(self, texts: list[str]) -> list[int]:
        if self.count_tokens is not None:
            return list(self.count_tokens(texts))
        return [estimate_tokens(t) for t in texts]

    def _explain(self, err: openai.OpenAIError) -> ProviderError:
        """A message the user can act on; the order matters (timeouts are connection errors)."""
        if isinstance(err, openai.APITimeoutError):
            return ProviderError(f"The model endpoint at {self.base_url} did not answer within "
                                 f"{self.timeout_s:g} s.", status="timeout")
        if isinstance(err, openai.APIConnectionError):
            return ProviderError(f"Cannot reach the model endpoint at {self.base_url}: is it running?")
        if isinstance(err, openai.AuthenticationError | openai.PermissionDeniedError):
            return ProviderError(f"The endpoint refused the API key ({err.status_code}): check "
                                 "WORKBENCH_LLM_API_KEY (or OPENAI_API_KEY).")
        if isinstance(err, openai.NotFoundError):
            return ProviderError(f"The endpoint does not know the model {self.model}.")
        if isinstance(err, openai.RateLimitError):
            return ProviderError("The endpoint is rate-limiting requests (429): wait a moment and try again, "
                                 f"or check the account's quota. {_server_message(err)}".rstrip())
        if isinstance(err, openai.APIStatusError):
            return ProviderError(f"The endpoint answered {err.status_code}: {_server_message(err)}")
        if isinstance(err, openai.APIResponseValidationError):
            return ProviderError(MALFORMED)
        if isinstance(err, openai.APIError):  # an error event inside the stream
            return ProviderError(f"The endpoint reported an error: {err.message[:200]}")
        return ProviderError(MALFORMED)


def _chunks(stream: Iterator) -> Iterator[tuple[str, CompletionUsage | None]]:
    """(content piece, usage or None) per chunk; a chunk that cannot be read is a malformed response.
    Errors raised by the caller while it handles a piece are not caught here."""
    try:
        for chunk in stream:
            choices = chunk.choices
            delta = choices[0].delta if choices else None
            yield (delta.content or "") if delta is not None else "", chunk.usage
    except openai.OpenAIError:
        raise
    except Exception as err:
        raise ProviderError(MALFORMED) from err


def _server_message(err: openai.APIStatusError) -> str:
    """The server's own explanation, trimmed: OpenAI-style `error.message`, else the raw body."""
    body = err.body
    message = body.get("message") if isinstance(body, Mapping) else None
    if not isinstance(message, str) or not message:
        try:
            message = err.response.text
        except Exception:
            message = ""
    return " ".join(message.split())[:200]
