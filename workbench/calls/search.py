"""Search over call utterances: keyword search in DuckDB, semantic search over the utterances'
embeddings in LanceDB (table "utterances"), both limited to the acting user's organisation. The
embeddings are written after an import by `embed_calls`; a call waiting for them has
calls.embedded_at NULL and is found by keyword search only."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

import duckdb
import numpy as np
import pyarrow as pa
from lancedb.index import Bitmap, BTree

from workbench import markup
from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.db import Store, fetch_dicts
from workbench.errors import InvalidInput
from workbench.search.embed import Embedder, embed_texts
from workbench.search.vectors import VectorStore

if TYPE_CHECKING:
    from workbench.home import Workbench

UTTERANCES = "utterances"
MODES = ("keyword", "semantic")
INDEXES = {"org_id": Bitmap, "project_id": Bitmap, "call_id": BTree}
CALLS_PER_BATCH = 500
_TERM = re.compile(r"\w[\w'-]*", re.UNICODE)

_HIT_SQL = """
SELECT u.id, c.uuid::VARCHAR AS call_uuid, c.external_id, p.name AS project, u.role, u.content,
       u.utterance_index, u.sentiment, c.started_at, c.intent
FROM utterances u JOIN calls c ON c.id = u.call_id JOIN projects p ON p.id = u.project_id
WHERE p.org_id = ? AND (?::INTEGER IS NULL OR p.id = ?)
"""


def pending_calls(con: duckdb.DuckDBPyConnection, project_id: int | None = None) -> list[int]:
    """Calls whose utterances are not embedded yet (all projects, or one)."""
    rows = con.execute(
        "SELECT id FROM calls WHERE embedded_at IS NULL AND (?::INTEGER IS NULL OR project_id = ?)"
        " ORDER BY id",
        [project_id, project_id],
    ).fetchall()
    return [r[0] for r in rows]


def embed_calls(
    store: Store,
    vectors: VectorStore,
    embedder: Embedder,
    call_ids: list[int],
    progress: Callable[[int, int], None] | None = None,
) -> dict:
    """Embed the utterances of these calls into LanceDB (replacing the calls' older vectors) and
    mark the calls embedded. Returns counts, the projects touched and the seconds spent."""
    began, done, touched = time.perf_counter(), 0, set()
    for start in range(0, len(call_ids), CALLS_PER_BATCH):
        part = call_ids[start : start + CALLS_PER_BATCH]
        with store.connect() as con:
            rows = con.sql(
                "SELECT u.id, u.call_id, u.project_id, p.org_id, u.role, u.content FROM utterances u"
                " JOIN projects p ON p.id = u.project_id WHERE u.call_id IN (SELECT unnest(?))"
                " ORDER BY u.id",
                params=[part],
            ).to_arrow_table()
        texts = [t or "" for t in rows.column("content").to_pylist()]
        matrix, _batches = embed_texts(embedder, texts, cache=vectors)
        _replace(vectors, part, rows.drop_columns(["content"]), matrix)
        with store.connect() as con:
            con.execute(
                "UPDATE calls SET embedded_at = current_localtimestamp() WHERE id IN (SELECT unnest(?))",
                [part],
            )
        done += rows.num_rows
        touched.update(rows.column("project_id").to_pylist())
        if progress:
            progress(min(start + CALLS_PER_BATCH, len(call_ids)), len(call_ids))
    return {
        "calls": len(call_ids),
        "utterances": done,
        "projects": sorted(touched),
        "seconds": round(time.perf_counter() - began, 2),
    }


def _replace(vectors: VectorStore, call_ids: list[int], rows: pa.Table, matrix: np.ndarray) -> None:
    forget_calls(vectors, call_ids)
    if rows.num_rows == 0:
        return
    column = pa.FixedSizeListArray.from_arrays(pa.array(matrix.astype(np.float32).ravel()), matrix.shape[1])
    vectors.append(UTTERANCES, rows.append_column("vector", column), INDEXES)


def forget_calls(vectors: VectorStore, call_ids: list[int]) -> None:
    """Drop the utterance vectors of these calls (their rows changed or are gone)."""
    table = vectors.table(UTTERANCES)
    for start in range(0, len(call_ids), 1000):
        part = call_ids[start : start + 1000]
        if table is not None and part:
            table.delete(f"call_id IN ({', '.join(str(int(i)) for i in part)})")


def customer_vectors(vectors: VectorStore, project_id: int) -> tuple[np.ndarray, np.ndarray]:
    """(call ids, vectors) of the customers' utterances in a project: what intents cluster on."""
    table = vectors.table(UTTERANCES)
    if table is None:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    rows = (
        table.search()
        .where(f"project_id = {int(project_id)} AND role = 'customer'")
        .select(["id", "call_id", "vector"])
        .limit(None)
        .to_arrow()
    )
    if rows.num_rows == 0:
        return np.zeros(0, np.int64), np.zeros((0, 0), np.float32)
    rows = rows.sort_by("id")  # the order they were said in
    flat = rows.column("vector").combine_chunks()
    matrix = flat.values.to_numpy(zero_copy_only=False).reshape(len(flat), flat.type.list_size)
    return rows.column("call_id").to_numpy(), matrix


def terms_of(query: str) -> list[str]:
    """The words of a query, lower-cased, each once; words of one or two letters only when the
    query has nothing longer ("my", "to" would match almost every utterance)."""
    words = list(dict.fromkeys(t.lower() for t in _TERM.findall(query) if len(t) > 1 or t.isdigit()))
    return [w for w in words if len(w) > 2 or w.isdigit()] or words


def search_utterances(
    ctx: Context,
    wb: Workbench,
    query: str,
    *,
    mode: str = "keyword",
    project: str | None = None,
    k: int = 50,
) -> list[dict]:
    """Utterances of the organisation's calls matching `query`: every word (keyword mode, phrase
    matches first) or closest in meaning (semantic mode, the query embedded with `wb.embedder`),
    with the call each belongs to."""
    ctx.require("calls:read")
    if mode not in MODES:
        raise InvalidInput(f"Search mode must be one of {', '.join(MODES)}.")
    if not 1 <= k <= 500:
        raise InvalidInput("k must be between 1 and 500.")
    terms = terms_of(query)
    if not terms:
        raise InvalidInput("Type a word or a question to search for.")
    with wb.store.connect() as con:
        project_id = projects.project_id_of(ctx, con, project)
        if mode == "keyword":
            return _keyword(ctx, con, query, terms, project_id, k)
        return _semantic(ctx, con, wb.vectors, wb.embedder, query, project_id, k)


def _keyword(ctx, con, query: str, terms: list[str], project_id, k: int) -> list[dict]:
    each = " AND ".join("contains(lower(u.content), ?)" for _ in terms)
    hits = fetch_dicts(
        con,
        _HIT_SQL + f" AND {each} ORDER BY contains(lower(u.content), ?) DESC, length(u.content),"
        " c.started_at DESC, u.id LIMIT ?",
        [ctx.org_id, project_id, project_id, *terms, " ".join(query.lower().split()), k],
    )
    return [h | {"score": None, "terms": terms} for h in hits]


def _semantic(
    ctx, con, vectors: VectorStore, embedder: Embedder, query: str, project_id, k: int
) -> list[dict]:
    table = vectors.table(UTTERANCES)
    if table is None:
        return []
    where = f"org_id = {int(ctx.org_id)}" + (f" AND project_id = {int(project_id)}" if project_id else "")
    qvec = embedder.encode([query])[0].astype(np.float32)
    found = (
        table.search(qvec, vector_column_name="vector")
        .distance_type("cosine")
        .where(where, prefilter=True)
        .select(["id", "_distance"])
        .limit(k)
        .to_arrow()
    )
    similarity = {
        i: 1 - d for i, d in zip(found["id"].to_pylist(), found["_distance"].to_pylist(), strict=True)
    }
    # the rows come from DuckDB: a vector whose utterance is gone (re-imported call) is dropped
    rows = fetch_dicts(
        con,
        _HIT_SQL + " AND u.id IN (SELECT unnest(?))",
        [ctx.org_id, project_id, project_id, list(similarity)],
    )
    terms = terms_of(query)
    ranked = sorted(rows, key=lambda r: -similarity[r["id"]])
    return [r | {"score": round(float(similarity[r["id"]]), 3), "terms": terms} for r in ranked]


def highlight(text: str, terms: list[str]) -> str:
    """`text` as HTML with the query's words marked (escaped, and its Markdown images inert: safe to
    render as Markdown with HTML allowed)."""
    if not terms:
        return markup.inert(html.escape(text))
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    out, last = [], 0
    for match in pattern.finditer(text):
        out += [html.escape(text[last : match.start()]), f"<mark>{html.escape(match.group(0))}</mark>"]
        last = match.end()
    return markup.inert("".join(out) + html.escape(text[last:]))
