"""Projects: the groups of calls, QA pairs, datasets and documents inside an organisation."""

from __future__ import annotations

import duckdb

from workbench.accounts.context import Context
from workbench.db import fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotFound


def project_id_of(ctx: Context, con: duckdb.DuckDBPyConnection, project: str | None) -> int | None:
    """The id of a project of the user's organisation, by name or UUID (the user's own first)."""
    if not project:
        return None
    rows = con.execute(
        "SELECT id, owner_id FROM projects WHERE org_id = ? AND (name = ? OR uuid::VARCHAR = ?)"
        " ORDER BY owner_id = ? DESC",
        [ctx.org_id, project, project, ctx.user_id],
    ).fetchall()
    if not rows:
        raise NotFound(f"No project {project!r} in your organisation.")
    return rows[0][0]


def list_projects(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Projects of the organisation."""
    ctx.require("projects:read")
    return fetch_dicts(con, "SELECT p.uuid::VARCHAR AS uuid, p.name, p.description,"
                            " u.username AS owner, p.created_at FROM projects p"
                            " JOIN users u ON u.id = p.owner_id WHERE p.org_id = ?"
                            " ORDER BY p.name", [ctx.org_id])


def create_project(ctx: Context, con: duckdb.DuckDBPyConnection, name: str,
                   description: str | None = None) -> dict:
    """A project owned by the acting user; names are unique per owner (seed 000)."""
    ctx.require("projects:write")
    name = name.strip()
    if not name:
        raise InvalidInput("A project needs a name.")
    if fetch_one(con, "SELECT 1 FROM projects WHERE owner_id = ? AND name = ?",
                 [ctx.user_id, name]):
        raise InvalidInput(f"You already have a project named {name!r}.")
    return fetch_one(con, "INSERT INTO projects (org_id, owner_id, name, description)"
                          " VALUES (?, ?, ?, ?) RETURNING uuid::VARCHAR AS uuid, name",
                     [ctx.org_id, ctx.user_id, name, description])
