"""Document records (seed 004's model): listing, detail, and deletes that take the file, the
chunks and the vectors with the row (a document's, a user's, a project's). Ingest lives in `ingest.py`."""

from __future__ import annotations

import json
import uuid as uuidlib
from pathlib import Path

import duckdb

from workbench.accounts import audit, projects, users
from workbench.accounts import cascade as relations
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.settings import Settings
from workbench.usage import rollup

# A user reads global documents, their own, and those of projects in their organisation; documents
# uploaded inside a chat belong to that chat (seed 002) and are listed there, not here.
VISIBLE = "d.org_id = ? AND (d.scope IN ('global', 'project') OR d.uploaded_by_id = ?)"
STATUSES = ("pending", "processing", "completed", "failed")
SCOPES = ("user", "project", "global")
DOC_TYPES = ("policy", "product", "tech_manual")


def list_documents(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    status: str | None = None,
    doc_type: str | None = None,
    scope: str | None = None,
    text: str | None = None,
    include_chat: bool = False,
) -> list[dict]:
    """Documents the acting user may read, optionally filtered."""
    ctx.require("documents:read")
    where, params = [VISIBLE], [ctx.org_id, ctx.user_id]
    if not include_chat:
        where.append("d.conversation_id IS NULL")
    for column, value in (("processing_status", status), ("doc_type", doc_type), ("scope", scope)):
        if value:
            where.append(f"d.{column} = ?")
            params.append(value)
    if text:
        where.append("(d.title ILIKE ? OR d.filename ILIKE ?)")
        params += [f"%{text}%", f"%{text}%"]
    return fetch_dicts(
        con,
        "SELECT d.uuid::VARCHAR AS uuid, d.title, d.filename, d.file_type, d.doc_type,"
        " d.scope, p.name AS project, u.username AS uploaded_by, d.version,"
        " d.processing_status, d.error_message, d.num_chunks, d.num_tokens,"
        " d.file_size, d.content_type, d.uploaded_at, d.processed_at"
        " FROM documents d LEFT JOIN users u ON u.id = d.uploaded_by_id"
        " LEFT JOIN projects p ON p.id = d.project_id"
        f" WHERE {' AND '.join(where)} ORDER BY d.uploaded_at DESC, d.title",
        params,
    )


def _readable(ctx: Context, con: duckdb.DuckDBPyConnection, document_uuid: str) -> dict:
    """The document row if `ctx` may read it; NotFound otherwise (existence stays hidden)."""
    row = fetch_one(con, "SELECT * FROM documents WHERE uuid::VARCHAR = ?", [str(document_uuid)])
    if (
        row is None
        or row["org_id"] != ctx.org_id
        or (row["scope"] == "user" and row["uploaded_by_id"] != ctx.user_id)
    ):
        raise NotFound(f"No document {document_uuid}.")
    return row


def get_document(ctx: Context, con: duckdb.DuckDBPyConnection, document_uuid: str) -> dict:
    """One document with its automatic metadata and its chunks in order."""
    ctx.require("documents:read")
    row = _readable(ctx, con, document_uuid)
    detail = {
        k: row[k]
        for k in (
            "title",
            "filename",
            "file_type",
            "file_size",
            "scope",
            "doc_type",
            "version",
            "processing_status",
            "error_message",
            "num_chunks",
            "num_tokens",
            "auto_summary",
            "content_type",
            "summarization_model",
            "uploaded_at",
            "processed_at",
        )
    }
    detail["uuid"] = str(row["uuid"])
    detail["keywords"] = json.loads(row["auto_keywords"]) if row["auto_keywords"] else []
    detail["topics"] = json.loads(row["auto_topics"]) if row["auto_topics"] else []
    detail["chunks"] = fetch_dicts(
        con,
        "SELECT chunk_index, page_number, section, num_tokens, content"
        " FROM document_chunks WHERE document_id = ? ORDER BY chunk_index",
        [row["id"]],
    )
    return detail


def delete_document(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    document_uuid: str,
    *,
    settings: Settings | None = None,
    vectors=None,
) -> dict[str, int]:
    """Delete a document with its chunks, its vectors (when a store is given) and its file."""
    ctx.require("documents:delete")
    row = _readable(ctx, con, document_uuid)
    if not may_delete(ctx, row):
        raise NotAllowed("Only the uploader or an admin may delete this document.")
    return purge(con, settings, vectors, row["id"])


def _may_delete_contents(ctx: Context, con: duckdb.DuckDBPyConnection, project: dict) -> None:
    """A project goes with what it holds only when the deleter may delete each of those one by one:
    colleagues' documents and the project's budgets are an admin's to delete (or the uploader's)."""
    if ctx.can("admin:full"):
        return
    others = con.execute("SELECT count(*) FROM documents WHERE project_id = ?"
                         " AND uploaded_by_id IS DISTINCT FROM ?", [project["id"], ctx.user_id]).fetchone()[0]
    if others:
        raise NotAllowed(f"{project['name']!r} holds {others:,} documents that others uploaded: only an admin"
                         " may delete it with them.")
    budgets = con.execute("SELECT count(*) FROM budgets WHERE project_id = ?", [project["id"]]).fetchone()[0]
    if budgets and not ctx.can("prices:manage"):
        raise NotAllowed(f"{project['name']!r} has a budget: only someone who manages prices and budgets may"
                         " delete it.")


def may_delete(ctx: Context, row: dict) -> bool:
    """Whether `ctx` may delete a document row it can read: its uploader or an admin, holding
    documents:delete. A new version replaces an older document only where this holds (ingest)."""
    return ctx.can("documents:delete") and (row["uploaded_by_id"] == ctx.user_id or ctx.can("admin:full"))


def purge(
    con: duckdb.DuckDBPyConnection, settings: Settings | None, vectors, document_id: int
) -> dict[str, int]:
    """Remove one document everywhere: vectors first (search stops finding it), then the rows in
    one transaction, then the file. A crash between steps leaves what `doctor` repairs."""
    if vectors is not None:
        vectors.delete(f"document_id = {int(document_id)}")
    path = con.execute("SELECT file_path FROM documents WHERE id = ?", [document_id]).fetchone()
    with atomic(con):
        deleted = relations.delete_cascade(con, "documents", "id = ?", [document_id])
    if settings is not None and path and path[0]:
        (settings.home / path[0]).unlink(missing_ok=True)
    return deleted


def purge_owned_by(
    con: duckdb.DuckDBPyConnection, settings: Settings | None, vectors, user_id: int
) -> dict[str, int]:
    """Purge every document a user uploaded (before the user row goes); rows deleted per table."""
    ids = [
        r[0] for r in con.execute("SELECT id FROM documents WHERE uploaded_by_id = ?", [user_id]).fetchall()
    ]
    total: dict[str, int] = {}
    for document_id in ids:
        for table, n in purge(con, settings, vectors, document_id).items():
            total[table] = total.get(table, 0) + n
    return total


def stored_path(settings: Settings, org_id: int, doc_uuid: str, content_type: str) -> Path:
    """Where an upload's bytes go: never built from the uploaded name, only from the organisation
    id, the document's UUID and the extension of its parsed type."""
    extension = {"text": "txt", "markdown": "md"}.get(content_type, content_type)
    return settings.uploads_dir / str(int(org_id)) / f"{uuidlib.UUID(doc_uuid)}.{extension}"


def delete_user(ctx: Context, con: duckdb.DuckDBPyConnection, username: str, *, settings=None,
                vectors=None) -> dict[str, int]:
    """Delete a user and what seed 004 cascades (conversations, documents, roles), in one
    transaction; with a vector store and settings, their documents' vectors and files go too.
    It lives here, above accounts, because it purges documents and rebuilds a usage rollup."""
    ctx.require("users:manage")
    user_id = users.user_id_in_org(ctx, con, username)
    if user_id == ctx.user_id:
        raise InvalidInput("You cannot delete yourself.")
    with atomic(con):
        purged = purge_owned_by(con, settings, vectors, user_id)
        deleted = relations.delete_cascade(con, "users", "id = ?", [user_id])
        if deleted.get("llm_calls"):  # the rollups without user_id follow by a rebuild
            rollup.rebuild(con, ctx.org_id, tables=rollup.WITHOUT_USERS)
        audit.record(ctx, con, "user.delete", username, rows=sum(deleted.values()))
    for table, n in purged.items():
        deleted[table] = deleted.get(table, 0) + n
    return deleted


def delete_project(ctx: Context, con: duckdb.DuckDBPyConnection, project: str, *, settings=None,
                   vectors=None) -> dict[str, int]:
    """Delete a project with what it holds (calls, utterances, intents, QA pairs, datasets,
    documents and their chunks, budgets; conversations and metering stay and lose the link) in one
    transaction with its audit entry; then, with a vector store and settings, the vectors of its
    documents, QA pairs and utterances, and its document and dataset files. Only its owner or an
    admin may. Returns the rows deleted per table. It lives here, above accounts, to purge vectors."""
    from workbench.calls import search as call_search  # LanceDB: loaded only when a project goes
    from workbench.models import tabular

    row = projects.managed_project(ctx, con, project)
    _may_delete_contents(ctx, con, row)
    held = projects.get_project(ctx, con, row["uuid"])
    call_ids = [r[0] for r in con.execute("SELECT id FROM calls WHERE project_id = ?",
                                          [row["id"]]).fetchall()]
    files = [r[0] for r in con.execute("SELECT file_path FROM documents WHERE project_id = ? AND"
                                       " file_path IS NOT NULL", [row["id"]]).fetchall()]
    datasets = fetch_dicts(con, "SELECT name, file_path FROM datasets WHERE project_id = ?", [row["id"]])
    with atomic(con):
        deleted = relations.delete_cascade(con, "projects", "id = ?", [row["id"]])
        audit.record(ctx, con, "project.delete", row["name"], uuid=row["uuid"], owner=row["owner"],
                     **{key: held[key] for key, _one, _many in projects.CONTENTS},
                     rows=sum(deleted.values()))
    # after the commit, what a rollback could not bring back (a crash here leaves what doctor repairs)
    if vectors is not None:
        vectors.delete(f"project_id = {int(row['id'])}")  # its documents' chunks and its QA pairs
        call_search.forget_calls(vectors, call_ids)
    if settings is not None:
        for path in files:
            (settings.home / path).unlink(missing_ok=True)
        for dataset in datasets:
            try:
                tabular.dataset_path(ctx, con, dataset, settings).unlink(missing_ok=True)
            except NotAllowed:  # a file outside the organisation's folder is left alone (delete_dataset)
                pass
    return deleted
