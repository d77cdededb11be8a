"""Seed 003's prompt system: each organisation's templates (system prompt + content with
variables) and stages (selection, extraction and response-generation templates) drive what the
chat sends to a provider. New organisations get the defaults; admins edit them."""

from __future__ import annotations

import re
from dataclasses import dataclass

import duckdb

from workbench.accounts import audit
from workbench.accounts.context import Context
from workbench.accounts.organisations import GUARD
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotFound
from workbench.text import variables

AGENT_TYPES = ("rag", "code", "analytics")


def render(text: str, values: dict[str, str]) -> str:
    """Fill a template's {variables}; unknown ones stay visible instead of failing the chat."""
    return re.sub(r"\{(\w+)\}", lambda m: str(values.get(m.group(1), m.group(0))), text)


@dataclass(frozen=True)
class Prompting:
    """The templates one answer uses."""

    stage: str
    system: str
    extraction: str
    response: str
    selection: str


def stages(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's stages with their three templates."""
    return fetch_dicts(
        con,
        "SELECT s.id, s.name, s.description, s.position, sel.content AS selection,"
        " ext.content AS extraction, resp.content AS response, resp.system_prompt AS response_system"
        " FROM stages s JOIN templates sel ON sel.id = s.stage_selection_template_id"
        " JOIN templates ext ON ext.id = s.data_extraction_template_id"
        " JOIN templates resp ON resp.id = s.response_generation_template_id"
        " WHERE s.org_id = ? ORDER BY s.position, s.id",
        [ctx.org_id],
    )


def prompting_for(ctx: Context, con: duckdb.DuckDBPyConnection, stage: dict) -> Prompting:
    """The system prompt (the organisation's system template, unless the stage's response
    template carries its own) and the stage's templates."""
    system = fetch_one(
        con,
        "SELECT content FROM templates WHERE org_id = ? AND template_type = 'system' ORDER BY id LIMIT 1",
        [ctx.org_id],
    )
    return Prompting(
        stage["name"],
        stage["response_system"] or (system or {}).get("content") or GUARD,
        stage["extraction"],
        stage["response"],
        stage["selection"],
    )


def list_templates(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    ctx.require("prompts:manage")
    return fetch_dicts(
        con,
        "SELECT uuid::VARCHAR AS uuid, name, template_type, system_prompt, content, variables, updated_at"
        " FROM templates WHERE org_id = ? ORDER BY template_type, name",
        [ctx.org_id],
    )


def update_template(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    template_uuid: str,
    *,
    content: str,
    system_prompt: str | None = None,
) -> None:
    """Edit a template; its variable list follows the text."""
    ctx.require("prompts:manage")
    if not content.strip():
        raise InvalidInput("A template needs some content.")
    row = fetch_one(
        con,
        "SELECT id, name, template_type FROM templates WHERE uuid::VARCHAR = ? AND org_id = ?",
        [template_uuid, ctx.org_id],
    )
    if row is None:
        raise NotFound(f"No template {template_uuid}.")
    if row["template_type"] == "response_generation" and "{question}" not in content:
        raise InvalidInput("A response template must contain {question}, or the model never sees it.")
    with atomic(con):
        con.execute(
            "UPDATE templates SET content = ?, system_prompt = ?, variables = ?,"
            " updated_at = current_localtimestamp() WHERE id = ?",
            [content, system_prompt or None, variables(content + (system_prompt or "")), row["id"]],
        )
        audit.record(ctx, con, "template.edit", row["name"], chars=len(content))


def list_agents(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's agents (seed 003): the chat labels each agent type with its name."""
    return fetch_dicts(
        con,
        "SELECT uuid::VARCHAR AS uuid, name, description, agent_type, created_at FROM agents"
        " WHERE org_id = ? ORDER BY agent_type, id",
        [ctx.org_id],
    )


def update_agent(
    ctx: Context, con: duckdb.DuckDBPyConnection, agent_uuid: str, *, name: str, description: str | None
) -> None:
    """Rename or describe an agent; its type (what it does) stays."""
    ctx.require("prompts:manage")
    name = name.strip()
    if not name:
        raise InvalidInput("An agent needs a name.")
    row = fetch_one(
        con, "SELECT id, name FROM agents WHERE uuid::VARCHAR = ? AND org_id = ?", [agent_uuid, ctx.org_id]
    )
    if row is None:
        raise NotFound(f"No agent {agent_uuid}.")
    if fetch_one(
        con, "SELECT 1 FROM agents WHERE org_id = ? AND name = ? AND id <> ?", [ctx.org_id, name, row["id"]]
    ):
        raise InvalidInput(f"Another agent is already named {name!r}.")
    with atomic(con):
        con.execute(
            "UPDATE agents SET name = ?, description = ? WHERE id = ?",
            [name, (description or "").strip() or None, row["id"]],
        )
        audit.record(ctx, con, "agent.edit", row["name"], name=name, description=description)


def stage_settings(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's stages as an admin edits them: description, position, response template."""
    ctx.require("prompts:manage")
    return fetch_dicts(
        con,
        "SELECT s.uuid::VARCHAR AS uuid, s.name, s.description, s.stage_type, s.position,"
        " t.name AS response_template FROM stages s"
        " JOIN templates t ON t.id = s.response_generation_template_id"
        " WHERE s.org_id = ? ORDER BY s.position, s.id",
        [ctx.org_id],
    )


def update_stage(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    stage_uuid: str,
    *,
    description: str,
    position: int,
    response_template: str,
) -> None:
    """Change what a stage is for (its description is matched against questions), its order and the
    response template it answers with."""
    ctx.require("prompts:manage")
    if not description.strip():
        raise InvalidInput("A stage needs a description: it is what questions are matched against.")
    stage = fetch_one(
        con, "SELECT id, name FROM stages WHERE uuid::VARCHAR = ? AND org_id = ?", [stage_uuid, ctx.org_id]
    )
    if stage is None:
        raise NotFound(f"No stage {stage_uuid}.")
    template = fetch_one(
        con,
        "SELECT id FROM templates WHERE org_id = ? AND name = ? AND template_type = 'response_generation'",
        [ctx.org_id, response_template],
    )
    if template is None:
        raise InvalidInput(f"{response_template!r} is not one of your response templates.")
    with atomic(con):
        con.execute(
            "UPDATE stages SET description = ?, position = ?, response_generation_template_id = ?"
            " WHERE id = ?",
            [description.strip(), int(position), template["id"], stage["id"]],
        )
        audit.record(
            ctx,
            con,
            "stage.edit",
            stage["name"],
            description=description.strip(),
            position=int(position),
            response_template=response_template,
        )
