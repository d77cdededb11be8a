"""QA pairs (seed 000): written by hand, imported from CSV or extracted from calls (a customer's
question and the agent's next turn), with near-duplicate questions merged by embedding similarity.
Each pair is also a row of the LanceDB chunk table (doc_type "qa", project scope), so document
search and the chat find it as a source. Database row and vector are written together: a failure
leaves neither."""

from __future__ import annotations

import csv
import io
from contextlib import contextmanager
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa

from workbench import csv_safe, user_files
from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.calls import browse as call_browse
from workbench.db import Store, atomic, fetch_dicts, fetch_one
from workbench.errors import ImportReport, InvalidInput, NotFound
from workbench.search.embed import Embedder, content_hash, embed_texts
from workbench.search.vectors import VectorStore, chunk_schema, quote

if TYPE_CHECKING:
    from workbench.home import Workbench

DOC_TYPE = "qa"
# two questions at least this similar (cosine, question text only) are the same question asked
# again: on the demo's paraphrases ("How do I get my money back?" / "Can I get a refund?") the
# real model gives 0.62-0.75, repeats with other names or amounts 0.93-0.99
DUPLICATE_SIMILARITY = 0.9
MAX_TEXT = 4000
QUESTION_WORDS = (
    "how", "what", "why", "when", "where", "who", "which", "can", "could", "do", "does", "did", "is",
    "are", "will", "would", "should", "may", "am",
)  # fmt: skip

_PAIR_SQL = """
SELECT q.uuid::VARCHAR AS uuid, p.name AS project, q.question, q.answer, q.source, q.occurrences,
       c.uuid::VARCHAR AS call_uuid, c.external_id AS call_external_id, q.created_at, q.updated_at
FROM qa_pairs q JOIN projects p ON p.id = q.project_id LEFT JOIN calls c ON c.id = q.call_id
WHERE p.org_id = ?
"""


def list_pairs(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    project: str | None = None,
    text: str | None = None,
    limit: int = 5000,
) -> list[dict]:
    """The organisation's QA pairs (or one project's), most asked first; `text` filters by words."""
    ctx.require("qa:read")
    project_id = projects.project_id_of(ctx, con, project)
    words = (text or "").lower().split()
    where = "".join(" AND contains(lower(q.question || ' ' || q.answer), ?)" for _ in words)
    return fetch_dicts(
        con,
        _PAIR_SQL
        + " AND (?::INTEGER IS NULL OR p.id = ?)"
        + where
        + " ORDER BY q.occurrences DESC, q.created_at, q.id LIMIT ?",
        [ctx.org_id, project_id, project_id, *words, limit],
    )


def _clean(question: str, answer: str) -> tuple[str, str]:
    question, answer = " ".join((question or "").split()), " ".join((answer or "").split())
    if not question or not answer:
        raise InvalidInput("A QA pair needs both a question and an answer.")
    if len(question) > MAX_TEXT or len(answer) > MAX_TEXT:
        raise InvalidInput(f"Questions and answers are limited to {MAX_TEXT} characters.")
    return question, answer


def _pair(ctx: Context, con: duckdb.DuckDBPyConnection, pair_uuid: str) -> dict:
    row = fetch_one(
        con,
        "SELECT q.*, p.name AS project_name, p.org_id FROM qa_pairs q JOIN projects p ON p.id = q.project_id"
        " WHERE q.uuid::VARCHAR = ? AND p.org_id = ?",
        [str(pair_uuid), ctx.org_id],
    )
    if row is None:
        raise NotFound(f"No QA pair {pair_uuid}.")
    return row


def create_pair(
    ctx: Context,
    wb: Workbench,
    project: str,
    question: str,
    answer: str,
    call_uuid: str | None = None,
) -> dict:
    """A hand-written pair in a project (optionally linked to a call), searchable at once: its
    row in `wb`'s store and its vector in `wb.vectors`."""
    ctx.require("qa:write")
    question, answer = _clean(question, answer)
    with wb.store.connect() as con:
        project_id = _project(ctx, con, project)
        call_id = call_browse.call_id_of(ctx, con, call_uuid) if call_uuid else None
    rows = [{"question": question, "answer": answer, "call_id": call_id, "source": "manual"}]
    return _insert(ctx, wb.store, wb.vectors, wb.embedder, project_id, rows)[0]


def update_pair(
    ctx: Context,
    wb: Workbench,
    pair_uuid: str,
    question: str,
    answer: str,
) -> dict:
    """Edit a pair's texts; its vector is replaced in the same step."""
    ctx.require("qa:write")
    question, answer = _clean(question, answer)
    store, vectors = wb.store, wb.vectors
    with store.connect() as con:
        row = _pair(ctx, con, pair_uuid)
    row |= {"question": question, "answer": answer}
    table = _vector_rows([row], row["org_id"], row["project_name"], wb.embedder, vectors)
    with _written_together(store, vectors, [row["uuid"]]) as con:
        con.execute(
            "UPDATE qa_pairs SET question = ?, answer = ?, updated_at = current_localtimestamp()"
            " WHERE id = ?",
            [question, answer, row["id"]],
        )
        vectors.delete_ids([str(row["uuid"])])
        vectors.add_chunks(table)
    return {"uuid": str(row["uuid"]), "question": question, "answer": answer}


def delete_pair(ctx: Context, wb: Workbench, pair_uuid: str) -> dict:
    """Delete a pair and its vector. Returns what was deleted, so a page can offer to restore it."""
    ctx.require("qa:write")
    with wb.store.connect() as con, atomic(con):
        row = _pair(ctx, con, pair_uuid)
        con.execute("DELETE FROM qa_pairs WHERE id = ?", [row["id"]])
    wb.vectors.delete_ids([str(row["uuid"])])
    return {k: row[k] for k in ("question", "answer", "source", "occurrences")} | {
        "project": row["project_name"]
    }


def _project(ctx: Context, con: duckdb.DuckDBPyConnection, project: str) -> int:
    """The project new pairs go to; an archived project takes none."""
    if not project:
        raise InvalidInput("Choose the project the QA pairs belong to.")
    return projects.writable_project_id(ctx, con, project)


# --- import and extraction -------------------------------------------------------------------
def import_pairs(
    ctx: Context,
    wb: Workbench,
    project: str,
    filename: str,
    data: bytes,
    threshold: float = DUPLICATE_SIMILARITY,
) -> dict:
    """Import a CSV with question and answer columns into `wb`, all or nothing; near-duplicates
    merge."""
    ctx.require("qa:write")
    rows = read_csv(filename, data)
    with wb.store.connect() as con:
        project_id = _project(ctx, con, project)
    for row in rows:
        row["source"] = "import"
    return _add_merging(ctx, wb, project_id, rows, threshold) | {"file": filename}


def read_csv(filename: str, data: bytes) -> list[dict]:
    """The rows of a QA CSV (UTF-8, or UTF-16 with its byte-order mark, tab-separated as Excel's
    "Unicode text" is), or an ImportReport naming every bad row. The quote an export put before a
    formula character is taken off (`csv_safe.restore`), so an exported CSV imports unchanged."""
    try:
        text = user_files.decode(data)
    except ValueError as exc:
        raise ImportReport(filename, [(None, str(exc))]) from None
    reader = csv.DictReader(io.StringIO(text), delimiter=user_files.separator(text))
    rows, problems = [], []
    try:
        columns = {c.strip().lower(): c for c in reader.fieldnames or []}
        if not {"question", "answer"} <= set(columns):
            raise ImportReport(filename, [(1, "the header needs the columns question and answer")])
        for number, raw in enumerate(reader, start=2):
            try:
                texts = [csv_safe.restore(raw.get(columns[c]) or "") for c in ("question", "answer")]
                question, answer = _clean(*texts)
            except InvalidInput as exc:
                problems.append((number, str(exc)))
                continue
            rows.append({"question": question, "answer": answer, "call_id": None})
    except csv.Error as exc:  # a field over the csv module's limit, a broken quote
        raise ImportReport(filename, [(reader.line_num or None, f"not valid CSV: {exc}")]) from None
    if problems:
        raise ImportReport(filename, problems)
    if not rows:
        raise ImportReport(filename, [(2, "the file has no QA pairs")])
    return rows


def is_question(text: str) -> bool:
    words = text.strip().lower().split()
    return "?" in text or bool(words) and words[0].strip(",") in QUESTION_WORDS


def extract_from_calls(
    ctx: Context,
    wb: Workbench,
    project: str,
    threshold: float = DUPLICATE_SIMILARITY,
) -> dict:
    """Mine a project's calls in `wb` for QA pairs: each customer question answered by the agent's
    next turn, linked to its call; questions already known (or repeated) raise the pair's count."""
    ctx.require("qa:write")
    with wb.store.connect() as con:
        project_id = _project(ctx, con, project)
        turns = con.execute(
            "SELECT call_id, role, content, lead(role) OVER w, lead(content) OVER w FROM utterances"
            " WHERE project_id = ? WINDOW w AS (PARTITION BY call_id ORDER BY utterance_index, id)"
            " ORDER BY call_id, utterance_index",
            [project_id],
        ).fetchall()
    rows = [
        {
            "question": " ".join(q.split()),
            "answer": " ".join(a.split()),
            "call_id": call_id,
            "source": "extracted",
        }
        for call_id, role, q, next_role, a in turns
        if role == "customer" and next_role == "agent" and q and a and is_question(q) and len(a.split()) >= 3
    ]
    return _add_merging(ctx, wb, project_id, rows, threshold) | {"found": len(rows)}


def _add_merging(ctx, wb: Workbench, project_id: int, rows: list[dict], threshold: float) -> dict:
    """Insert `rows`, folding each near-duplicate question into the pair it repeats."""
    store, vectors, embedder = wb.store, wb.vectors, wb.embedder
    with store.connect() as con:
        known = fetch_dicts(
            con,
            "SELECT id, question, occurrences FROM qa_pairs WHERE project_id = ? ORDER BY id",
            [project_id],
        )
    texts = [k["question"] for k in known] + [r["question"] for r in rows]
    matrix, _ = embed_texts(embedder, texts, cache=vectors)
    kept: list[int] = list(range(len(known)))  # indexes into texts of the pairs that stay
    counts = {i: 0 for i in range(len(texts))}
    new: list[int] = []
    for i in range(len(known), len(texts)):
        if kept:
            sims = matrix[kept] @ matrix[i]
            best = int(np.argmax(sims))
            if sims[best] >= threshold:
                counts[kept[best]] += 1
                continue
        kept.append(i)
        new.append(i)
    fresh = [rows[i - len(known)] | {"occurrences": 1 + counts[i]} for i in new]
    bumped = [(counts[i], known[i]["id"]) for i in range(len(known)) if counts[i]]
    created = _insert(ctx, store, vectors, embedder, project_id, fresh, bumped)
    return {"created": len(created), "merged": len(rows) - len(created)}


def merge_duplicates(
    ctx: Context,
    wb: Workbench,
    project: str,
    threshold: float = DUPLICATE_SIMILARITY,
) -> dict:
    """Fold a project's stored near-duplicate pairs in `wb` into the oldest of each group."""
    ctx.require("qa:write")
    store, vectors = wb.store, wb.vectors
    with store.connect() as con:
        project_id = _project(ctx, con, project)
        pairs = fetch_dicts(
            con,
            "SELECT id, uuid::VARCHAR AS uuid, question, occurrences FROM qa_pairs WHERE project_id = ?"
            " ORDER BY created_at, id",
            [project_id],
        )
    matrix, _ = embed_texts(wb.embedder, [p["question"] for p in pairs], cache=vectors)
    kept, into = [], {}
    for i in range(len(pairs)):
        sims = matrix[kept] @ matrix[i] if kept else np.zeros(0)
        if len(sims) and sims.max() >= threshold:
            into[i] = kept[int(np.argmax(sims))]
        else:
            kept.append(i)
    totals: dict[int, int] = {}
    for dup, keeper in into.items():
        totals[keeper] = totals.get(keeper, pairs[keeper]["occurrences"]) + pairs[dup]["occurrences"]
    gone = [pairs[i]["uuid"] for i in into]
    with store.connect() as con, atomic(con):
        _many(
            con,
            "UPDATE qa_pairs SET occurrences = ? WHERE id = ?",
            [(n, pairs[k]["id"]) for k, n in totals.items()],
        )
        con.execute("DELETE FROM qa_pairs WHERE uuid::VARCHAR IN (SELECT unnest(?))", [gone])
    vectors.delete_ids(gone)
    return {"merged": len(gone), "kept": len(kept)}


# --- writing rows and vectors together ---------------------------------------------------------
def _insert(ctx, store, vectors, embedder, project_id: int, rows: list[dict], bumped=()) -> list[dict]:
    with store.connect() as con:
        project = fetch_one(con, "SELECT name, org_id FROM projects WHERE id = ?", [project_id])
        uuids = [r[0] for r in con.execute("SELECT uuid()::VARCHAR FROM range(?)", [len(rows)]).fetchall()]
    rows = [
        r | {"uuid": u, "project_id": project_id, "created_by": ctx.user_id}
        for r, u in zip(rows, uuids, strict=True)
    ]
    table = _vector_rows(rows, project["org_id"], project["name"], embedder, vectors)
    with _written_together(store, vectors, uuids) as con:
        _many(
            con,
            "INSERT INTO qa_pairs (uuid, project_id, call_id, question, answer, created_by, source,"
            " occurrences)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    r["uuid"],
                    project_id,
                    r.get("call_id"),
                    r["question"],
                    r["answer"],
                    ctx.user_id,
                    r["source"],
                    r.get("occurrences", 1),
                )
                for r in rows
            ],
        )
        _many(con, "UPDATE qa_pairs SET occurrences = occurrences + ? WHERE id = ?", list(bumped))
        vectors.add_chunks(table)
    return [{"uuid": r["uuid"], "question": r["question"], "answer": r["answer"]} for r in rows]


def _many(con: duckdb.DuckDBPyConnection, sql: str, rows: list) -> None:
    if rows:  # DuckDB refuses an empty executemany
        con.executemany(sql, rows)


@contextmanager
def _written_together(store: Store, vectors: VectorStore, chunk_ids: list[str]):
    """A transaction whose vector writes are undone if it fails to commit."""
    try:
        with store.connect() as con, atomic(con):
            yield con
    except BaseException:
        vectors.delete_ids([str(u) for u in chunk_ids])
        raise


def text_of(question: str, answer: str) -> str:
    return f"Question: {question}\nAnswer: {answer}"


def _vector_rows(rows: list[dict], org_id: int, project_name: str, embedder: Embedder, cache) -> pa.Table:
    texts = [text_of(r["question"], r["answer"]) for r in rows]
    matrix, _ = embed_texts(embedder, texts, cache=cache)
    dim = matrix.shape[1] if len(rows) else getattr(embedder, "dim", 384)
    schema = chunk_schema(dim)
    columns = {
        "id": [str(r["uuid"]) for r in rows],
        "org_id": [org_id] * len(rows),
        "owner_id": [r.get("created_by") or 0 for r in rows],
        "scope": ["project"] * len(rows),
        "project_id": [r["project_id"] for r in rows],
        "document_uuid": [str(r["uuid"]) for r in rows],
        "chunk_index": [0] * len(rows),
        "doc_type": [DOC_TYPE] * len(rows),
        "section": [project_name] * len(rows),
        "title": [r["question"][:120] for r in rows],
        "filename": ["QA pairs"] * len(rows),
        "text": texts,
        "content_hash": [content_hash(t) for t in texts],
        "audience": [""] * len(rows),
    }
    arrays = [
        pa.array(columns.get(f.name, [None] * len(rows)), f.type)
        if f.name != "vector"
        else pa.FixedSizeListArray.from_arrays(pa.array(matrix.astype(np.float32).ravel()), dim)
        for f in schema
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def embed_missing(store: Store, vectors: VectorStore, embedder: Embedder) -> int:
    """Give every QA pair without a vector one (the demo's pairs, a repair). Returns how many."""
    have = vectors.chunk_ids(f"doc_type = {quote(DOC_TYPE)}")
    with store.connect() as con:
        rows = fetch_dicts(
            con,
            "SELECT q.uuid::VARCHAR AS uuid, q.project_id, q.question, q.answer, q.created_by, p.org_id,"
            " p.name AS project_name FROM qa_pairs q JOIN projects p ON p.id = q.project_id ORDER BY q.id",
        )
    missing = [r for r in rows if r["uuid"] not in have]
    for project_id in sorted({r["project_id"] for r in missing}):
        part = [r for r in missing if r["project_id"] == project_id]
        vectors.add_chunks(_vector_rows(part, part[0]["org_id"], part[0]["project_name"], embedder, vectors))
    return len(missing)
