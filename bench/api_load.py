"""The HTTP API under 10 concurrent clients at 200k chunks, beside the same work in process.

    .venv/bin/python bench/api_load.py                     # 200k chunks, 10 clients, 40 requests each
    .venv/bin/python bench/api_load.py --chunks 20000 --clients 4 --requests 10

Builds a data home with the demo (`workbench demo`, the default embedder unless
WORKBENCH_EMBEDDING_BACKEND says otherwise), adds synthetic chunks shaped like bench/search.py's
(words from the sample documents, vectors around topic centroids, half in each organisation, most
of them private to other owners so the tenant prefilter is selective) and builds the vector index,
as the product does past WORKBENCH_ANN_MIN_ROWS. Then starts the real `workbench api` and times:

- in process: `vectors.search` and `chat.ask` through the package (one caller, no HTTP);
- over HTTP: POST /v1/search and POST /v1/chat/completions, each client a thread with its own
  connection sending its requests one after another, all clients at once.

Questions are the demo-qa benchmark's (bench/data/demo-qa/queries.jsonl), asked as alice's
admin key. Prints p50/p95 per endpoint and the requests per second of the concurrent run.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import requests

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import otlp_ingest  # noqa: E402
from search import TOPICS, corpus_words, make_rows  # noqa: E402

from workbench import home  # noqa: E402
from workbench.accounts import api_keys, auth  # noqa: E402
from workbench.chat import ask as chat  # noqa: E402
from workbench.search import vectors  # noqa: E402
from workbench.settings import from_env  # noqa: E402

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def percentiles(samples: list[float]) -> str:
    return f"p50 {np.percentile(samples, 50):7.1f} ms   p95 {np.percentile(samples, 95):7.1f} ms"


def timed(fn) -> float:
    began = time.perf_counter()
    fn()
    return (time.perf_counter() - began) * 1000


def build(home_dir: Path, chunks: int) -> dict[str, str]:
    env = {**os.environ, "WORKBENCH_HOME": str(home_dir)}
    subprocess.run([WORKBENCH, "demo"], env=env, check=True, stdout=subprocess.DEVNULL)
    settings = from_env(env)
    store = home.open_vectors(settings)
    rng = np.random.default_rng(7)
    words = corpus_words()
    centroids = rng.normal(size=(TOPICS, 384)).astype(np.float32)
    centroids /= np.linalg.norm(centroids, axis=1, keepdims=True)
    began = time.perf_counter()
    for start in range(0, chunks, 50_000):
        store.add_chunks(make_rows(rng, min(50_000, chunks - start), start, words, centroids))
    store.optimize()
    note = store.build_ann_index(min_rows=1)
    print(f"{chunks:,} synthetic chunks added and indexed in {time.perf_counter() - began:.0f} s"
          f" ({store.count():,} in all); {note}", flush=True)
    return env


def spans_over_http(url: str, key: str, n: int) -> None:
    """OpenTelemetry exports of 1,000 GenAI spans each (bench/otlp_ingest.py's, as the demo's users
    and projects), posted one after another as an exporter does; then the usage report, at once."""
    otlp_ingest.USERS = ["alice", "anna", "dan", "mike"]
    otlp_ingest.PROJECTS = ["Customer care line", "Retention desk"]
    bodies, tokens = otlp_ingest.exports(n, 1000)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": "application/x-protobuf"}
    report = f"{url}/v1/usage/report?days=7&by=model"
    before = requests.get(report, headers=headers, timeout=60).json()["totals"]
    session = requests.Session()
    began = time.perf_counter()
    for body in bodies:
        session.post(url + "/v1/traces", data=body, headers=headers, timeout=120).raise_for_status()
    seconds = time.perf_counter() - began
    after = requests.get(report, headers=headers, timeout=60).json()["totals"]
    current = time.perf_counter() - began - seconds
    print(f"  /v1/traces             {n:,} spans in {len(bodies)} exports: {n / seconds:,.0f} spans/s;"
          f" the usage report {current * 1000:.0f} ms later counts {after['calls'] - before['calls']:,} more"
          f" calls and {after['tokens'] - before['tokens']:,} more tokens (sent {tokens:,})", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--chunks", type=int, default=200_000)
    parser.add_argument("--clients", type=int, default=10)
    parser.add_argument("--requests", type=int, default=40, help="per client and endpoint")
    parser.add_argument("--spans", type=int, default=20_000, help="GenAI spans sent to /v1/traces")
    args = parser.parse_args()
    questions = [json.loads(line)["text"] for line in (ROOT / "bench/data/demo-qa/queries.jsonl").open()]
    home_dir = Path(tempfile.mkdtemp(prefix="bench-api-")) / "home"
    env = build(home_dir, args.chunks)
    settings = from_env(env)
    wb = home.Workbench(settings)
    with wb.store.connect() as con:
        alice = auth.context_for(con, "alice")
        key = api_keys.create_api_key(alice, con, "bench", "admin")["key"]

    print(f"\nin process ({len(questions)} questions, one caller):", flush=True)
    for q in questions[:3]:
        vectors.search(alice, wb.vectors, wb.embedder, q)  # warm: the model, the index
    inproc = {
        "search": [timed(lambda q=q: vectors.search(alice, wb.vectors, wb.embedder, q)) for q in questions],
        "chat": [timed(lambda q=q: chat.ask(alice, wb, q)) for q in questions],
    }
    for name, samples in inproc.items():
        print(f"  {name:<18} {percentiles(samples)}", flush=True)

    port = free_port()
    log = open(home_dir.parent / "api.log", "w")
    server = subprocess.Popen([WORKBENCH, "api", "--port", str(port)], env=env, stdout=log,
                              stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(300):
            try:
                requests.get(url + "/openapi.json", timeout=1)
                break
            except requests.ConnectionError:
                time.sleep(0.2)
        headers = {"Authorization": f"Bearer {key}"}
        bodies = {
            "/v1/search": lambda q: {"query": q, "k": 10},
            "/v1/chat/completions": lambda q: {"model": "workbench-documents",
                                               "messages": [{"role": "user", "content": q}]},
        }
        for path, body in bodies.items():  # warm the server: the model, the index, the chat's imports
            warm = requests.post(url + path, json=body(questions[0]), headers=headers, timeout=120)
            warm.raise_for_status()
        print(f"\nover HTTP, {args.clients} clients at once, {args.requests} requests each:", flush=True)
        for path, body in bodies.items():
            def client(i: int, path=path, body=body) -> list[float]:
                session = requests.Session()
                out = []
                for n in range(args.requests):
                    q = questions[(i * args.requests + n) % len(questions)]
                    began = time.perf_counter()
                    response = session.post(url + path, json=body(q), headers=headers, timeout=300)
                    out.append((time.perf_counter() - began) * 1000)
                    response.raise_for_status()
                return out

            began = time.perf_counter()
            with ThreadPoolExecutor(args.clients) as pool:
                samples = [s for part in pool.map(client, range(args.clients)) for s in part]
            seconds = time.perf_counter() - began
            print(f"  {path:<22} {percentiles(samples)}   {len(samples) / seconds:5.1f} requests/s",
                  flush=True)
        spans_over_http(url, key, args.spans)
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()
    print(f"\nmachine: {platform.machine()}, {os.cpu_count()} cores; embedder"
          f" {settings.embedding_backend}; chunks in the table {args.chunks:,} + the demo's")


if __name__ == "__main__":
    main()
