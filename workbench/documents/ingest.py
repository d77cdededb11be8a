"""Document ingest (seed 004's lifecycle): check an upload, store it under a generated name,
then process it pending -> processing -> completed or failed: parse, chunk, describe, embed,
write vectors to LanceDB and chunks to DuckDB. Parsing and embedding hold no database lock;
each write phase is one short transaction."""

from __future__ import annotations

import hashlib
import json
import logging
import traceback
import uuid as uuidlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from workbench.accounts import audit, auth, projects
from workbench.accounts.context import Context
from workbench.db import Store, atomic, fetch_dicts, fetch_one
from workbench.documents import docmeta, parsing
from workbench.documents import records as documents
from workbench.documents.chunking import Chunk, chunk_pages
from workbench.errors import AuthFailed, InvalidInput, NotFound, WorkbenchError
from workbench.search.embed import Batch, Embedder, content_hash, embed_texts
from workbench.search.vectors import VectorStore
from workbench.settings import Settings
from workbench.usage import metering

if TYPE_CHECKING:
    from workbench.home import Workbench

log = logging.getLogger(__name__)

SCOPES, DOC_TYPES = documents.SCOPES, documents.DOC_TYPES
Progress = Callable[[str, float], None]  # (stage, fraction 0-1)


@dataclass(frozen=True)
class Upload:
    """A checked file: its safe display name, bytes, hash and parsed text."""

    filename: str
    data: bytes
    sha256: str
    parsed: parsing.ParsedDocument


@dataclass(frozen=True)
class Outcome:
    """What became of one file of a batch."""

    filename: str
    status: str  # queued / duplicate / refused / completed / failed
    document_uuid: str | None = None
    message: str = ""
    num_chunks: int = 0


def display_name(filename: str) -> str:
    """The name shown for an upload; names with path parts or control characters are refused."""
    name = filename.strip()
    if not name:
        raise InvalidInput("A file needs a name.")
    if "/" in name or "\\" in name or name in (".", "..") or ".." in name.split("."):
        raise InvalidInput(f"{name}: file names may not contain path separators or '..'; rename it.")
    if any(ord(c) < 32 for c in name) or len(name) > 255:
        raise InvalidInput(f"{name[:60]!r}: the file name has control characters or is too long.")
    return name


def check_upload(settings: Settings, filename: str, data: bytes) -> Upload:
    """Validate one file (name, type, size, content) before anything is stored."""
    name = display_name(filename)
    parsing.content_type_for(name)
    check_size(settings, name, len(data))
    parsed = parsing.parse_document(data, name)
    return Upload(name, data, hashlib.sha256(data).hexdigest(), parsed)


def check_size(settings: Settings, name: str, size: int) -> None:
    """Refuse a file over WORKBENCH_UPLOAD_MAX_MB; callers holding a path check its size before reading."""
    if size > settings.upload_max_mb * 1024 * 1024:
        raise InvalidInput(
            f"{name}: {size / 1e6:.1f} MB is over the {settings.upload_max_mb} MB limit "
            "(WORKBENCH_UPLOAD_MAX_MB)."
        )


def register(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    upload: Upload,
    *,
    scope: str = "user",
    doc_type: str | None = None,
    project: str | None = None,
    conversation_id: int | None = None,
) -> Outcome:
    """Store the file and a pending document row, or recognise a duplicate of the same scope."""
    ctx.require("documents:create")
    if scope not in SCOPES:
        raise InvalidInput(f"Scope must be one of {', '.join(SCOPES)}.")
    if doc_type is not None and doc_type not in DOC_TYPES:
        raise InvalidInput(f"Document type must be one of {', '.join(DOC_TYPES)}.")
    if scope == "global":
        ctx.require("admin:full")  # seed 004: global documents need an admin
    project_id = projects.project_id_of(ctx, con, project)
    if conversation_id is not None:
        _own_conversation(ctx, con, conversation_id)
        if scope != "user":
            raise InvalidInput("A file uploaded in a chat belongs to that chat: its scope is user.")
    if scope == "project" and project_id is None:
        raise InvalidInput("A project-scoped document needs --project.")
    same_place = (
        "org_id = ? AND scope = ? AND coalesce(project_id, -1) = coalesce(?, -1)"
        " AND coalesce(conversation_id, -1) = coalesce(?, -1)"
        " AND (scope <> 'user' OR uploaded_by_id = ?)"
    )
    place = [ctx.org_id, scope, project_id, conversation_id, ctx.user_id]
    with atomic(con):
        dup = fetch_one(
            con,
            f"SELECT uuid::VARCHAR AS uuid, filename FROM documents WHERE {same_place}"
            " AND sha256 = ? AND processing_status <> 'failed'",
            place + [upload.sha256],
        )
        if dup:
            return Outcome(
                upload.filename,
                "duplicate",
                dup["uuid"],
                f"same content as {dup['filename']}, already in this scope",
            )
        previous, others = _earlier_versions(
            ctx, con, f"{same_place} AND filename = ?", place + [upload.filename]
        )
        doc_uuid = str(uuidlib.uuid4())
        path = documents.stored_path(settings, ctx.org_id, doc_uuid, upload.parsed.content_type)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(upload.data)
        try:
            con.execute(
                "INSERT INTO documents (uuid, org_id, project_id, conversation_id, uploaded_by_id, filename,"
                " file_path, file_type, file_size, sha256, title, scope, doc_type, version)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    doc_uuid,
                    ctx.org_id,
                    project_id,
                    conversation_id,
                    ctx.user_id,
                    upload.filename,
                    str(path.relative_to(settings.home)),
                    upload.parsed.content_type,
                    len(upload.data),
                    upload.sha256,
                    upload.parsed.title or Path(upload.filename).stem,
                    scope,
                    doc_type,
                    (previous or 0) + 1,
                ],
            )
        except BaseException:
            path.unlink(missing_ok=True)
            raise
    notes = [f"version {previous + 1}, replaces the earlier one when done"] if previous else []
    if others:
        owners = " and ".join(f"{name}'s" for name in others)
        notes.append(
            f"{owners} {upload.filename} stays beside it: only its uploader or an admin may replace it"
        )
    return Outcome(upload.filename, "queued", doc_uuid, "; ".join(notes))


def _earlier_versions(
    ctx: Context, con: duckdb.DuckDBPyConnection, where: str, params: list
) -> tuple[int | None, list[str]]:
    """Of the documents a new upload is a version of: the latest version among those `ctx` may
    replace (those it may delete), and the uploaders of the others, which stay beside it."""
    same_name = fetch_dicts(
        con,
        "SELECT uploaded_by_id, version,"
        " (SELECT username FROM users u WHERE u.id = documents.uploaded_by_id) AS uploaded_by"
        f" FROM documents WHERE {where}",
        params,
    )
    replaceable = [d for d in same_name if documents.may_delete(ctx, d)]
    others = {d["uploaded_by"] or "a former user" for d in same_name if d not in replaceable}
    return max((d["version"] for d in replaceable), default=None), sorted(others)


def _own_conversation(ctx: Context, con: duckdb.DuckDBPyConnection, conversation_id: int) -> None:
    """A chat upload goes only into one of the acting user's own conversations."""
    owner = fetch_one(con, "SELECT org_id, user_id FROM conversations WHERE id = ?", [conversation_id])
    if owner is None or (owner["org_id"], owner["user_id"]) != (ctx.org_id, ctx.user_id):
        raise NotFound(f"No conversation {conversation_id} of yours.")


@dataclass
class _Work:
    """One document between its stages: the row, its parse, chunks and metadata."""

    doc: dict
    parsed: parsing.ParsedDocument | None = None
    chunks: list[Chunk] | None = None
    meta: docmeta.Metadata | None = None


def _start(store: Store, document_uuid: str) -> _Work | Outcome:
    """Mark a document 'processing'; an Outcome instead when there is nothing to do."""
    with store.transaction() as con:
        doc = fetch_one(con, "SELECT * FROM documents WHERE uuid::VARCHAR = ?", [document_uuid])
        if doc is None:
            raise NotFound(f"No document {document_uuid}.")
        if doc["processing_status"] == "completed":
            return Outcome(
                doc["filename"], "completed", document_uuid, "already processed", doc["num_chunks"]
            )
        con.execute(
            "UPDATE documents SET processing_status = 'processing', error_message = NULL,"
            " updated_at = current_localtimestamp() WHERE id = ?",
            [doc["id"]],
        )
    return _Work(doc)


def _prepare(settings: Settings, work: _Work) -> None:
    """Parse (or reuse the upload's parse), chunk and describe; no lock is held."""
    doc = work.doc
    work.parsed = _PARSED.pop(str(doc["uuid"]), None) or parsing.parse_document(
        (settings.home / doc["file_path"]).read_bytes(), doc["filename"]
    )
    work.chunks = chunk_pages(work.parsed.pages, settings.chunk_size, settings.chunk_overlap)
    if not work.chunks:
        raise InvalidInput(f"{doc['filename']}: no text to index.")
    work.meta = docmeta.describe(work.parsed.text, [c.text for c in work.chunks])


def _finish(
    settings: Settings,
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    work: _Work,
    matrix: np.ndarray,
    batches: list[Batch],
) -> Outcome:
    """The write phase: vectors, then chunks, counts, metering and older versions in one transaction."""
    doc, chunks = work.doc, work.chunks
    tokens = embedder.count_tokens([c.text for c in chunks])
    rows, chunk_ids = _vector_rows(doc, chunks, matrix)
    vectors.add_chunks(rows)
    try:
        with store.transaction() as con:
            _write_chunks(con, doc, chunks, chunk_ids, tokens)
            _complete(
                con, doc, work.parsed, work.meta, len(chunks), embedder.count_tokens([work.parsed.text])[0]
            )
            _meter(con, doc, embedder.model_name, batches)
            replaced = _replace_older_versions(con, settings, vectors, doc)
    except BaseException:
        vectors.delete(f"document_id = {int(doc['id'])}")
        raise
    note = f"replaced version {replaced}" if replaced else ""
    return Outcome(doc["filename"], "completed", str(doc["uuid"]), note, len(chunks))


def _failed(store: Store, doc: dict, exc: Exception) -> Outcome:
    """Record why a document failed; the caller's batch goes on."""
    message = str(exc) if isinstance(exc, WorkbenchError) else f"{type(exc).__name__}: {exc}"
    log.warning("ingest of %s failed: %s\n%s", doc["filename"], message, traceback.format_exc())
    mark_failed(store, doc["id"], message)
    return Outcome(doc["filename"], "failed", str(doc["uuid"]), message)


def process(
    settings: Settings,
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    document_uuid: str,
    progress: Progress | None = None,
) -> Outcome:
    """Take one pending document to completed (or failed with the reason)."""
    with store.working():  # a document this process leaves 'processing' is stuck once it is gone
        return _process(settings, store, vectors, embedder, document_uuid, progress)


def _process(
    settings: Settings,
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    document_uuid: str,
    progress: Progress | None,
) -> Outcome:
    say = progress or (lambda _stage, _fraction: None)
    work = _start(store, document_uuid)
    if isinstance(work, Outcome):
        return work
    try:
        say("parsing", 0.05)
        _prepare(settings, work)
        texts = [c.text for c in work.chunks]
        matrix, batches = embed_texts(
            embedder,
            texts,
            vectors,
            progress=lambda done, total: say(f"embedding {done}/{total} chunks", 0.15 + 0.75 * done / total),
        )
        say("writing", 0.92)
        outcome = _finish(settings, store, vectors, embedder, work, matrix, batches)
    except Exception as exc:
        say("failed", 1.0)
        return _failed(store, work.doc, exc)
    say("completed", 1.0)
    return outcome


def process_many(
    settings: Settings,
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    document_uuids: list[str],
    progress: Callable[[str, str, float], None] | None = None,
) -> list[Outcome]:
    """Process several documents with their chunks embedded together: full, length-sorted batches
    instead of one small batch per document (the write phase stays per document)."""
    with store.working():  # a document this process leaves 'processing' is stuck once it is gone
        return _process_many(settings, store, vectors, embedder, document_uuids, progress)


def _process_many(
    settings: Settings,
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    document_uuids: list[str],
    progress: Callable[[str, str, float], None] | None,
) -> list[Outcome]:
    say = progress or (lambda _name, _stage, _fraction: None)
    outcomes: dict[str, Outcome] = {}
    ready: list[_Work] = []
    for document_uuid in document_uuids:
        work = _start(store, document_uuid)
        if isinstance(work, Outcome):
            outcomes[document_uuid] = work
            continue
        try:
            _prepare(settings, work)
            ready.append(work)
        except Exception as exc:
            outcomes[document_uuid] = _failed(store, work.doc, exc)
    texts = [c.text for w in ready for c in w.chunks]
    try:
        matrix, batches = embed_texts(
            embedder,
            texts,
            vectors,
            progress=lambda done, total: say(
                f"{len(ready)} documents", f"embedding {done}/{total} chunks", done / max(total, 1)
            ),
        )
    except Exception as exc:
        for work in ready:
            outcomes[str(work.doc["uuid"])] = _failed(store, work.doc, exc)
        return [outcomes[u] for u in document_uuids]
    offset = 0
    for i, work in enumerate(ready):
        part = matrix[offset : offset + len(work.chunks)]
        offset += len(work.chunks)
        try:  # the batches are metered once, with the first document written
            outcome = _finish(settings, store, vectors, embedder, work, part, batches if i == 0 else [])
        except Exception as exc:
            outcome = _failed(store, work.doc, exc)
        say(work.doc["filename"], outcome.status, 1.0)
        outcomes[str(work.doc["uuid"])] = outcome
    return [outcomes[u] for u in document_uuids]


def mark_failed(store: Store, document_id: int, message: str) -> None:
    """Record a failure on the document row (its chunks and vectors were never committed)."""
    with store.transaction() as con:
        con.execute(
            "UPDATE documents SET processing_status = 'failed', error_message = ?, is_processed = false,"
            " updated_at = current_localtimestamp() WHERE id = ?",
            [message[:2000], document_id],
        )


def _vector_rows(doc: dict, chunks: list[Chunk], matrix: np.ndarray) -> tuple[pa.Table, list[str]]:
    ids = [str(uuidlib.uuid4()) for _ in chunks]
    n, dim = matrix.shape
    rows = pa.table(
        {
            "id": ids,
            "org_id": pa.array([doc["org_id"]] * n, pa.int32()),
            "owner_id": pa.array([doc["uploaded_by_id"]] * n, pa.int32()),
            "scope": [doc["scope"]] * n,
            "project_id": pa.array([doc["project_id"]] * n, pa.int32()),
            "conversation_id": pa.array([doc["conversation_id"]] * n, pa.int32()),
            "document_id": pa.array([doc["id"]] * n, pa.int32()),
            "document_uuid": [str(doc["uuid"])] * n,
            "code_file_id": pa.nulls(n, pa.int32()),
            "repo_id": pa.nulls(n, pa.int32()),
            "chunk_index": pa.array([c.index for c in chunks], pa.int32()),
            "doc_type": pa.array([doc["doc_type"]] * n, pa.string()),
            "page_number": pa.array([c.page_number for c in chunks], pa.int32()),
            "section": pa.array([c.section for c in chunks], pa.string()),
            "title": [doc["title"] or doc["filename"]] * n,
            "filename": [doc["filename"]] * n,
            "start_line": pa.nulls(n, pa.int32()),
            "end_line": pa.nulls(n, pa.int32()),
            "text": [c.text for c in chunks],
            "content_hash": [content_hash(c.text) for c in chunks],
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(matrix.astype(np.float32).ravel()), dim),
        }
    )
    return rows, ids


def _write_chunks(
    con: duckdb.DuckDBPyConnection, doc: dict, chunks: list[Chunk], ids: list[str], tokens: list[int]
) -> None:
    frame = pa.table(
        {
            "uuid": ids,
            "document_id": pa.array([doc["id"]] * len(chunks), pa.int32()),
            "content": [c.text for c in chunks],
            "chunk_index": [c.index for c in chunks],
            "num_tokens": tokens,
            "page_number": pa.array([c.page_number for c in chunks], pa.int32()),
            "section": pa.array([c.section for c in chunks], pa.string()),
            "content_hash": [content_hash(c.text) for c in chunks],
            "embedding_id": ids,
        }
    )
    con.register("new_chunks", frame)
    try:
        con.execute(
            "INSERT INTO document_chunks (uuid, document_id, content, chunk_index, num_tokens, page_number,"
            " section, content_hash, embedding_id) SELECT uuid::UUID, document_id, content, chunk_index,"
            " num_tokens, page_number, section, content_hash, embedding_id FROM new_chunks"
        )
    finally:
        con.unregister("new_chunks")


def _complete(
    con: duckdb.DuckDBPyConnection,
    doc: dict,
    parsed: parsing.ParsedDocument,
    meta: docmeta.Metadata,
    num_chunks: int,
    num_tokens: int,
) -> None:
    con.execute(
        "UPDATE documents SET processing_status = 'completed', is_processed = true, error_message = NULL,"
        " num_chunks = ?, num_tokens = ?, content = ?, auto_summary = ?, auto_keywords = ?, auto_topics = ?,"
        " content_type = ?, summarization_model = ?, summarization_tokens = 0, summarized_at = ?,"
        " vector_table = 'chunks', processed_at = ?, updated_at = ? WHERE id = ?",
        [
            num_chunks,
            num_tokens,
            parsed.text,
            meta.summary,
            json.dumps(meta.keywords),
            json.dumps(meta.topics),
            meta.content_type,
            meta.method,
            datetime.now(),
            datetime.now(),
            datetime.now(),
            doc["id"],
        ],
    )


def _meter(con: duckdb.DuckDBPyConnection, doc: dict, model: str, batches: list[Batch]) -> None:
    """One llm_calls row per embedding batch actually computed (cache hits cost nothing)."""
    for batch in batches:
        call = metering.Call("local", model, "embedding", embedding_tokens=batch.tokens,
                             latency_ms=batch.latency_ms)
        metering.record(con, call, org_id=doc["org_id"], user_id=doc["uploaded_by_id"],
                        project_id=doc["project_id"], conversation_id=doc["conversation_id"])


def _replace_older_versions(
    con: duckdb.DuckDBPyConnection, settings: Settings, vectors: VectorStore, doc: dict
) -> int | None:
    """A new version of a file replaces the older ones its uploader may delete (as they may now):
    their rows, vectors and files go, each replacement in the audit log. Others' stay."""
    if doc["version"] <= 1:
        return None
    uploader = _uploader(con, doc["uploaded_by_id"])
    if uploader is None:
        return None
    older = fetch_dicts(
        con,
        "SELECT d.id, d.uuid::VARCHAR AS uuid, d.version, d.uploaded_by_id, u.username AS uploaded_by,"
        " p.name AS project FROM documents d LEFT JOIN users u ON u.id = d.uploaded_by_id"
        " LEFT JOIN projects p ON p.id = d.project_id WHERE d.org_id = ? AND d.scope = ?"
        " AND d.filename = ? AND coalesce(d.project_id, -1) = coalesce(?, -1)"
        " AND coalesce(d.conversation_id, -1) = coalesce(?, -1)"
        " AND (d.scope <> 'user' OR d.uploaded_by_id = ?) AND d.version < ?",
        [
            doc["org_id"],
            doc["scope"],
            doc["filename"],
            doc["project_id"],
            doc["conversation_id"],
            doc["uploaded_by_id"],
            doc["version"],
        ],
    )
    replaced = [old for old in older if documents.may_delete(uploader, old)]
    for old in replaced:
        documents.purge(con, settings, vectors, old["id"])
        audit.record(
            uploader,
            con,
            "document.replace",
            doc["filename"],
            document=old["uuid"],
            version=old["version"],
            uploaded_by=old["uploaded_by"],
            scope=doc["scope"],
            project=old["project"],
            new_document=str(doc["uuid"]),
            new_version=doc["version"],
        )
    return max((old["version"] for old in replaced), default=None)


def _uploader(con: duckdb.DuckDBPyConnection, user_id: int) -> Context | None:
    """The uploader's context as it is now; None for a deleted or disabled user, whose upload then
    replaces nothing."""
    row = con.execute("SELECT username FROM users WHERE id = ?", [user_id]).fetchone()
    try:
        return auth.context_for(con, row[0]) if row else None
    except (AuthFailed, NotFound):
        return None


def ingest_files(
    ctx: Context,
    wb: Workbench,
    files: list[tuple[str, bytes]],
    *,
    scope: str = "user",
    doc_type: str | None = None,
    project: str | None = None,
    conversation_id: int | None = None,
    progress: Callable[[str, str, float], None] | None = None,
) -> list[Outcome]:
    """Check, register and process a batch into `wb`'s store and vectors, embedding with its
    embedder; each file succeeds or fails on its own."""
    outcomes = queue_files(
        ctx, wb, files, scope=scope, doc_type=doc_type, project=project, conversation_id=conversation_id
    )
    queued = [o.document_uuid for o in outcomes if o.status == "queued"]
    if not queued:  # nothing to embed: the vectors and the embedder stay unopened
        return outcomes
    processed = iter(process_many(wb.settings, wb.store, wb.vectors, wb.embedder, queued, progress))
    return [next(processed) if o.status == "queued" else o for o in outcomes]


def queue_files(
    ctx: Context,
    wb: Workbench,
    files: list[tuple[str, bytes]],
    *,
    scope: str = "user",
    doc_type: str | None = None,
    project: str | None = None,
    conversation_id: int | None = None,
) -> list[Outcome]:
    """Check and register each file (pending) in `wb`'s store, for a later `process`; refused
    files say why and store nothing."""
    ctx.require("documents:create")
    settings, store = wb.settings, wb.store
    checked: list[Upload | Outcome] = []
    for name, data in files:  # parse before touching the database
        try:
            checked.append(check_upload(settings, name, data))
        except InvalidInput as exc:
            checked.append(Outcome(name, "refused", None, str(exc)))
    outcomes = []
    with store.connect() as con:  # one open for the batch; each file is its own transaction
        for item in checked:
            if isinstance(item, Outcome):
                outcomes.append(item)
                continue
            outcome = register(
                ctx, con, settings, item, scope=scope, doc_type=doc_type, project=project,
                conversation_id=conversation_id,
            )
            if outcome.status == "queued":
                _remember_parsed(outcome.document_uuid, item.parsed)
            outcomes.append(outcome)
    return outcomes


_PARSED: dict[str, parsing.ParsedDocument] = {}


def _remember_parsed(document_uuid: str, parsed: parsing.ParsedDocument) -> None:
    """Keep the parse of a just-registered upload so processing in this process need not redo it."""
    if len(_PARSED) >= 64:
        _PARSED.pop(next(iter(_PARSED)))
    _PARSED[document_uuid] = parsed


def pending(store: Store, org_id: int | None = None) -> list[str]:
    """Documents waiting to be processed (all organisations unless one is given)."""
    with store.connect() as con:
        rows = con.execute(
            "SELECT uuid::VARCHAR FROM documents WHERE processing_status = 'pending'"
            " AND (? IS NULL OR org_id = ?) ORDER BY id",
            [org_id, org_id],
        ).fetchall()
    return [r[0] for r in rows]
