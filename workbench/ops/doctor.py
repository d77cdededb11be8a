"""Consistency between DuckDB, LanceDB and the uploaded files: find what a crash or a failed
step left behind (vectors without chunks, chunks without vectors, files without rows, rows
without files, documents stuck mid-ingest, calls whose utterances were never embedded, dangling
links) and repair it.

Work in progress is not damage: while some process is ingesting or embedding calls (it holds
`Store.working`), documents pending or processing for less than ten minutes, their vectors and
unembedded calls are left alone. When no process holds it, a document left 'processing' was
abandoned by a process that died, however recently."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

import numpy as np
import pyarrow as pa

from workbench.accounts import cascade as relations
from workbench.calls import qa
from workbench.calls import search as call_search
from workbench.db import Store
from workbench.search.embed import Embedder, embed_texts
from workbench.search.vectors import VectorStore, quote
from workbench.settings import Settings
from workbench.usage import rollup

STUCK_AFTER = timedelta(minutes=10)

# Every chunk's vector row rebuilt from DuckDB: documents and code files alike.
VECTOR_ROWS_SQL = """
SELECT c.embedding_id AS id, coalesce(d.org_id, r.org_id) AS org_id,
       coalesce(d.uploaded_by_id, r.created_by) AS owner_id, coalesce(d.scope, 'global') AS scope,
       d.project_id, d.conversation_id, c.document_id, d.uuid::VARCHAR AS document_uuid, c.code_file_id,
       f.repo_id, c.chunk_index, CASE WHEN c.code_file_id IS NULL THEN d.doc_type ELSE 'code' END AS doc_type,
       c.page_number, c.section, coalesce(d.title, d.filename, regexp_extract(r.repo_url, '[^/]+$')) AS title,
       coalesce(d.filename, f.file_path) AS filename, c.start_line, c.end_line, c.content AS text,
       c.content_hash
FROM document_chunks c
LEFT JOIN documents d ON d.id = c.document_id
LEFT JOIN code_files f ON f.id = c.code_file_id
LEFT JOIN git_repositories r ON r.id = f.repo_id
"""


@dataclass
class Report:
    """What is inconsistent, by kind; empty lists mean healthy."""

    orphan_vectors: list[str] = field(default_factory=list)
    missing_vectors: list[str] = field(default_factory=list)
    orphan_files: list[str] = field(default_factory=list)
    missing_files: list[str] = field(default_factory=list)
    stuck_documents: list[str] = field(default_factory=list)
    pending_documents: list[str] = field(default_factory=list)
    dangling_links: dict[str, int] = field(default_factory=dict)
    stale_rollup_days: list[str] = field(default_factory=list)  # usage rollups that differ from llm_calls
    unembedded_calls: list[int] = field(default_factory=list)  # calls with no utterance vectors yet
    work_in_progress: bool = False  # an ingest or call embedding was running: its items were left out
    repaired: list[str] = field(default_factory=list)

    @property
    def healthy(self) -> bool:
        return not (
            self.orphan_vectors
            or self.missing_vectors
            or self.orphan_files
            or self.missing_files
            or self.stuck_documents
            or self.pending_documents
            or self.dangling_links
            or self.stale_rollup_days
            or self.unembedded_calls
        )

    def summary(self) -> dict:
        return {
            "healthy": self.healthy,
            "orphan_vectors": len(self.orphan_vectors),
            "missing_vectors": len(self.missing_vectors),
            "orphan_files": self.orphan_files,
            "missing_files": self.missing_files,
            "stuck_documents": self.stuck_documents,
            "pending_documents": len(self.pending_documents),
            "dangling_links": self.dangling_links,
            "stale_rollup_days": self.stale_rollup_days,
            "unembedded_calls": len(self.unembedded_calls),
            "work_in_progress": self.work_in_progress,
            "repaired": self.repaired,
        }


def check(settings: Settings, store: Store, vectors: VectorStore, now: datetime | None = None) -> Report:
    """Compare DuckDB chunks with LanceDB rows and document rows with files on disk."""
    with store.idle() as idle:
        return _check(settings, store, vectors, now or datetime.now(), idle)


def _check(
    settings: Settings, store: Store, vectors: VectorStore, now: datetime, idle: bool | None
) -> Report:
    busy = idle is not True  # not knowing counts as busy: then only age makes a document stuck
    report = Report(work_in_progress=idle is False)
    with store.connect() as con:
        before = _chunk_ids(con)
        report.dangling_links = relations.orphans(con)
        report.stale_rollup_days = sorted({str(row[0]) for row in rollup.differences(con)})
        report.unembedded_calls = [] if busy else call_search.pending_calls(con)
    stored = vectors.chunk_ids()
    # Read again: work running meanwhile writes vectors first, then commits their chunks.
    with store.connect() as con:
        after = _chunk_ids(con)
        docs = con.execute(
            "SELECT uuid::VARCHAR, file_path, processing_status, updated_at FROM documents"
        ).fetchall()
    abandoned = {
        u
        for u, _p, status, updated in docs
        if status == "processing" and (not busy or now - updated > STUCK_AFTER)
    }
    live = {u for u, _p, status, _t in docs if busy and status in ("pending", "processing")} - abandoned
    if live:  # their vectors are written, their chunks not yet committed
        stored -= vectors.chunk_ids(f"document_uuid IN ({', '.join(quote(u) for u in sorted(live))})")
    report.orphan_vectors = sorted(stored - after)
    report.missing_vectors = sorted(before - stored)
    referenced = {path for _u, path, _s, _t in docs}
    report.missing_files = sorted(u for u, path, _s, _t in docs if not (settings.home / path).is_file())
    if settings.uploads_dir.is_dir():
        on_disk = {str(p.relative_to(settings.home)) for p in settings.uploads_dir.rglob("*") if p.is_file()}
        report.orphan_files = sorted(on_disk - referenced)
    report.stuck_documents = sorted(abandoned)
    report.pending_documents = sorted(u for u, _p, s, _t in docs if s == "pending" and u not in live)
    return report


def _chunk_ids(con) -> set[str]:
    ids = {r[0] for r in con.execute("SELECT embedding_id FROM document_chunks").fetchall()}
    # QA pairs are chunk rows too (doc_type 'qa'), keyed by the pair's uuid
    return ids | {r[0] for r in con.execute("SELECT uuid::VARCHAR FROM qa_pairs").fetchall()}


def repair(
    settings: Settings, store: Store, vectors: VectorStore, embedder: Embedder, report: Report
) -> Report:
    """Fix what `check` found: drop orphans, re-embed missing vectors from the stored chunk text,
    fail documents whose file is gone, re-run stuck and pending ingests, embed waiting calls."""
    from workbench.documents import ingest

    if report.orphan_vectors:
        vectors.delete_ids(report.orphan_vectors)
        report.repaired.append(f"deleted {len(report.orphan_vectors)} orphan vectors")
    if report.missing_vectors:
        _reembed(store, vectors, embedder, report.missing_vectors)
        qa.embed_missing(store, vectors, embedder)
        report.repaired.append(f"re-embedded {len(report.missing_vectors)} missing vectors")
    for path in report.orphan_files:
        (settings.home / path).unlink(missing_ok=True)
    if report.orphan_files:
        report.repaired.append(f"deleted {len(report.orphan_files)} orphan files")
    with store.transaction() as con:
        for doc_uuid in report.missing_files:
            con.execute(
                "UPDATE documents SET processing_status = 'failed', error_message = 'The stored file"
                " is missing; upload the document again.' WHERE uuid::VARCHAR = ?",
                [doc_uuid],
            )
            vectors.delete(f"document_uuid = {quote(doc_uuid)}")
            con.execute(
                "DELETE FROM document_chunks WHERE document_id = (SELECT id FROM documents"
                " WHERE uuid::VARCHAR = ?)",
                [doc_uuid],
            )
        for doc_uuid in report.stuck_documents:
            con.execute(
                "UPDATE documents SET processing_status = 'pending' WHERE uuid::VARCHAR = ?", [doc_uuid]
            )
        for link, _count in report.dangling_links.items():
            child, column = link.split(".")
            parent = next(x.parent for x in relations.LINKS if x.child == child and x.column == column)
            con.execute(
                f"DELETE FROM {child} WHERE {column} IS NOT NULL AND {column} NOT IN"
                f" (SELECT id FROM {parent})"
            )
    if report.missing_files:
        report.repaired.append(f"marked {len(report.missing_files)} documents with missing files as failed")
    if report.dangling_links:
        report.repaired.append(f"deleted rows with dangling links: {report.dangling_links}")
    # calls (or rollup rows) deleted for a dangling link: the rollups without that link keep their sums
    calls_gone = any(link.split(".")[0] in ("llm_calls", *rollup.TABLES) for link in report.dangling_links)
    if report.stale_rollup_days or calls_gone:
        with store.transaction() as con:
            rollup.rebuild(con)
        why = f"{len(report.stale_rollup_days)} days differed" if report.stale_rollup_days else \
            "calls with dangling links were deleted"
        report.repaired.append(f"rebuilt the usage rollups ({why})")
    todo = [u for u in report.stuck_documents + report.pending_documents if u not in report.missing_files]
    for doc_uuid in todo:
        outcome = ingest.process(settings, store, vectors, embedder, doc_uuid)
        report.repaired.append(f"ingest {outcome.filename}: {outcome.status} {outcome.message}".strip())
    if report.unembedded_calls:
        from workbench.calls import imports as calls

        done = calls.index_calls(store, vectors, embedder, report.unembedded_calls)
        report.repaired.append(f"embedded {done['utterances']} utterances of {done['calls']} calls")
    return report


def _reembed(store: Store, vectors: VectorStore, embedder: Embedder, chunk_ids: list[str]) -> None:
    with store.connect() as con:
        rows = con.sql(
            VECTOR_ROWS_SQL + " WHERE c.embedding_id IN (SELECT unnest(?))", params=[chunk_ids]
        ).to_arrow_table()
    matrix, _batches = embed_texts(embedder, rows.column("text").to_pylist(), vectors)
    vector = pa.FixedSizeListArray.from_arrays(pa.array(matrix.astype(np.float32).ravel()), matrix.shape[1])
    vectors.add_chunks(rows.append_column("vector", vector))

