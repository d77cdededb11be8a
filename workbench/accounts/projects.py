"""Projects: the groups of calls, QA pairs, datasets and documents inside an organisation.

Any member who may write projects creates one (they own it); its owner or an organisation admin
renames, archives or deletes it. An archived project is kept and read as before, but takes no new
calls or QA pairs, and project pickers leave it out. Deleting a project (with everything it
holds, vectors and files included) lives in `documents.records.delete_project`, which can purge
vectors; every change here is audited in its own transaction.
"""

from __future__ import annotations

import duckdb

from workbench.accounts import audit
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import Conflict, InvalidInput, NotAllowed, NotFound

MAX_NAME = 100
# what a project holds, as list_projects counts it, in words (singular, plural)
CONTENTS = (("calls", "call", "calls"), ("documents", "document", "documents"),
            ("qa_pairs", "QA pair", "QA pairs"), ("datasets", "dataset", "datasets"))

_LIST_SQL = """
SELECT p.uuid::VARCHAR AS uuid, p.name, p.description, u.username AS owner, p.created_at,
       p.archived_at IS NOT NULL AS archived, p.archived_at,
       (SELECT count(*) FROM calls c WHERE c.project_id = p.id) AS calls,
       (SELECT count(*) FROM documents d WHERE d.project_id = p.id) AS documents,
       (SELECT count(*) FROM qa_pairs q WHERE q.project_id = p.id) AS qa_pairs,
       (SELECT count(*) FROM datasets s WHERE s.project_id = p.id) AS datasets,
       ? AND (p.owner_id = ? OR ?) AS can_manage
FROM projects p JOIN users u ON u.id = p.owner_id
WHERE p.org_id = ? AND (? OR p.archived_at IS NULL) AND (?::INTEGER IS NULL OR p.id = ?)
ORDER BY p.name, u.username
"""


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


def writable_project_id(ctx: Context, con: duckdb.DuckDBPyConnection, project: str) -> int:
    """The id of a project that takes new calls and QA pairs; InvalidInput when it is archived."""
    project_id = project_id_of(ctx, con, project)
    row = fetch_one(con, "SELECT name, archived_at FROM projects WHERE id = ?", [project_id])
    if row["archived_at"] is not None:
        raise InvalidInput(
            f"Project {row['name']!r} is archived, so nothing can be added to it. Unarchive it first"
            f" (on the Projects page, or `workbench project unarchive {row['name']!r}`)."
        )
    return project_id


def list_projects(ctx: Context, con: duckdb.DuckDBPyConnection, *,
                  include_archived: bool = False) -> list[dict]:
    """Projects of the organisation by name, with what each holds (calls, documents, QA pairs,
    datasets), whether it is archived and whether the acting user may manage it. Archived projects
    only with `include_archived` (pickers leave them out; the Projects page and CLI list show all)."""
    ctx.require("projects:read")
    return _rows(ctx, con, include_archived, None)


def get_project(ctx: Context, con: duckdb.DuckDBPyConnection, project: str) -> dict:
    """One project, by name or UUID, as `list_projects` shows it (archived or not)."""
    ctx.require("projects:read")
    return _rows(ctx, con, True, _project(ctx, con, project)["id"])[0]


def _rows(ctx: Context, con, include_archived: bool, project_id: int | None) -> list[dict]:
    return fetch_dicts(con, _LIST_SQL, [ctx.can("projects:write"), ctx.user_id, ctx.can("admin:full"),
                                        ctx.org_id, include_archived, project_id, project_id])


def contents_in_words(project: dict) -> str:
    """What a project row holds, e.g. "120 calls, 3 documents and 40 QA pairs" ("" when nothing)."""
    parts = [f"{project[key]:,} {one if project[key] == 1 else many}"
             for key, one, many in CONTENTS if project.get(key)]
    return ", ".join(parts[:-1]) + f" and {parts[-1]}" if len(parts) > 1 else "".join(parts)


def deletion_warning(project: dict) -> str:
    """The question a deletion asks before it runs, naming what goes with the project."""
    held = contents_in_words(project)
    return (f"Delete {project['name']!r} and its {held}? This cannot be undone." if held
            else f"Delete {project['name']!r}? It holds no calls, documents, QA pairs or datasets.")


def create_project(ctx: Context, con: duckdb.DuckDBPyConnection, name: str,
                   description: str | None = None) -> dict:
    """A project owned by the acting user; names are unique per owner (seed 000)."""
    ctx.require("projects:write")
    name = _clean_name(name)
    if fetch_one(con, "SELECT 1 FROM projects WHERE owner_id = ? AND name = ?",
                 [ctx.user_id, name]):
        raise Conflict(f"You already have a project named {name!r}.")
    with atomic(con):
        row = fetch_one(con, "INSERT INTO projects (org_id, owner_id, name, description)"
                             " VALUES (?, ?, ?, ?) RETURNING uuid::VARCHAR AS uuid, name",
                        [ctx.org_id, ctx.user_id, name, (description or "").strip() or None])
        audit.record(ctx, con, "project.create", name, uuid=row["uuid"])
    return row


def managed_project(ctx: Context, con: duckdb.DuckDBPyConnection, project: str) -> dict:
    """A project the acting user may rename, archive or delete: theirs, or any of the
    organisation's for an admin (both holding projects:write). NotFound for another organisation's."""
    ctx.require("projects:write")
    row = _project(ctx, con, project)
    if row["owner_id"] != ctx.user_id and not ctx.can("admin:full"):
        raise NotAllowed(f"Only {row['owner']}, who owns {row['name']!r}, or an admin of your"
                         " organisation may change or delete it.")
    return row


def rename_project(ctx: Context, con: duckdb.DuckDBPyConnection, project: str, new_name: str) -> dict:
    """Give a project a new name, unique among its owner's projects."""
    row = managed_project(ctx, con, project)
    new_name = _clean_name(new_name)
    if new_name == row["name"]:
        return {"uuid": row["uuid"], "name": new_name}
    if fetch_one(con, "SELECT 1 FROM projects WHERE owner_id = ? AND name = ? AND id <> ?",
                 [row["owner_id"], new_name, row["id"]]):
        who = "You already have" if row["owner_id"] == ctx.user_id else f"{row['owner']} already has"
        raise Conflict(f"{who} a project named {new_name!r}: choose another name.")
    with atomic(con):
        con.execute("UPDATE projects SET name = ? WHERE id = ?", [new_name, row["id"]])
        audit.record(ctx, con, "project.rename", new_name, uuid=row["uuid"], old_name=row["name"])
    return {"uuid": row["uuid"], "name": new_name}


def archive_project(ctx: Context, con: duckdb.DuckDBPyConnection, project: str,
                    archived: bool = True) -> dict:
    """Archive a project (kept and readable; no new calls or QA pairs; out of pickers), or with
    `archived=False` bring it back. Doing what is already so changes and records nothing."""
    row = managed_project(ctx, con, project)
    if (row["archived_at"] is not None) != archived:
        with atomic(con):
            con.execute("UPDATE projects SET archived_at = CASE WHEN ? THEN current_localtimestamp() END"
                        " WHERE id = ?", [archived, row["id"]])
            audit.record(ctx, con, "project.archive" if archived else "project.unarchive", row["name"],
                         uuid=row["uuid"])
    return {"uuid": row["uuid"], "name": row["name"], "archived": archived}


def _project(ctx: Context, con: duckdb.DuckDBPyConnection, project: str) -> dict:
    """The project row named by name or UUID in the user's organisation (their own first); an
    admin naming one that several colleagues own is asked for its UUID."""
    rows = fetch_dicts(
        con,
        "SELECT p.id, p.uuid::VARCHAR AS uuid, p.name, p.owner_id, u.username AS owner, p.archived_at"
        " FROM projects p JOIN users u ON u.id = p.owner_id"
        " WHERE p.org_id = ? AND (p.name = ? OR p.uuid::VARCHAR = ?)"
        " ORDER BY p.owner_id = ? DESC, u.username",
        [ctx.org_id, (project or "").strip(), (project or "").strip(), ctx.user_id],
    )
    if not rows:
        raise NotFound(f"No project {project!r} in your organisation.")
    if len(rows) > 1 and rows[0]["owner_id"] != ctx.user_id:
        owners = ", ".join(r["owner"] for r in rows)
        raise InvalidInput(f"{len(rows)} projects are named {project!r} (owned by {owners}): name the one"
                           " you mean by its UUID (`workbench project list --json` shows them).")
    return rows[0]


def _clean_name(name: str) -> str:
    name = " ".join((name or "").split())
    if not name:
        raise InvalidInput("A project needs a name.")
    if len(name) > MAX_NAME:
        raise InvalidInput(f"A project name has at most {MAX_NAME} characters ({len(name)} given).")
    return name
