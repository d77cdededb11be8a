"""LanceDB: chunk vectors with the metadata that filters them safely, a full-text index on the
text, the embedding cache, and the one search function of the product (hybrid: vector + full
text fused by their scaled scores, with tenant, scope and document prefilters applied inside LanceDB)."""

from __future__ import annotations

import logging
import threading
import time
import uuid as uuidlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import lancedb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from lancedb.index import FTS, Bitmap, BTree, IvfHnswSq

from workbench.accounts.context import Context
from workbench.errors import InvalidInput
from workbench.search import SEARCH_MODES
from workbench.search.embed import Embedder
from workbench.text import nameless

log = logging.getLogger(__name__)

CHUNKS = "chunks"
CACHE = "embedding_cache"
KNOWN_TABLES = (CHUNKS, CACHE, "utterances")  # calls.search.UTTERANCES (an area above this one)
# Hybrid search's weight on the cosine side (the full-text side gets the rest): a convex fusion of
# the two min-max-scaled scores, which beat reciprocal-rank fusion on both of bench/rag_eval.py's
# corpora, where RRF fell below its better half when the other half was weak.
VECTOR_WEIGHT = 0.6
# Then, for a question that names someone or something, the first RERANK_DEPTH are ranked again with
# the cosine of the question without its names (text.nameless, and without the words of the leading
# hit's subject when the question names it) added at NAMELESS_WEIGHT: the whole question's meaning
# is mostly whom it is about, which every section on that subject shares; what is asked tells the
# sections apart. A question without names keeps the fused order.
RERANK_DEPTH, NAMELESS_WEIGHT = 20, 0.75
MODES = SEARCH_MODES
KINDS = (None, "documents", "code")
# HNSW graphs (scalar-quantised) inside at most ANN_NPROBES partitions, all of them searched; the
# refine step re-ranks 2x k candidates on full vectors. At 200k chunks under the tenant filter,
# recall@10 against flat search: refine 2 / ef 64 1.000, no refine 0.962, where IVF-PQ needed
# refine 30 (bench, 2026-11-23).
ANN_NPROBES = 4
ANN_EF = 64
ANN_REFINE = 2
ROWS_PER_PARTITION = 500_000
_POOL = ThreadPoolExecutor(max_workers=4, thread_name_prefix="search")

METADATA = [
    ("id", pa.string()),  # document_chunks.uuid
    ("org_id", pa.int32()),
    ("owner_id", pa.int32()),
    ("scope", pa.string()),  # user / project / global
    ("project_id", pa.int32()),
    ("conversation_id", pa.int32()),
    ("document_id", pa.int32()),
    ("document_uuid", pa.string()),
    ("code_file_id", pa.int32()),
    ("repo_id", pa.int32()),
    ("chunk_index", pa.int32()),
    ("doc_type", pa.string()),
    ("page_number", pa.int32()),
    ("section", pa.string()),
    ("title", pa.string()),
    ("filename", pa.string()),
    ("start_line", pa.int32()),
    ("end_line", pa.int32()),
    ("text", pa.string()),
    ("content_hash", pa.string()),
    # who may read the row, one indexed value: "o<org>" for global and project rows, "o<org>u<owner>"
    # for private ones, with "c<conversation>" appended for chat uploads. Derived in add_chunks;
    # one IN on it replaces org + scope/owner + conversation predicates (hybrid p95 -5 ms at 200k)
    ("audience", pa.string()),
]
# what a hit shows; the other metadata is for filters
HIT_COLUMNS = [
    "id",
    "document_uuid",
    "title",
    "filename",
    "page_number",
    "section",
    "text",
    "doc_type",
    "start_line",
    "end_line",
]


def chunk_schema(dim: int) -> pa.Schema:
    """The LanceDB chunk table: metadata columns plus a fixed-size float32 vector."""
    return pa.schema(METADATA + [("vector", pa.list_(pa.float32(), dim))])


@dataclass(frozen=True)
class Hit:
    """One retrieved chunk: where it comes from and how it ranked."""

    chunk_id: str
    document_uuid: str | None
    title: str
    filename: str
    page_number: int | None
    section: str | None
    text: str
    score: float  # fused score, 0-1 (higher is better)
    similarity: float  # cosine similarity of the chunk to the question, 0-1
    vector_rank: int | None
    text_rank: int | None
    doc_type: str | None = None
    start_line: int | None = None
    end_line: int | None = None


class VectorStore:
    """The LanceDB database of one data home (a folder or an object-store URI)."""

    def __init__(self, uri: str, storage_options: dict | None = None) -> None:
        self.uri = uri
        self._db = lancedb.connect(uri, storage_options=storage_options or None)
        self._lock = threading.RLock()
        self._current = False  # the chunk table has been checked for the current schema

    def _table(self, name: str):
        try:
            return self._db.open_table(name)
        except (ValueError, FileNotFoundError):
            return None

    def chunks(self):
        """The chunk table, or None before the first ingest."""
        table = self._table(CHUNKS)
        if table is not None and not self._current:
            table = self._upgrade(table)
        return table

    def _upgrade(self, table):
        """Rewrite a chunk table written before the `audience` column existed (once per home)."""
        with self._lock:
            if self._current:  # another thread upgraded it while this one waited
                return self._table(CHUNKS)
            table = self._table(CHUNKS)  # a fresh handle: an older one does not see later writes
            if "audience" not in table.schema.names:
                had_ann = self.has_ann_index(table)
                rows = table.to_arrow()
                log.info("adding the audience column to %d chunk rows", rows.num_rows)
                table = self._create_chunks(with_audience(rows), mode="overwrite")
                if had_ann:
                    self.build_ann_index(min_rows=1)
            self._current = True
        return table

    def _create_chunks(self, rows: pa.Table, mode: str = "create"):
        """The chunk table with its indexes; "create" fails if another process made it meanwhile."""
        dim = rows.schema.field("vector").type.list_size
        schema = chunk_schema(dim)
        table = self._db.create_table(CHUNKS, rows.select(schema.names).cast(schema), mode=mode)
        table.create_index("text", config=FTS(with_position=False))
        _ensure_scalar_indexes(table)
        return table

    def add_chunks(self, rows: pa.Table) -> None:
        """Append chunk rows; creates the table and its full-text index the first time."""
        if rows.num_rows == 0:
            return
        rows = with_audience(rows)
        with self._lock:
            table = self.chunks()
            if table is None:
                self._create_chunks(rows)
            else:
                table.add(rows.select(table.schema.names).cast(table.schema))

    def delete(self, predicate: str) -> None:
        """Delete chunk rows matching a LanceDB predicate built by this package."""
        table = self.chunks()
        if table is not None:
            table.delete(predicate)

    def delete_ids(self, chunk_ids: list[str]) -> None:
        """Delete chunk rows by id, in batches of 500 ids."""
        for start in range(0, len(chunk_ids), 500):
            self.delete(f"id IN ({', '.join(map(quote, chunk_ids[start : start + 500]))})")

    def count(self, predicate: str | None = None) -> int:
        table = self.chunks()
        return 0 if table is None else table.count_rows(predicate)

    def chunk_ids(self, predicate: str | None = None) -> set[str]:
        """Ids of the stored chunk rows (for the consistency check)."""
        table = self.chunks()
        if table is None:
            return set()
        query = table.search().select(["id"]).limit(None)
        if predicate:
            query = query.where(predicate)
        return set(query.to_arrow().column("id").to_pylist())

    # --- other tables (call utterances) ------------------------------------------------------
    def table(self, name: str):
        """Another table of this database (e.g. utterance vectors), or None before its first rows."""
        return self._table(name)

    def append(self, name: str, rows: pa.Table, indexes: dict | None = None) -> None:
        """Append rows to table `name`, creating it (with these scalar indexes) the first time."""
        if rows.num_rows == 0:
            return
        with self._lock:
            table = self._table(name)
            if table is None:
                table = self._db.create_table(name, rows)
                for column, kind in (indexes or {}).items():
                    table.create_index(column, config=kind())
            else:
                table.add(rows.select(table.schema.names).cast(table.schema))

    # --- embedding cache -------------------------------------------------------------------
    def cached_vectors(self, model: str, hashes: list[str]) -> dict[str, np.ndarray]:
        """Vectors already computed by `model` for these content hashes."""
        table = self._table(CACHE)
        if table is None or not hashes:
            return {}
        found: dict[str, np.ndarray] = {}
        for start in range(0, len(hashes), 500):
            part = hashes[start : start + 500]
            where = f"model = {quote(model)} AND content_hash IN ({', '.join(map(quote, part))})"
            rows = table.search().where(where).select(["content_hash", "vector"]).limit(None).to_arrow()
            vectors = _matrix(rows.column("vector")) if rows.num_rows else []
            found.update(zip(rows.column("content_hash").to_pylist(), vectors, strict=True))
        return found

    def cache_vectors(self, model: str, hashes: list[str], vectors: np.ndarray) -> None:
        """Remember vectors by content hash so an unchanged chunk is never embedded twice."""
        if not hashes:
            return
        dim = vectors.shape[1]
        rows = pa.table(
            {
                "model": pa.array([model] * len(hashes)),
                "content_hash": pa.array(hashes),
                "vector": pa.FixedSizeListArray.from_arrays(
                    pa.array(vectors.astype(np.float32).ravel()), dim
                ),
            }
        )
        with self._lock:
            table = self._table(CACHE)
            if table is None:
                self._db.create_table(CACHE, rows)
            else:
                (table.merge_insert(["model", "content_hash"]).when_not_matched_insert_all().execute(rows))

    # --- moving between stores (a data home into a team deployment and back) ------------------
    def table_names(self) -> list[str]:
        """The tables of this store. An S3-compatible server may list none (s3rver does not answer
        LanceDB's listing), so the tables the workbench makes are looked for by name too."""
        listed = set(self._db.list_tables().tables)
        return sorted(listed | {name for name in KNOWN_TABLES if self._table(name) is not None})

    def drop(self, name: str) -> None:
        self._db.drop_table(name)
        self._current = False

    def copy_to(self, other: VectorStore) -> dict[str, int]:
        """Copy every table, with its rows and indexes, into an empty store `other`; rows by table."""
        if other.table_names():
            raise InvalidInput(f"The vector store at {other.uri} is not empty; nothing was copied.")
        counts = {}
        for name in self.table_names():
            source = self._db.open_table(name)
            rows = source.to_arrow()
            target = other._db.create_table(name, rows, schema=source.schema)
            for index in source.list_indices():
                kind = str(index.index_type).upper()
                if kind == "FTS":
                    target.create_index(index.columns[0], config=FTS(with_position=False))
                elif kind in ("BTREE", "BITMAP"):
                    target.create_index(index.columns[0], config=BTree() if kind == "BTREE" else Bitmap())
                elif index.columns == ["vector"] and rows.num_rows:
                    partitions = max(1, min(ANN_NPROBES, rows.num_rows // ROWS_PER_PARTITION))
                    target.create_index("vector", config=IvfHnswSq(distance_type="cosine",
                                                                   num_partitions=partitions))
            counts[name] = target.count_rows()
        return counts

    # --- indexes ---------------------------------------------------------------------------
    def has_ann_index(self, table=None) -> bool:
        table = table if table is not None else self.chunks()
        return table is not None and any(i.columns == ["vector"] for i in table.list_indices())

    def build_ann_index(self, min_rows: int) -> str:
        """Keep indexes current: fold new rows in, and build the HNSW vector index once the table
        has `min_rows` rows. Slow at scale (a minute at 200k): run it in the background."""
        table = self.chunks()
        rows = 0 if table is None else table.count_rows()
        if table is None:
            return "no chunks yet"
        began = time.perf_counter()
        _ensure_scalar_indexes(table)
        if rows < min_rows:
            table.optimize()  # folds new rows into the full-text index and compacts small appends
            return f"{rows} chunks: below {min_rows}, flat vector search is exact and fast enough"
        if self.has_ann_index():
            table.optimize()
            return f"index refreshed in {time.perf_counter() - began:.1f} s"
        partitions = max(1, min(ANN_NPROBES, rows // ROWS_PER_PARTITION))
        table.create_index("vector", config=IvfHnswSq(distance_type="cosine", num_partitions=partitions))
        return f"HNSW index on {rows} chunks built in {time.perf_counter() - began:.1f} s"

    def optimize(self) -> None:
        """Fold new rows into the full-text and vector indexes."""
        table = self.chunks()
        if table is not None:
            table.optimize()

    # --- queries ---------------------------------------------------------------------------
    def vector_query(self, vector: np.ndarray, where: str, k: int, table=None, ann: bool | None = None,
                     with_vectors: bool = False):
        """The k nearest chunks under `where` (pass `table` and `ann` to skip reopening the table)."""
        table = table if table is not None else self.chunks()
        ann = self.has_ann_index(table) if ann is None else ann
        query = table.search(vector.astype(np.float32), vector_column_name="vector").distance_type("cosine")
        if ann:
            # HNSW needs ef >= the candidates it returns (k x refine)
            query = query.nprobes(ANN_NPROBES).ef(max(ANN_EF, k * ANN_REFINE)).refine_factor(ANN_REFINE)
        # no vector column: similarity comes from the exact distance, and the slower side reads less
        wanted = HIT_COLUMNS + (["vector"] if with_vectors else []) + ["_distance"]
        query = query.where(where, prefilter=True).select(wanted)
        return query.limit(k).to_arrow()

    def text_query(self, text: str, where: str, k: int, table=None) -> pa.Table:
        """The k best full-text matches under `where`."""
        table = table if table is not None else self.chunks()
        query = table.search(text, query_type="fts", fts_columns="text")
        query = query.where(where, prefilter=True).select(HIT_COLUMNS + ["vector", "_score"])
        return query.limit(k).to_arrow()


# Scalar indexes on the prefilter's columns: the tenant filter is evaluated on every query, and
# at 200k chunks they cut hybrid search from 48 to 36 ms at p50 (bench, 2026-11-23).
SCALAR_INDEXES = {
    "audience": Bitmap,
    "org_id": Bitmap,
    "document_uuid": BTree,
    "document_id": BTree,
    "code_file_id": BTree,
}


def _ensure_scalar_indexes(table) -> None:
    indexed = {tuple(i.columns) for i in table.list_indices()}
    for column, kind in SCALAR_INDEXES.items():
        if (column,) not in indexed:
            table.create_index(column, config=kind())


def with_audience(rows: pa.Table) -> pa.Table:
    """`rows` with the audience column derived from org, scope, owner and conversation."""
    text = lambda column: pc.cast(rows.column(column), pa.string())  # noqa: E731
    org = pc.binary_join_element_wise("o", text("org_id"), "")
    # organisation-wide only for the scopes documents.VISIBLE opens; anything else stays the owner's
    shared = pc.fill_null(pc.is_in(rows.column("scope"), pa.array(["global", "project"])), False)
    owner = pc.if_else(shared, "", pc.binary_join_element_wise("u", text("owner_id"), ""))
    chat = pc.fill_null(pc.binary_join_element_wise("c", text("conversation_id"), ""), "")
    audience = pc.binary_join_element_wise(org, owner, chat, "")
    if "audience" in rows.column_names:
        return rows.set_column(rows.column_names.index("audience"), "audience", audience)
    return rows.append_column("audience", audience)


def _matrix(column: pa.ChunkedArray) -> np.ndarray:
    """A vector column as an (n, dim) float32 matrix."""
    flat = column.combine_chunks()
    if pa.types.is_fixed_size_list(flat.type):
        return flat.values.to_numpy(zero_copy_only=False).reshape(len(flat), flat.type.list_size)
    return np.asarray(flat.to_pylist(), dtype=np.float32)


def quote(value: str) -> str:
    """A string literal for a LanceDB predicate."""
    return "'" + value.replace("'", "''") + "'"


def visible_filter(
    ctx: Context,
    document_uuids: list[str] | None = None,
    conversation_id: int | None = None,
    kind: str | None = None,
) -> str:
    """The LanceDB prefilter for what `ctx` may read: own organisation; global, project or own
    documents, plus own uploads to this chat; optionally only some documents. Built from integers
    and parsed UUIDs only. Same rule as documents.VISIBLE, spelled through the audience column."""
    org, own = f"o{int(ctx.org_id)}", f"u{int(ctx.user_id)}"
    audiences = [org, org + own]
    if conversation_id is not None:
        chat = f"c{int(conversation_id)}"
        audiences += [org + chat, org + own + chat]
    parts = [f"audience IN ({', '.join(map(quote, audiences))})"]
    if kind is not None:  # documents only, or code only
        parts.append("code_file_id IS NULL" if kind == "documents" else "code_file_id IS NOT NULL")
    if document_uuids is not None:
        ids = [_parse_uuid(u) for u in document_uuids]
        parts.append(f"document_uuid IN ({', '.join(map(quote, ids))})" if ids else "false")
    return " AND ".join(parts)


def _parse_uuid(value: str) -> str:
    try:
        return str(uuidlib.UUID(str(value)))
    except ValueError:
        raise InvalidInput(f"Not a document id: {value!r}") from None


def search(
    ctx: Context,
    store: VectorStore,
    embedder: Embedder,
    query: str,
    k: int = 10,
    document_uuids: list[str] | None = None,
    mode: str = "hybrid",
    conversation_id: int | None = None,
    kind: str | None = None,
) -> list[Hit]:
    """The chunks `ctx` may read that best match `query`: hybrid by default."""
    ctx.require("documents:read")
    query = query.strip()
    if not query:
        raise InvalidInput("Type something to search for.")
    if mode not in MODES:
        raise InvalidInput(f"Search mode must be one of {', '.join(MODES)}.")
    if not 1 <= k <= 100:
        raise InvalidInput("k must be between 1 and 100.")
    table = store.chunks()
    if table is None:
        return []
    if kind not in KINDS:
        raise InvalidInput(f"Search kind must be one of {', '.join(k for k in KINDS if k)}.")
    where = visible_filter(ctx, document_uuids, conversation_id, kind)
    asked = nameless(query) if mode == "hybrid" else query
    qvecs = embedder.encode([query, asked] if asked != query else [query])
    qvec, focus = qvecs[0], None

    def focus_on(title: str) -> np.ndarray:
        """The question without its names (and without the subject of the leading hit's title when
        it names it: one more short embedding)"""
        about = nameless(query, title)
        return qvecs[1] if about == asked else embedder.encode([about])[0]

    if asked != query:  # a question naming someone
        focus = focus_on
    depth = max(k * 2, 20)
    empty = pa.table({})
    # the two searches run side by side: LanceDB releases the GIL, so latency is the slower one
    text_future = _POOL.submit(store.text_query, query, where, depth, table) if mode != "vector" else None
    by_vector = empty
    if mode != "text":
        by_vector = store.vector_query(qvec, where, depth, table, store.has_ann_index(table),
                                       with_vectors=focus is not None)
    by_text = text_future.result() if text_future else empty
    return fuse(by_vector, by_text, qvec, k, focus)


def _rerank(scored: list[str], fused: dict[str, float], stored: dict[str, np.ndarray],
            focus: np.ndarray) -> list[str]:
    """The first RERANK_DEPTH of `scored` by their fused score plus NAMELESS_WEIGHT times their
    cosine to `focus`, over 1 + NAMELESS_WEIGHT (so 0-1 still); the rest keep their order after."""
    focus = focus.astype(np.float32) / (np.linalg.norm(focus) or 1)
    top = [cid for cid in scored[:RERANK_DEPTH] if cid in stored]
    for cid in top:
        fused[cid] = (fused[cid] + NAMELESS_WEIGHT * float(stored[cid] @ focus)) / (1 + NAMELESS_WEIGHT)
    again = sorted(top, key=lambda cid: (-fused[cid], cid))
    placed = set(again)
    return again + [cid for cid in scored if cid not in placed]


def _cost(table: pa.Table, kind: str) -> np.ndarray:
    """What ranks a list: the vector distance, the negated text score, else the list's own order."""
    column = "_distance" if kind == "vector" else "_score"
    if column not in table.column_names:
        return np.arange(table.num_rows)
    values = table.column(column).to_numpy(zero_copy_only=False)
    return values if kind == "vector" else -values


def _tied_ranks(cost: np.ndarray) -> list[int]:
    """1-based ranks by ascending cost where equal costs share the best rank (1, 2, 2, 4)."""
    ordered = np.sort(cost)
    return (np.searchsorted(ordered, cost, side="left") + 1).tolist()


def fuse(by_vector: pa.Table, by_text: pa.Table, qvec: np.ndarray, k: int,
         focus: np.ndarray | Callable[[str], np.ndarray] | None = None) -> list[Hit]:
    """Convex fusion of the two result lists: each candidate's cosine similarity to the question,
    min-max scaled over all candidates, weighted VECTOR_WEIGHT, plus its full-text score as a share
    of the best one's (0 where full text did not find it), weighted the rest. One list alone keeps
    its own order. Cosine similarity is kept for confidence. With `focus` (the nameless question's
    vector, or a function of the leading hit's title giving it), the first RERANK_DEPTH are ranked
    again (see NAMELESS_WEIGHT)."""
    rows: dict[str, dict] = {}
    stored: dict[str, np.ndarray] = {}
    ranks: dict[str, dict[str, int]] = {}
    strength: dict[str, float] = {}
    for kind, table in (("vector", by_vector), ("text", by_text)):
        if table.num_rows == 0:
            continue
        if "_distance" not in table.column_names:  # full text: the question's cosine from the vectors
            matrix = _matrix(table.column("vector"))
            similarity = matrix @ qvec.astype(np.float32) / (np.linalg.norm(qvec) or 1)
        else:  # cosine distance, exact (flat search, or HNSW with its refine step on full vectors)
            similarity = 1.0 - table.column("_distance").to_numpy(zero_copy_only=False)
        if focus is not None and "vector" in table.column_names:
            stored.update(zip(table.column("id").to_pylist(), _matrix(table.column("vector")), strict=True))
        plain = table.drop_columns([c for c in ("vector", "_distance", "_score") if c in table.column_names])
        cost = _cost(table, kind)
        ranked = zip(_tied_ranks(cost), plain.to_pylist(), similarity, cost, strict=True)
        for rank, row, sim, own in ranked:
            rows.setdefault(row["id"], {**row, "similarity": float(sim)})
            ranks.setdefault(row["id"], {})[kind] = rank
            if kind == "text":  # the score over the best one's; by rank where the store gives none
                best = cost.min()
                strength[row["id"]] = own / best if "_score" in table.column_names and best < 0 else \
                    1.0 - (rank - 1) / len(cost)
    weight = VECTOR_WEIGHT if by_vector.num_rows and by_text.num_rows else float(by_vector.num_rows > 0)
    sims = np.array([row["similarity"] for row in rows.values()])
    low, high = (sims.min(), sims.max()) if len(sims) else (0.0, 0.0)
    fused = {cid: weight * ((row["similarity"] - low) / (high - low) if high > low else 1.0)
             + (1 - weight) * strength.get(cid, 0.0) for cid, row in rows.items()}
    # ties (equal scores, e.g. the same text in two documents) are ordered by chunk id, so a search
    # answers the same whatever order the store returned them in
    scored = sorted(rows, key=lambda cid: (-fused[cid], cid))
    if focus is not None and stored:
        lead = rows[scored[0]]
        focus = focus(lead["title"] or lead["filename"]) if callable(focus) else focus
        scored = _rerank(scored, fused, stored, focus)
    hits = []
    for cid in scored[:k]:
        row, rank = rows[cid], ranks[cid]
        similarity = float(np.clip(row["similarity"], 0, 1))
        hits.append(
            Hit(
                cid,
                row["document_uuid"],
                row["title"] or row["filename"],
                row["filename"],
                row["page_number"],
                row["section"],
                row["text"],
                fused[cid],
                similarity,
                rank.get("vector"),
                rank.get("text"),
                row["doc_type"],
                row["start_line"],
                row["end_line"],
            )
        )
    return hits

