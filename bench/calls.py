"""Calls at scale: import 100,000 utterances (one per-utterance CSV file, through
`calls.import_calls`: parse, one Arrow insert, VADER sentiment and per-call metrics), then search
them by keyword (DuckDB) and by meaning (LanceDB), p50/p95 over 100 queries.

    python bench/calls.py [utterances]        # default 100000

Baseline measured in the same run: the same rows inserted with `executemany` (row at a time),
on a tenth of the calls and scaled up. Embeddings are reported separately: the utterance vectors
come from the deterministic hash embedder (search latency does not depend on what the vectors
mean), and the real model's rate is measured on a sample of the unique utterances.
"""

from __future__ import annotations

import csv
import io
import os
import random
import statistics
import sys
import tempfile
import time
from datetime import datetime
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from workbench import home  # noqa: E402
from workbench.accounts import (  # noqa: E402
    auth,
    organisations,
    projects,
    users,
)
from workbench.calls import imports as calls  # noqa: E402
from workbench.calls import search as call_search  # noqa: E402
from workbench.ops.demo import calls as demo_calls  # noqa: E402
from workbench.search.embed import HashEmbedder, LocalEmbedder  # noqa: E402
from workbench.settings import Settings  # noqa: E402

QUERIES = ["refund", "parcel delivered", "password reset", "cancel my contract", "roaming charges abroad",
           "my internet keeps dropping", "charged twice this month", "speak to a manager", "express delivery",
           "backup codes"]  # fmt: skip


def dialogue_csv(n_utterances: int, seed: int = 7) -> tuple[bytes, int]:
    """A per-utterance CSV of demo-style calls with about `n_utterances` rows."""
    rnd = random.Random(seed)
    script = demo_calls.load_dialogues(Settings(home=Path(tempfile.gettempdir())).samples_dir)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["call_id", "role", "content", "index", "start_seconds", "end_seconds", "timestamp"])
    rows = calls_made = 0
    intents = sorted(script["intents"])
    while rows < n_utterances:
        call = demo_calls.make_call(rnd, script, rnd.choice(intents), "Northwind")
        calls_made += 1
        when = datetime(2026, 1, 1, 9).replace(day=1 + calls_made % 28, month=1 + calls_made % 11)
        for index, (role, text, start, end) in enumerate(call["turns"]):
            writer.writerow([f"B-{calls_made:06d}", role, text, index, start, end, when.isoformat()])
            rows += 1
    return out.getvalue().encode(), calls_made


def percentiles(samples: list[float]) -> str:
    ms = sorted(s * 1000 for s in samples)
    return f"p50 {statistics.median(ms):.1f} ms / p95 {ms[int(len(ms) * 0.95) - 1]:.1f} ms"


def main(n_utterances: int) -> None:
    data, n_calls = dialogue_csv(n_utterances)
    print(
        f"{n_utterances:,} utterances in {n_calls:,} calls, {len(data) / 1e6:.1f} MB CSV;"
        f" {os.cpu_count()} cores"
    )
    with tempfile.TemporaryDirectory() as tmp:
        cfg = Settings(home=Path(tmp) / "home", embedding_backend="hash", upload_max_mb=500)
        home.init(cfg)
        wb = home.Workbench(cfg)  # hash settings: wb.embedder is the HashEmbedder
        store = wb.store
        with store.transaction() as con:
            org = organisations.create_organization(con, "Bench")
            users.insert_user(
                con, org, "ana", "ana@example.com", auth.hash_password("bench-password"), "analyst"
            )
            ctx = auth.context_for(con, "ana")
            projects.create_project(ctx, con, "Calls")
            projects.create_project(ctx, con, "Baseline")
        assert isinstance(wb.embedder, HashEmbedder)

        began = time.perf_counter()
        result = calls.import_calls(ctx, wb, "bench.csv", data, "Calls", max_mb=500)
        took = time.perf_counter() - began
        print(
            f"import (parse, insert, sentiment, metrics): {took:.2f} s"
            f" for {result['utterances']:,} utterances"
            f" = {result['utterances'] / took:,.0f} utterances/s"
        )
        baseline(store, data, n_calls)

        began = time.perf_counter()
        indexed = calls.index_pending(ctx, wb, "Calls")
        print(
            f"embed + LanceDB write + intents (hash embedder): {time.perf_counter() - began:.2f} s"
            f" for {indexed['utterances']:,} utterances"
        )
        real_model_rate(store, cfg)

        for mode in call_search.MODES:
            samples, found = [], 0
            for i in range(100):
                q = QUERIES[i % len(QUERIES)]
                began = time.perf_counter()
                hits = call_search.search_utterances(ctx, wb, q, mode=mode, k=50)
                samples.append(time.perf_counter() - began)
                found += len(hits)
            print(
                f"{mode} search over {result['utterances']:,} utterances, 100 queries: {percentiles(samples)}"
                f" ({found / 100:.0f} hits per query, k=50)"
            )


def baseline(store, data: bytes, n_calls: int) -> None:
    """Row-at-a-time inserts of a tenth of the calls, scaled to all of them."""
    rows = list(csv.DictReader(io.StringIO(data.decode())))
    part = [r for r in rows if int(r["call_id"][2:]) <= n_calls // 10]
    with store.transaction() as con:
        project_id = con.execute("SELECT id FROM projects WHERE name = 'Baseline'").fetchone()[0]
        began = time.perf_counter()
        ids = {}
        for call_id in dict.fromkeys(r["call_id"] for r in part):
            ids[call_id] = con.execute(
                "INSERT INTO calls (project_id, external_id) VALUES (?, ?) RETURNING id",
                [project_id, call_id],
            ).fetchone()[0]
        con.executemany(
            "INSERT INTO utterances (call_id, project_id, role, content, utterance_index)"
            " VALUES (?, ?, ?, ?, ?)",
            [(ids[r["call_id"]], project_id, r["role"], r["content"], int(r["index"])) for r in part],
        )
        took = time.perf_counter() - began
    print(
        f"baseline, executemany row inserts (no parsing, no metrics): {len(part):,} utterances"
        f" in {took:.2f} s,"
        f" {took * len(rows) / len(part):.1f} s scaled to {len(rows):,}"
    )


def real_model_rate(store, cfg: Settings) -> None:
    """The real model's encode rate on 1,000 unique utterances, and the unique count to embed."""
    with store.connect() as con:
        unique = [
            r[0] for r in con.execute("SELECT DISTINCT content FROM utterances ORDER BY content").fetchall()
        ]
    model = LocalEmbedder(cfg.embedding_model, cfg.cache_dir, "auto")
    model.encode(["warm up"])
    sample = unique[:1000]
    began = time.perf_counter()
    model.encode(sample)
    rate = len(sample) / (time.perf_counter() - began)
    print(
        f"real model (all-MiniLM-L6-v2, backend auto): {rate:.0f} utterances/s;"
        f" {len(unique):,} unique utterances"
        f" -> {len(unique) / rate:.0f} s with a cold cache (repeats come from the embedding cache)"
    )
    began = time.perf_counter()
    for q in QUERIES * 3:
        model.encode([q])
    print(f"real model, one query: {(time.perf_counter() - began) / (len(QUERIES) * 3) * 1000:.1f} ms mean")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 100_000)
