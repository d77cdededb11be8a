"""Calls and utterances (seed 000): import a file into a project, all or nothing, idempotently
(a call id seen before in the project is updated, not duplicated), and list calls."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb
import pyarrow as pa

from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.calls import intents, transcripts
from workbench.calls import metrics as call_metrics
from workbench.calls import search as call_search
from workbench.db import Store, atomic
from workbench.errors import InvalidInput, WorkbenchError
from workbench.search.embed import Embedder
from workbench.search.vectors import VectorStore

if TYPE_CHECKING:
    from workbench.home import Workbench


def import_calls(
    ctx: Context,
    wb: Workbench,
    filename: str,
    data: bytes,
    project: str,
    *,
    max_mb: int = 50,
) -> dict:
    """Parse `data` (before touching the database), then write its calls and utterances in one
    transaction of `wb`'s store; the updated calls' old utterance vectors leave `wb.vectors`.
    Returns counts; raises errors.ImportReport naming the bad rows."""
    ctx.require("calls:import")
    if not project:
        raise InvalidInput("Name the project the calls belong to (--project).")
    parsed = transcripts.read_calls(filename, data, max_mb)
    with wb.store.connect() as con, atomic(con):
        project_id = projects.writable_project_id(ctx, con, project)  # an archived one takes none
        result = _write(con, project_id, parsed) | {"file": filename, "project": project}
    if result["updated_ids"]:  # the updated calls' old utterance vectors are stale now
        call_search.forget_calls(wb.vectors, result["updated_ids"])
    del result["updated_ids"]
    return result


@dataclass(frozen=True)
class Imported:
    """One file of an import: its counts, or the error that kept all of it out."""

    filename: str
    counts: dict | None = None
    error: WorkbenchError | None = None


def import_files(
    ctx: Context,
    wb: Workbench,
    files: list[tuple[str, bytes]],
    project: str,
    *,
    max_mb: int = 50,
    embed: bool = True,
    progress=None,
) -> tuple[list[Imported], dict | None]:
    """The import job the page and the CLI run on `wb`: each file whole or not at all (a refused
    file is reported, the others still import), then the project's new utterances embedded with
    `wb.embedder` and its intents re-clustered, once. Returns each file's outcome and the
    embedding's counts (None: not run)."""
    outcomes = []
    for filename, data in files:
        try:
            counts = import_calls(ctx, wb, filename, data, project, max_mb=max_mb)
            outcomes.append(Imported(filename, counts))
        except WorkbenchError as exc:
            outcomes.append(Imported(filename, error=exc))
    indexed = None
    if embed and any(o.counts for o in outcomes):
        indexed = index_pending(ctx, wb, project, progress)
    return outcomes, indexed


def index_calls(
    store: Store, vectors: VectorStore, embedder: Embedder, call_ids: list[int], progress=None
) -> dict:
    """Embed these calls' utterances, then re-cluster the intents of the projects they belong to."""
    with store.working():  # calls this process leaves unembedded are for `doctor --fix` once it is gone
        result = call_search.embed_calls(store, vectors, embedder, call_ids, progress)
        assigned = {}
        for project_id in result["projects"]:  # the clustering and naming hold no database
            with store.connect() as con:
                opening = intents.read(con, vectors, project_id)
            clustered = intents.cluster(opening, embedder)
            with store.connect() as con:
                assigned[project_id] = intents.save(con, project_id, clustered)
    return result | {"intents": assigned}


def index_pending(
    ctx: Context,
    wb: Workbench,
    project: str | None = None,
    progress=None,
) -> dict:
    """Embed, with `wb.embedder`, every call of the organisation (or one project) still waiting
    for its embeddings, then re-cluster the intents of the projects touched."""
    ctx.require("calls:import")
    with wb.store.connect() as con:
        project_id = projects.project_id_of(ctx, con, project)
        waiting = con.execute(
            "SELECT c.id FROM calls c JOIN projects p ON p.id = c.project_id WHERE c.embedded_at IS NULL"
            " AND p.org_id = ? AND (?::INTEGER IS NULL OR p.id = ?) ORDER BY c.id",
            [ctx.org_id, project_id, project_id],
        ).fetchall()
    return index_calls(wb.store, wb.vectors, wb.embedder, [r[0] for r in waiting], progress)


def _write(con: duckdb.DuckDBPyConnection, project_id: int, parsed: list[transcripts.Call]) -> dict:
    calls = pa.Table.from_pylist(
        [
            {
                "external_id": c.external_id,
                "transcript": c.transcript,
                "started_at": c.started_at,
                "metadata": json.dumps(c.metadata),
            }
            for c in parsed
        ],
        schema=pa.schema(
            [
                ("external_id", pa.string()),
                ("transcript", pa.string()),
                ("started_at", pa.timestamp("us")),
                ("metadata", pa.string()),
            ]
        ),
    )
    turns = pa.Table.from_pylist(
        [
            {
                "external_id": c.external_id,
                "role": u.role,
                "content": u.content,
                "utterance_index": u.index,
                "start_seconds": u.start_seconds,
                "end_seconds": u.end_seconds,
            }
            for c in parsed
            for u in c.utterances
        ],
        schema=pa.schema(
            [
                ("external_id", pa.string()),
                ("role", pa.string()),
                ("content", pa.string()),
                ("utterance_index", pa.int32()),
                ("start_seconds", pa.float64()),
                ("end_seconds", pa.float64()),
            ]
        ),
    )
    con.register("incoming_calls", calls)
    con.register("incoming_turns", turns)
    try:
        updated_ids = [
            r[0]
            for r in con.execute(
                "SELECT c.id FROM calls c JOIN incoming_calls i ON i.external_id = c.external_id"
                " WHERE c.project_id = ?",
                [project_id],
            ).fetchall()
        ]
        con.execute(
            "DELETE FROM utterances WHERE call_id IN (SELECT c.id FROM calls c JOIN incoming_calls i"
            " ON i.external_id = c.external_id WHERE c.project_id = ?)",
            [project_id],
        )
        con.execute(
            "UPDATE calls SET transcript = i.transcript,"
            " started_at = coalesce(i.started_at, calls.started_at), metadata = i.metadata::JSON,"
            " embedded_at = NULL,"  # the utterances changed: embed them again
            # an imported intent wins; otherwise an analyst's label survives the re-import
            " intent = coalesce(i.metadata::JSON->>'intent', CASE WHEN calls.intent_source = 'analyst'"
            " THEN calls.intent END),"
            " intent_source = CASE WHEN i.metadata::JSON->>'intent' IS NOT NULL THEN 'import'"
            " WHEN calls.intent_source = 'analyst' THEN 'analyst' END"
            " FROM incoming_calls i"
            " WHERE calls.project_id = ? AND calls.external_id = i.external_id",
            [project_id],
        )
        con.execute(
            "INSERT INTO calls (project_id, external_id, transcript, started_at, metadata, intent,"
            " intent_source) SELECT ?, i.external_id, i.transcript,"
            " coalesce(i.started_at, current_localtimestamp()), i.metadata::JSON,"
            " i.metadata::JSON->>'intent',"
            " CASE WHEN i.metadata::JSON->>'intent' IS NOT NULL THEN 'import' END"
            " FROM incoming_calls i WHERE NOT EXISTS (SELECT 1 FROM calls c"
            " WHERE c.project_id = ? AND c.external_id = i.external_id)",
            [project_id, project_id],
        )
        con.execute(
            "INSERT INTO utterances (call_id, project_id, role, content, utterance_index, start_seconds,"
            " end_seconds) SELECT c.id, c.project_id, t.role, t.content, t.utterance_index, t.start_seconds,"
            " t.end_seconds FROM incoming_turns t JOIN calls c ON c.project_id = ?"
            " AND c.external_id = t.external_id",
            [project_id],
        )
        ids = [
            r[0]
            for r in con.execute(
                "SELECT c.id FROM calls c JOIN incoming_calls i ON i.external_id = c.external_id"
                " WHERE c.project_id = ?",
                [project_id],
            ).fetchall()
        ]
    finally:
        con.unregister("incoming_calls")
        con.unregister("incoming_turns")
    call_metrics.refresh(con, ids)
    return {
        "calls": calls.num_rows,
        "created": calls.num_rows - len(updated_ids),
        "updated": len(updated_ids),
        "updated_ids": updated_ids,
        "utterances": turns.num_rows,
    }


def list_calls(
    ctx: Context, con: duckdb.DuckDBPyConnection, project: str | None = None, limit: int = 500
) -> list[dict]:
    """Calls of the organisation's projects (or one project), newest first, with their turn counts."""
    from workbench.db import fetch_dicts

    ctx.require("calls:read")
    project_id = projects.project_id_of(ctx, con, project)
    return fetch_dicts(
        con,
        "SELECT c.uuid::VARCHAR AS uuid, p.name AS project, c.external_id, c.started_at,"
        " (SELECT count(*) FROM utterances u WHERE u.call_id = c.id) AS turns FROM calls c"
        " JOIN projects p ON p.id = c.project_id WHERE p.org_id = ? AND (? IS NULL OR p.id = ?)"
        " ORDER BY c.started_at DESC, c.id DESC LIMIT ?",
        [ctx.org_id, project_id, project_id, limit],
    )
