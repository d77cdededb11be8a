"""Fixtures: real DuckDB files in temp folders; the demo loaded once per session for read-only
tests."""

from __future__ import annotations

import os
import shutil
from datetime import datetime
from pathlib import Path

import pytest

from workbench import home
from workbench.accounts import auth, context
from workbench.ops import demo, indexing
from workbench.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
DEMO_TODAY = datetime(2026, 11, 20, 12, 0, 0)


@pytest.fixture
def settings(tmp_path) -> Settings:
    return Settings(home=tmp_path / "home", lock_wait_s=1.0, embedding_backend="hash")


@pytest.fixture
def store(settings):
    home.init(settings)
    return home.open_store(settings)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory) -> Settings:
    """A data home with the demo loaded, built once; copy it before writing to it."""
    cfg = Settings(home=tmp_path_factory.mktemp("demo") / "home", lock_wait_s=1.0, embedding_backend="hash")
    home.init(cfg)
    store = home.open_store(cfg)
    demo.load(cfg, store, today=DEMO_TODAY)
    indexing.run(cfg)  # what `workbench demo` does next: documents, calls and QA pairs searchable
    return cfg


@pytest.fixture
def demo_copy(demo_home, tmp_path) -> Settings:
    """A private, writable copy of the demo data home."""
    target = tmp_path / "home"
    shutil.copytree(demo_home.home, target)
    return Settings(home=target, lock_wait_s=1.0, embedding_backend="hash")


@pytest.fixture
def demo_store(demo_home):
    return home.open_store(demo_home)


def ctx_of(store, username: str) -> context.Context:
    with store.connect() as con:
        return auth.context_for(con, username)


@pytest.fixture
def cli_env(demo_copy) -> dict[str, str]:
    """Environment for running the real `workbench` command on a copy of the demo."""
    return {**os.environ, "WORKBENCH_HOME": str(demo_copy.home), "WORKBENCH_LOCK_WAIT_S": "1",
            "WORKBENCH_EMBEDDING_BACKEND": "hash"}
