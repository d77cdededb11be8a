"""CLI commands for the chat: ask, and conversations list/show/export/rename/delete."""

from __future__ import annotations

import sys

import click

from workbench import home
from workbench.chat import conversations
from workbench.chat.prompts import AGENT_TYPES
from workbench.chat.providers import PROVIDERS
from workbench.cli.common import (
    acting,
    as_option,
    context_of,
    emit,
    json_option,
    load_settings,
    reading,
    workbench,
)


@click.command("ask")
@click.argument("question")
@as_option
@click.option(
    "--agent", "agent_type", type=click.Choice(AGENT_TYPES), help="Default: the conversation's, or rag."
)
@click.option("--docs", "document_uuids", multiple=True, help="Only these documents (repeatable).")
@click.option("--conversation", "conversation_uuid", help="Continue this conversation (default: a new one).")
@click.option(
    "--provider", "provider_name", type=click.Choice(PROVIDERS), help="Default: WORKBENCH_LLM_PROVIDER."
)
@click.option("--model", help="Model name for the OpenAI-compatible provider.")
@json_option
def ask_command(
    question, as_user, agent_type, document_uuids, conversation_uuid, provider_name, model, as_json
) -> None:
    """Ask a question: the answer with its sources, confidence and grounding."""
    from workbench.chat import ask as chat

    stream = None if as_json else (lambda piece: click.echo(piece, nl=False))
    answer = chat.ask(
        context_of(as_user),
        workbench(),
        question,
        conversation_uuid=conversation_uuid,
        agent_type=agent_type,
        provider_name=provider_name,
        model=model,
        document_uuids=list(document_uuids) or None,
        on_delta=stream,
    )
    if as_json:
        emit(answer.to_dict(), True, "")
        return
    click.echo("\n")
    for s in answer.sources:
        where = s.get("location") or (f"p.{s['page_number']}" if s.get("page_number") else "")
        mark = "*" if s.get("cited") else " "
        click.echo(f"{mark}[{s['number']}] {s['title']} {where}  relevance {s['relevance_score']:.2f}")
    if answer.table:
        click.echo(f"\n{answer.table['sql']}")
    warn = "  LOW CONFIDENCE" if answer.low_confidence else ""
    grounded = f", grounding {answer.grounding['score']:.2f}" if answer.grounding else ""
    cost = "unpriced" if answer.cost_usd is None else f"${answer.cost_usd:.6f}"
    click.echo(
        f"\nconfidence {answer.confidence:.2f}{grounded}{warn}; {answer.provider}/{answer.model}, "
        f"{answer.tokens} tokens, {cost}; conversation {answer.conversation_uuid}"
    )
    if answer.degraded:
        failed = ", ".join(f"{log.agent} ({log.status})" for log in answer.steps if log.status != "success")
        click.echo(
            f"note: a step failed: {failed}; the trace is in `workbench conversations export "
            f"{answer.conversation_uuid} --format json`.",
            err=True,
        )


@click.group("conversations")
def conversations_group() -> None:
    """Your chat conversations."""


@conversations_group.command("list")
@as_option
@json_option
def list_command(as_user, as_json) -> None:
    with reading(as_user) as (ctx, con):
        rows = conversations.list_conversations(ctx, con)
    lines = [
        f"{r['uuid']}  {r['updated_at']:%Y-%m-%d %H:%M}  {r['agent_type']:<9} {r['messages']:>3} msgs  "
        f"{r['title'] or '(untitled)'}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "No conversations yet.")


@conversations_group.command("export")
@click.argument("conversation_uuid")
@as_option
@click.option(
    "--format", "fmt", type=click.Choice(["markdown", "json"]), default="markdown", show_default=True
)
def export_command(conversation_uuid, as_user, fmt) -> None:
    """Print the conversation as Markdown or JSON (redirect to a file to save it)."""
    with reading(as_user) as (ctx, con):
        click.echo(conversations.export(ctx, con, conversation_uuid, fmt))


@conversations_group.command("rename")
@click.argument("conversation_uuid")
@click.argument("title")
@as_option
@json_option
def rename_command(conversation_uuid, title, as_user, as_json) -> None:
    with acting(as_user, write=True) as (ctx, con):
        conv = conversations.update_conversation(ctx, con, conversation_uuid, title=title)
    emit({"uuid": conv["uuid"], "title": conv["title"]}, as_json, f"Renamed to {conv['title']!r}.")


@conversations_group.command("delete")
@click.argument("conversation_uuid")
@as_option
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@json_option
def delete_command(conversation_uuid, as_user, yes, as_json) -> None:
    """Delete a conversation with its messages, agent logs and chat uploads."""
    if not yes and not as_json and not click.confirm(f"Delete conversation {conversation_uuid}?"):
        sys.exit(1)
    cfg = load_settings()
    with acting(as_user) as (ctx, con):
        deleted = conversations.delete_conversation(
            ctx, con, conversation_uuid, settings=cfg, vectors=home.open_vectors(cfg)
        )
    emit(deleted, as_json, "Deleted: " + ", ".join(f"{n} {t}" for t, n in deleted.items() if n))
