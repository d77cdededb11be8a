"""First start: the demo's embeddings are made by `workbench index` in a background process while
the app is already usable, and the app says how far it got (issue 17)."""

from __future__ import annotations

import json
import subprocess
import sys
import time

import pytest
import streamlit as st
from streamlit.testing.v1 import AppTest

from tests.conftest import ROOT, ctx_of
from workbench import home
from workbench.calls import search as call_search
from workbench.documents import ingest
from workbench.ops import indexing
from workbench.settings import Settings

WORKBENCH = [sys.executable, "-m", "workbench"]


def wait_for(condition, timeout: float = 240.0, what: str = "a condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if found := condition():
            return found
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.fixture
def fresh(tmp_path, monkeypatch):
    cfg = Settings(home=tmp_path / "home", lock_wait_s=5.0, embedding_backend="hash")
    env = {"WORKBENCH_HOME": str(cfg.home), "WORKBENCH_EMBEDDING_BACKEND": "hash",
           "WORKBENCH_LOCK_WAIT_S": "5"}
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return cfg


def test_demo_in_the_background_returns_before_the_embeddings_and_finishes_them(fresh):
    shown = subprocess.run([*WORKBENCH, "demo", "--background"], capture_output=True, text=True, check=True)
    assert "Embedding the documents and calls in the background" in shown.stdout
    store = home.open_store(fresh, read_only=True)
    assert indexing.status(fresh)["state"] in ("running", "done")
    final = wait_for(lambda: (s := indexing.status(fresh)) and s["state"] != "running" and s,
                     what="the background indexing")
    assert final["state"] == "done", final
    assert final["documents"][0] == final["documents"][1] > 0
    assert final["calls"][0] == final["calls"][1] > 0
    assert ingest.pending(store) == []
    with store.connect() as con:
        assert call_search.pending_calls(con) == []
        clustered = con.execute("SELECT count(*) FROM calls WHERE intent_source = 'auto'").fetchone()[0]
        assert clustered > 0  # the intents, clustered at the end
    status = subprocess.run([*WORKBENCH, "index", "--status"], capture_output=True, text=True, check=True)
    assert status.stdout.startswith("done: documents 24/24, calls 360/360")
    again = subprocess.run([*WORKBENCH, "index"], capture_output=True, text=True, check=True)
    assert "qa embedded: 0" in again.stdout and "calls embedded" not in again.stdout  # nothing waited


def test_a_run_whose_process_is_gone_reads_as_failed(fresh):
    gone = subprocess.Popen(["true"])
    gone.wait()
    path = home.indexing_file(fresh)
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"state": "running", "pid": gone.pid, "documents": [3, 24], "calls": [0, 0]}))
    found = indexing.status(fresh)
    assert found["state"] == "failed" and "workbench index" in found["message"]
    assert indexing.summary(found).startswith("documents 3/24")


def test_the_app_shows_the_progress_while_embedding_and_nothing_after(demo_copy, monkeypatch):
    monkeypatch.setenv("WORKBENCH_HOME", str(demo_copy.home))
    monkeypatch.setenv("WORKBENCH_EMBEDDING_BACKEND", "hash")
    st.cache_resource.clear()
    path = home.indexing_file(demo_copy)
    path.parent.mkdir(parents=True, exist_ok=True)
    sleeper = subprocess.Popen(["sleep", "60"])  # stands for the running indexer
    try:
        path.write_text(json.dumps({"state": "running", "pid": sleeper.pid, "documents": [10, 24],
                                    "calls": [120, 360], "message": ""}))
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=30)
        at.session_state["ctx"] = ctx_of(home.open_store(demo_copy), "anna")
        at.run()
        assert not at.exception, at.exception
        banner = [i.value for i in at.info if "in the background" in i.value]
        assert banner and "documents 10/24, calls 120/360" in banner[0]
        path.write_text(json.dumps({"state": "done", "pid": sleeper.pid, "documents": [24, 24],
                                    "calls": [360, 360], "message": ""}))
        at.run()
        assert not [i for i in at.info if "in the background" in i.value]
    finally:
        sleeper.kill()
        sleeper.wait()
        st.cache_resource.clear()
