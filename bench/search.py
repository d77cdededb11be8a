"""Hybrid search latency at 10k and 200k chunks, through the product's own `vectors.search`.

    python bench/search.py            # 10k and 200k (builds the ANN index at 200k: a minute or two)
    python bench/search.py 10000      # one size only
    python bench/search.py 200000 --home DIR   # also in DIR's vector store (a team deployment's s3://)

With --home, each size is measured twice in the same run: in a local folder (the baseline), then
under the home's LanceDB location (its own prefix, removed afterwards), with the home's object-store
options: on the team profile, the S3-compatible server.

Chunks are synthetic but shaped like the corpus: text drawn from the sample documents' words
(so full-text search sees a real term distribution), vectors clustered around topic centroids,
two organisations and many owners so the tenant prefilter is selective. Query vectors are
precomputed, so the figures are retrieval only (encoding a short query with MiniLM adds ~10 ms).
Prints p50/p95 of hybrid, vector-only and text-only search, flat and with the ANN index, and the
ANN's recall@10 against exact (flat) search under the same prefilter.
"""

from __future__ import annotations

import argparse
import re
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench.accounts.context import Context  # noqa: E402
from workbench.search.vectors import VectorStore, chunk_schema, search, visible_filter  # noqa: E402
from workbench.settings import Settings  # noqa: E402

DIM, TOPICS, QUERIES = 384, 64, 200
SAMPLES = Path(__file__).resolve().parent.parent / "data" / "samples" / "documents"


class LookupEmbedder:
    """Returns the precomputed vector of each benchmark query."""

    model_name, dim = "bench", DIM

    def __init__(self, vectors: dict[str, np.ndarray]) -> None:
        self.vectors = vectors

    def encode(self, texts):
        return np.stack([self.vectors[t] for t in texts])

    def count_tokens(self, texts):
        return [len(t.split()) for t in texts]


def corpus_words() -> list[str]:
    text = " ".join(p.read_text() for p in SAMPLES.rglob("*.md"))
    return re.findall(r"[a-z]{3,}", text.lower())


def make_rows(rng, n: int, start: int, words: list[str], centroids: np.ndarray) -> pa.Table:
    topic = rng.integers(0, TOPICS, n)
    vectors = centroids[topic] + rng.normal(scale=0.6 / np.sqrt(DIM), size=(n, DIM)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    word_ids = rng.integers(0, len(words), (n, 150))
    texts = [" ".join(words[i] for i in row) for row in word_ids]
    org = (np.arange(start, start + n) % 2 + 1).astype(np.int32)
    owner = rng.integers(1, 200, n).astype(np.int32)
    scope = np.where(rng.random(n) < 0.3, "global", "user")
    ids = [f"c{i}" for i in range(start, start + n)]
    return pa.table(
        {
            "id": ids,
            "org_id": org,
            "owner_id": owner,
            "scope": scope,
            "project_id": pa.nulls(n, pa.int32()),
            "conversation_id": pa.nulls(n, pa.int32()),
            "document_id": pa.array(np.arange(start, start + n) // 10, pa.int32()),
            "document_uuid": pa.nulls(n, pa.string()),
            "code_file_id": pa.nulls(n, pa.int32()),
            "repo_id": pa.nulls(n, pa.int32()),
            "chunk_index": pa.array(np.zeros(n, np.int32)),
            "doc_type": ["policy"] * n,
            "page_number": pa.nulls(n, pa.int32()),
            "section": ["s"] * n,
            "title": ["t"] * n,
            "filename": ["f.md"] * n,
            "start_line": pa.nulls(n, pa.int32()),
            "end_line": pa.nulls(n, pa.int32()),
            "text": texts,
            "content_hash": ids,
            "vector": pa.FixedSizeListArray.from_arrays(pa.array(vectors.ravel()), DIM),
        },
        schema=pa.schema([f for f in chunk_schema(DIM) if f.name != "audience"]),  # add_chunks derives it
    )


def timings(fn, queries) -> tuple[float, float]:
    for q in queries[:5]:
        fn(q)  # warm caches
    samples = []
    for q in queries:
        began = time.perf_counter()
        fn(q)
        samples.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(samples, 50)), float(np.percentile(samples, 95))


def recall_at_10(store: VectorStore, ctx: Context, qvecs: dict, exact: dict) -> float:
    where = visible_filter(ctx)
    found = [
        len(set(store.vector_query(qvecs[q], where, 10).column("id").to_pylist()) & exact[q]) / 10
        for q in exact
    ]
    return float(np.mean(found))


def run(n: int, uri: str | None = None, storage_options: dict | None = None) -> None:
    rng = np.random.default_rng(7)
    words = corpus_words()
    centroids = rng.normal(size=(TOPICS, DIM)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    store = VectorStore(uri or tempfile.mkdtemp(prefix="bench-search-"), storage_options)
    began = time.perf_counter()
    for start in range(0, n, 50_000):
        store.add_chunks(make_rows(rng, min(50_000, n - start), start, words, centroids))
    store.optimize()
    print(f"\n{n:,} chunks written to {uri or 'a local folder'} in {time.perf_counter() - began:.1f} s",
          flush=True)
    ctx = Context(
        17, "u", "bench", "Bench", 1, "o", "Org", frozenset({"analyst"}), frozenset({"documents:read"})
    )
    queries = [" ".join(rng.choice(words, 4)) for _ in range(QUERIES)]
    qvecs = {q: make_rows(rng, 1, 0, words, centroids).column("vector")[0].values.to_numpy() for q in queries}
    embedder = LookupEmbedder(qvecs)
    results = {}
    for mode in ("hybrid", "vector", "text"):
        results[f"{mode} flat"] = timings(
            lambda q, m=mode: search(ctx, store, embedder, q, k=10, mode=m), queries
        )
    exact = {
        q: set(store.vector_query(qvecs[q], visible_filter(ctx), 10).column("id").to_pylist())
        for q in queries[:100]
    }
    note = store.build_ann_index(min_rows=1)
    if store.has_ann_index():
        print(note, flush=True)
        for mode in ("hybrid", "vector"):
            results[f"{mode} ANN"] = timings(
                lambda q, m=mode: search(ctx, store, embedder, q, k=10, mode=m), queries
            )
        results["recall@10 ANN vs flat"] = recall_at_10(store, ctx, qvecs, exact)
    for name, value in results.items():
        if isinstance(value, tuple):
            print(f"  {name:<22} p50 {value[0]:7.1f} ms   p95 {value[1]:7.1f} ms")
        else:
            print(f"  {name:<22} {value:.3f}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("sizes", nargs="*", type=int, default=[10_000, 200_000])
    parser.add_argument("--home", type=Path, help="also measure in this data home's vector store")
    args = parser.parse_args()
    print(
        f"hybrid search benchmark: {QUERIES} queries, k=10, tenant prefilter "
        "(own organisation: global/project or own chunks, one indexed `audience IN (...)`)"
    )
    settings = Settings(home=args.home) if args.home else None
    for size in args.sizes:
        run(size)
        if settings:
            uri = f"{settings.lancedb_uri.rstrip('/')}-bench-search-{size}"
            try:
                run(size, uri, settings.storage_options)
            finally:
                done = VectorStore(uri, settings.storage_options)
                for name in done.table_names():
                    done.drop(name)
