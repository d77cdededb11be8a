"""Document records (seed 004's model). Ingest, chunking and embedding come with the documents
issue; this module already owns the reads and the cascading delete."""

from __future__ import annotations

import duckdb

from workbench import relations
from workbench.auth import Context
from workbench.db import fetch_dicts, fetch_one
from workbench.errors import NotAllowed, NotFound

# A user reads global documents, their own, and those of projects in their organisation.
VISIBLE = ("d.org_id = ? AND (d.scope IN ('global', 'project') OR d.uploaded_by_id = ?)")


def list_documents(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Documents the acting user may read."""
    ctx.require("documents:read")
    return fetch_dicts(con, "SELECT d.uuid::VARCHAR AS uuid, d.title, d.filename, d.doc_type,"
                            " d.scope, d.processing_status, d.num_chunks, d.uploaded_at"
                            f" FROM documents d WHERE {VISIBLE} ORDER BY d.title",
                       [ctx.org_id, ctx.user_id])


def delete_document(ctx: Context, con: duckdb.DuckDBPyConnection,
                    document_uuid: str) -> dict[str, int]:
    """Delete a document and its chunks."""
    ctx.require("documents:delete")
    row = fetch_one(con, "SELECT id, org_id, uploaded_by_id, scope FROM documents"
                         " WHERE uuid::VARCHAR = ?", [document_uuid])
    if row is None or row["org_id"] != ctx.org_id:
        raise NotFound(f"No document {document_uuid}.")
    if row["uploaded_by_id"] != ctx.user_id and not ctx.can("admin:full"):
        if row["scope"] == "user":
            raise NotFound(f"No document {document_uuid}.")
        raise NotAllowed("Only the uploader or an admin may delete this document.")
    return relations.delete_cascade(con, "documents", "id = ?", [row["id"]])
