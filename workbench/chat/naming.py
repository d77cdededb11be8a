"""A configured language model proposes a name for an intent (a cluster of calls) from its
typical phrases and what its customers said; the call is metered. Nothing is renamed here: the
analyst renames with the proposal (workbench.calls.intents.rename_intent), or not."""

from __future__ import annotations

import re

import duckdb

from workbench.accounts.context import Context
from workbench.calls import intents
from workbench.chat.providers import Completion, Provider, Request
from workbench.errors import InvalidInput
from workbench.usage import metering

SYSTEM = (
    "You name groups of customer calls to a call centre for an analyst. From the phrases typical of "
    "a group and what its customers said, reply with one label of 2 to 5 words that says what these "
    "customers call about, such as 'signal drops at home' or 'cancel contract'. Reply with the label "
    "only: lower case, no quotes, no full stop."
)


def propose_label(provider: Provider, phrases: list[str], utterances: list[str]) -> tuple[str, Completion]:
    """A short label for a cluster proposed by the LLM `provider` from its top phrases and
    representative utterances; returns (label, completion). The provider's ProviderError passes
    through; an answer that is no label (empty, or over 60 characters) raises InvalidInput."""
    lines = "\n".join(f"- {' '.join(u.split())[:300]}" for u in utterances[:8])
    prompt = f"Typical phrases: {'; '.join(phrases[:10])}\n\nWhat customers said:\n{lines}\n\nLabel:"
    completion = provider.generate(
        Request("Name this group of calls.", [], SYSTEM, prompt, max_tokens=24, temperature=0.0)
    )
    first = next((line for line in completion.text.splitlines() if line.strip()), "")
    label = re.sub(r"^\s*(label|intent|name)\s*:\s*", "", first, flags=re.IGNORECASE)
    label = " ".join(label.strip().strip("\"'`*.").split())
    if not label or len(label) > 60:
        raise InvalidInput(f"The model proposed no usable label (1 to 60 characters): {first[:80]!r}.")
    return label, completion


def propose_name(ctx: Context, con: duckdb.DuckDBPyConnection, provider: Provider, project: str,
                 intent: str) -> str:
    """A name for `intent` of `project` proposed by `provider`, metered as an `analysis` call of the
    user in that project."""
    project_id, phrases, said = intents.examples(ctx, con, project, intent)
    label, completion = propose_label(provider, phrases, said)
    metering.record(
        con,
        metering.Call(completion.provider, completion.model, "analysis", completion.prompt_tokens,
                      completion.completion_tokens, estimated=completion.tokens_estimated,
                      latency_ms=completion.latency_ms),
        org_id=ctx.org_id, user_id=ctx.user_id, project_id=project_id,
    )
    return label
