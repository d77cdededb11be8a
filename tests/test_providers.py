"""Answer writers: the offline extractive provider, and OpenAI-compatible endpoints exercised against
a scripted chat-completions server on 127.0.0.1 (real HTTP and SSE through the official client)."""

from __future__ import annotations

import socket
import time

import pytest

from tests.fake_openai import FakeOpenAI, fake_openai_fixture  # noqa: F401 - the `fake_openai` fixture
from workbench.chat import providers
from workbench.chat.providers import NOT_FOUND, Extractive, Passage, ProviderError, Request
from workbench.chat.providers.openai import OpenAICompatible, endpoint, provider_label
from workbench.settings import Settings

REQUEST = Request(question="What is the capital of France?",
                  passages=[Passage(1, "France", "Paris is the capital of France.")],
                  system="Answer from the passages and cite them as [n].",
                  prompt="[1] Paris is the capital of France.\n\nQuestion: What is the capital of France?",
                  max_tokens=123, temperature=0.2)


def client(fake: FakeOpenAI, **kwargs) -> OpenAICompatible:
    options = {"timeout_s": 5.0, "max_retries": 0, **kwargs}
    return OpenAICompatible(fake.url, "sk-test", "test-model", **options)


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# --- OpenAI-compatible: answers ---------------------------------------------------------------
def test_deltas_stream_in_order_and_join_to_the_reply(fake_openai):
    fake_openai.reply = "Paris is the capital of France. [1]"
    deltas: list[str] = []
    completion = client(fake_openai).generate(REQUEST, on_delta=deltas.append)
    assert deltas == ["Paris ", "is ", "the ", "capital ", "of ", "France. ", "[1]"]
    assert completion.text == fake_openai.reply


def test_token_counts_come_from_the_servers_usage(fake_openai):
    fake_openai.prompt_tokens, fake_openai.completion_tokens = 321, 17
    completion = client(fake_openai, count_tokens=lambda texts: [999] * len(texts)).generate(REQUEST)
    assert (completion.prompt_tokens, completion.completion_tokens) == (321, 17)
    assert completion.tokens_estimated is False
    assert (completion.provider, completion.model) == ("openai-compatible", "test-model")
    assert completion.latency_ms >= 0


def test_without_usage_tokens_are_counted_here_and_flagged(fake_openai):
    fake_openai.mode = "no_usage"
    counted: list[list[str]] = []

    def count(texts: list[str]) -> list[int]:
        counted.append(texts)
        return [len(t) for t in texts]

    completion = client(fake_openai, count_tokens=count).generate(REQUEST)
    assert counted == [[REQUEST.system + "\n" + REQUEST.prompt, fake_openai.reply]]
    assert completion.prompt_tokens == len(REQUEST.system + "\n" + REQUEST.prompt)
    assert completion.completion_tokens == len(fake_openai.reply)
    assert completion.tokens_estimated is True

    estimated = client(fake_openai).generate(REQUEST)
    assert estimated.completion_tokens == providers.estimate_tokens(fake_openai.reply)
    assert estimated.tokens_estimated is True


def test_the_request_carries_both_prompts_the_model_and_the_key(fake_openai):
    client(fake_openai).generate(REQUEST)
    [sent] = fake_openai.requests
    assert sent["model"] == "test-model"
    assert sent["messages"] == [{"role": "system", "content": REQUEST.system},
                                {"role": "user", "content": REQUEST.prompt}]
    assert (sent["max_tokens"], sent["temperature"]) == (123, 0.2)
    assert sent["stream"] is True and sent["stream_options"] == {"include_usage": True}
    assert fake_openai.authorizations == ["Bearer sk-test"]


# --- OpenAI-compatible: failures a user can act on --------------------------------------------
def test_a_refused_key_says_so(fake_openai):
    fake_openai.mode = "unauthorized"
    with pytest.raises(ProviderError, match=r"refused the API key \(401\)") as caught:
        client(fake_openai).generate(REQUEST)
    assert "WORKBENCH_LLM_API_KEY" in str(caught.value) and caught.value.status == "error"


def test_an_unreachable_endpoint_fails_fast_with_its_address():
    url = f"http://127.0.0.1:{closed_port()}/v1"
    began = time.perf_counter()
    with pytest.raises(ProviderError, match="Cannot reach the model endpoint at " + url):
        OpenAICompatible(url, "sk-test", "test-model", timeout_s=5.0, max_retries=0).generate(REQUEST)
    assert time.perf_counter() - began < 3


def test_a_slow_endpoint_times_out_with_status_timeout(fake_openai):
    fake_openai.mode, fake_openai.delay_s = "slow", 5.0
    began = time.perf_counter()
    with pytest.raises(ProviderError, match="did not answer within 0.5 s") as caught:
        client(fake_openai, timeout_s=0.5).generate(REQUEST)
    assert caught.value.status == "timeout"
    assert time.perf_counter() - began < 3


def test_a_malformed_stream_is_reported_without_a_traceback(fake_openai):
    fake_openai.mode = "malformed"
    deltas: list[str] = []
    with pytest.raises(ProviderError) as caught:
        client(fake_openai).generate(REQUEST, on_delta=deltas.append)
    assert str(caught.value) == "The endpoint sent a response that is not valid chat-completions JSON."
    assert deltas == []


def test_a_server_error_shows_the_status_and_the_servers_message(fake_openai):
    fake_openai.mode = "server_error"
    with pytest.raises(ProviderError, match="500: The server had an error while processing your request"):
        client(fake_openai).generate(REQUEST)


def test_an_unknown_model_is_named(fake_openai):
    fake_openai.mode = "unknown_model"
    with pytest.raises(ProviderError, match="does not know the model test-model"):
        client(fake_openai).generate(REQUEST)


def test_an_empty_answer_is_an_error(fake_openai):
    fake_openai.reply = ""
    with pytest.raises(ProviderError, match="empty answer"):
        client(fake_openai).generate(REQUEST)


def test_an_error_in_on_delta_is_not_mistaken_for_a_bad_response(fake_openai):
    def broken(piece: str) -> None:
        raise KeyError("page state")

    with pytest.raises(KeyError):
        client(fake_openai).generate(REQUEST, on_delta=broken)


# --- configuration ----------------------------------------------------------------------------
def settings_for(tmp_path, **llm) -> Settings:
    return Settings(home=tmp_path, llm_provider="openai", **llm)


def test_a_local_endpoint_needs_no_key(tmp_path):
    cfg = settings_for(tmp_path, llm_base_url="http://localhost:11434/v1/", llm_model="llama3.2")
    assert endpoint(cfg) == ("http://localhost:11434/v1", "not-needed", "llama3.2")


def test_a_remote_endpoint_without_a_key_is_refused(tmp_path):
    cfg = settings_for(tmp_path, llm_base_url="https://api.deepseek.com/v1", llm_model="deepseek-chat")
    with pytest.raises(ProviderError, match=r"No API key for api\.deepseek\.com: set WORKBENCH_LLM_API_KEY"):
        endpoint(cfg)


def test_settings_win_over_secrets_and_secrets_fill_the_gaps(tmp_path):
    secrets = {"WORKBENCH_LLM_BASE_URL": "https://api.mistral.ai/v1", "OPENAI_API_KEY": "sk-secret",
               "WORKBENCH_LLM_MODEL": "mistral-small"}
    assert endpoint(settings_for(tmp_path), secrets=secrets) == (
        "https://api.mistral.ai/v1", "sk-secret", "mistral-small")
    cfg = settings_for(tmp_path, llm_model="gpt-4o-mini", llm_api_key="sk-env")
    assert endpoint(cfg, secrets=secrets) == ("https://api.mistral.ai/v1", "sk-env", "gpt-4o-mini")
    assert endpoint(cfg, model="gpt-4o")[2] == "gpt-4o"
    assert endpoint(cfg)[0] == "https://api.openai.com/v1"


def test_a_missing_model_says_which_setting_to_set(tmp_path):
    with pytest.raises(ProviderError, match="WORKBENCH_LLM_MODEL"):
        endpoint(settings_for(tmp_path, llm_api_key="sk-env"))


@pytest.mark.parametrize(("url", "label"), [
    ("https://api.openai.com/v1", "openai"),
    ("https://api.deepseek.com", "deepseek"),
    ("http://localhost:11434/v1", "ollama"),
    ("http://gpu-box.lan:11434/v1", "ollama"),
    ("https://api.mistral.ai/v1", "mistral"),
    ("https://generativelanguage.googleapis.com/v1beta/openai/", "google"),
    ("http://127.0.0.1:8000/v1", "openai-compatible"),
])
def test_provider_label_names_the_metered_provider(url, label):
    assert provider_label(url) == label


def test_make_builds_the_openai_compatible_provider(tmp_path, fake_openai):
    cfg = settings_for(tmp_path, llm_base_url=fake_openai.url, llm_model="test-model", llm_timeout_s=7.0)
    provider = providers.make(cfg, "openai")
    assert isinstance(provider, OpenAICompatible)
    assert (provider.name, provider.model, provider.timeout_s) == ("openai-compatible", "test-model", 7.0)
    assert provider.generate(REQUEST).text == fake_openai.reply
    assert isinstance(providers.make(cfg, "extractive"), Extractive)


# --- extractive -------------------------------------------------------------------------------
SHOP = [
    Passage(1, "Returns", "Customers may return unworn items within 30 days of delivery. "
                          "Gift cards cannot be exchanged."),
    Passage(2, "Refunds", "Refunds are paid to the original card within 14 days of a return arriving. "
                          "Shipping fees are never refunded."),
]
ASKED = "How many days do I have to return an item, and when is the refund paid?"


def test_extractive_cites_the_passages_it_uses_in_source_order():
    answer = Extractive().compose(ASKED, SHOP)
    assert answer == ("Customers may return unworn items within 30 days of delivery. [1] "
                      "Refunds are paid to the original card within 14 days of a return arriving. [2]")


def test_extractive_is_deterministic_and_streams_its_answer():
    request = Request(ASKED, SHOP, system="s", prompt="p")
    deltas: list[str] = []
    first = Extractive().generate(request, on_delta=deltas.append)
    second = Extractive().generate(Request(ASKED, list(reversed(SHOP)), system="s", prompt="p"))
    assert first.text == second.text == "".join(deltas)
    assert (first.provider, first.tokens_estimated) == ("extractive", True)


def test_extractive_counts_tokens_with_the_given_counter():
    completion = Extractive(lambda texts: [len(t) for t in texts]).generate(
        Request(ASKED, SHOP, system="sys", prompt="prompt"))
    assert completion.prompt_tokens == len("sys\nprompt")
    assert completion.completion_tokens == len(completion.text)


def test_extractive_says_not_found_when_no_passage_shares_a_word():
    assert Extractive().compose("What colour is the sky?", SHOP) == NOT_FOUND
