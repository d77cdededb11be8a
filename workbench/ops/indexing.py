"""Embedding what is waiting: documents still pending, calls and QA pairs without vectors, then the
calls' intents. `run` does it in this process; `start_background` in a detached one, so that
`make run` opens the app at once on the demo data while its embeddings are made. Progress goes to a
small JSON file in the data home's cache, which the app's banner reads (`status`).

Nothing shown meanwhile is wrong, only incomplete, and the banner says what: documents are listed
with their status (pending, processing, completed), search and chat cover what is embedded so far,
and intents appear once the calls are done.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from workbench import home
from workbench.settings import Settings

Say = Callable[[str], None]
# the background process waits longer for the file than a user would: the app's page runs come first
BACKGROUND_LOCK_WAIT_S = 120.0


def run(settings: Settings, say: Say | None = None, *, light_model: bool = True) -> dict:
    """Embed everything waiting, writing progress to the status file. Returns what was done.
    `light_model`: also export the torch-free copy of the model one-shot commands load."""
    from workbench.calls import imports as calls
    from workbench.calls import qa
    from workbench.calls import search as call_search
    from workbench.documents import ingest

    say = say or (lambda _text: None)
    store, vectors = home.open_store(settings), home.open_vectors(settings)
    embedder = home.local_embedder(settings)
    status = {"state": "running", "pid": os.getpid(), "started": time.time(), "documents": [0, 0],
              "calls": [0, 0], "message": ""}
    result: dict = {}
    _write(settings, status)
    try:
        waiting = ingest.pending(store)
        status["documents"] = [0, len(waiting)]
        _write(settings, status)
        if waiting:
            started = time.perf_counter()

            def on_document(name: str, stage: str, fraction: float) -> None:
                if fraction >= 1.0 and stage in ("completed", "failed"):
                    status["documents"][0] += 1
                    _write(settings, status)
                    say(f"  {name}: {stage}")

            outcomes = ingest.process_many(settings, store, vectors, embedder, waiting, on_document)
            status["documents"][0] = len(waiting)
            result["documents_ingested"] = sum(o.status == "completed" for o in outcomes)
            result["ingest_seconds"] = round(time.perf_counter() - started, 2)
        with store.connect() as con:
            calls_waiting = call_search.pending_calls(con)
        status["calls"] = [0, len(calls_waiting)]
        _write(settings, status)
        started = time.perf_counter()
        result["qa_embedded"] = qa.embed_missing(store, vectors, embedder)
        if calls_waiting:

            def on_calls(done: int, total: int) -> None:
                status["calls"] = [done, total]
                _write(settings, status)
                say(f"  calls embedded: {done:,}/{total:,}")

            calls.index_calls(store, vectors, embedder, calls_waiting, on_calls)
            result["calls_embedded"] = len(calls_waiting)
        if calls_waiting or result["qa_embedded"]:
            result["calls_seconds"] = round(time.perf_counter() - started, 2)
        if light_model and settings.embedding_backend != "hash":
            status["message"] = "preparing the fast model for one-shot commands"
            _write(settings, status)
            result["light_model_exported"] = _export_light_model(settings)
    except Exception as exc:
        _write(settings, status | {"state": "failed", "message": str(exc) or type(exc).__name__})
        raise
    _write(settings, status | {"state": "done", "message": "", "finished": time.time()})
    return result


def start_background(settings: Settings) -> int | None:
    """Start `workbench index` in a detached process when anything waits; its pid, or None."""
    if not has_work(settings):
        return None
    log = home.indexing_file(settings).with_suffix(".log")
    log.parent.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "WORKBENCH_HOME": str(settings.home),
           "WORKBENCH_LOCK_WAIT_S": str(max(settings.lock_wait_s, BACKGROUND_LOCK_WAIT_S))}
    with open(log, "w") as out:
        child = subprocess.Popen([sys.executable, "-m", "workbench", "index", "--quiet"], env=env,
                                 stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                 start_new_session=True)
    found = status(settings)
    if not found or found.get("pid") != child.pid:  # the child may have written its own already
        _write(settings, {"state": "running", "pid": child.pid, "started": time.time(),
                          "documents": [0, 0], "calls": [0, 0], "message": "starting"})
    return child.pid


def has_work(settings: Settings) -> bool:
    """True when documents are pending or calls wait for their embeddings."""
    from workbench.calls import search as call_search
    from workbench.documents import ingest

    store = home.open_store(settings, read_only=True)
    if ingest.pending(store):
        return True
    with store.connect() as con:
        return bool(call_search.pending_calls(con))


def status(settings: Settings) -> dict | None:
    """The last indexing's progress, or None when none ran. A run whose process is gone without
    finishing reads as failed."""
    try:
        found = json.loads(home.indexing_file(settings).read_text())
    except (OSError, ValueError):
        return None
    if found.get("state") == "running" and not _alive(found.get("pid")):
        found |= {"state": "failed", "message": "the indexing process stopped; run `workbench index`"}
    return found


def summary(found: dict) -> str:
    """One line for a banner or a terminal."""
    docs, calls = found.get("documents", [0, 0]), found.get("calls", [0, 0])
    parts = []
    if docs[1]:
        parts.append(f"documents {docs[0]}/{docs[1]}")
    if calls[1]:
        parts.append(f"calls {calls[0]:,}/{calls[1]:,}")
    if found.get("message"):
        parts.append(found["message"])
    return ", ".join(parts) or "starting"


def _export_light_model(settings: Settings) -> bool:
    from workbench.search import backends
    from workbench.search.embed import model_path

    return backends.export_light_encoder(model_path(settings.embedding_model), settings.cache_dir)


def _write(settings: Settings, status: dict) -> None:
    path = home.indexing_file(settings)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(json.dumps(status))
    os.replace(tmp, path)


def _alive(pid) -> bool:
    if not isinstance(pid, int):
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:  # a finished child not yet reaped by its parent is a zombie: not at work
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except OSError:
        return True

