"""The data home: its layout (every path in it), and the one handle that opens its stores.

`Workbench(settings)` is made once per process (the app's `ui.workbench()`, the CLI's
`cli.common.workbench()`) and costs nothing until a store is used: DuckDB is opened for each unit
of work (DESIGN.md, who holds the database), LanceDB and the embedder on first use. Nothing
outside this module builds a path into the data home or opens a store; it is also where a second
backend (the team profile) will plug in.

    data home/
      workbench.duckdb        the relational schema (db.py, sql/)
      lancedb/                chunk and utterance vectors (search/vectors.py)
      mlflow.db, mlartifacts/ MLflow's store and the models it keeps (models/registry.py)
      uploads/<org>/          uploaded documents, as received
      exports/org-<id>/       datasets: exported QA pairs, tabular uploads, legacy/ copies
      results/org-<id>/       churn and forecast scores written as Parquet
      cache/                  derived and rebuilt on demand: the exported embedding model, the SQL
                              console's snapshots (sandbox/), the background indexing's progress
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

from workbench import db
from workbench.settings import Settings

if TYPE_CHECKING:
    from workbench.search.embed import Embedder
    from workbench.search.vectors import VectorStore

RESULTS, ARTIFACTS, INDEXING = "results", "mlartifacts", "indexing.json"


class Workbench:
    """One data home, opened from Settings: its store, opened per unit of work (`store.connect()`,
    `store.transaction()`), and LanceDB and the embedder, opened on first use and kept. The paths
    of the layout are the functions below. Services that run a job (an import, an ingest, a
    question, a training) take it whole and hold the database only for their read and write steps;
    a unit of work takes the connection its caller holds, `(ctx, con)`.

    `light`: for a one-shot command, whose embedder is the torch-free ONNX copy of the model when
    this home has one (a fraction of a second to load instead of seconds)."""

    def __init__(self, settings: Settings, *, on_wait=None, read_only: bool = False,
                 light: bool = False, linger_s: float = 0.0) -> None:
        self.settings = settings
        self.light = light
        self.store = open_store(settings, on_wait=on_wait, read_only=read_only, linger_s=linger_s)

    @functools.cached_property
    def vectors(self) -> VectorStore:
        return open_vectors(self.settings)

    @functools.cached_property
    def embedder(self) -> Embedder:
        """The configured embedder, loaded on first use and kept."""
        return local_embedder(self.settings, light=self.light)


def init(settings: Settings, say: Callable[[str], object] | None = None) -> list[str]:
    """Create the data home, rewrite an old storage format (`upgrade_storage`, told to `say`) and
    apply pending migrations. Returns the migrations applied."""
    from workbench.accounts import organisations

    settings.home.mkdir(parents=True, exist_ok=True)
    settings.uploads_dir.mkdir(exist_ok=True)
    if settings.profile == "team":
        from workbench import teamdb

        applied = teamdb.create(settings.postgres_url, lake_path=settings.lake_path,
                                storage_options=settings.storage_options)
        with open_store(settings).connect() as con:
            for (org_id,) in con.execute("SELECT id FROM organizations").fetchall():
                organisations.ensure_defaults(con, org_id)
        return applied
    rewritten = upgrade_storage(settings)
    if rewritten and say is not None:
        say(rewritten)
    with open_store(settings, create=True).connect() as con:
        applied = db.migrate(con)
        for (org_id,) in con.execute("SELECT id FROM organizations").fetchall():
            organisations.ensure_defaults(con, org_id)  # organisations made before the prompt defaults
        return applied


def upgrade_storage(settings: Settings) -> str | None:
    """Rewrite a database that DuckDB 2 wrote in its own format in the format DuckDB 1.5 reads too
    (db.STORAGE), so that the team profile can open this home; what was done, or None."""
    if settings.profile == "team" or not settings.db_path.exists():
        return None
    with open_store(settings).connect() as con:  # waits for a holder as any command does
        found = db.storage_of(con)
    return db.rewrite_storage(settings.db_path, settings.lock_wait_s) if db.newer_storage(found) else None


def open_store(settings: Settings, *, create: bool = False, on_wait=None,
               read_only: bool = False, linger_s: float = 0.0) -> db.Store:
    """The store for the settings' database file (read-only for a process that only reads;
    `linger_s` for a server, see db.Store), or the team profile's PostgreSQL database."""
    if settings.profile == "team":
        from workbench import teamdb

        return teamdb.store_for(settings.postgres_url, settings.db_path, settings.storage_options)
    return db.Store(settings.db_path, lock_wait_s=settings.lock_wait_s, create=create,
                    on_wait=on_wait, read_only=read_only, linger_s=linger_s)


def is_empty(store: db.Store) -> bool:
    """True when no organisation exists yet."""
    with store.connect() as con:
        return con.execute("SELECT count(*) FROM organizations").fetchone()[0] == 0


def open_vectors(settings: Settings) -> VectorStore:
    """The LanceDB store of this data home."""
    from workbench.search.vectors import VectorStore

    return VectorStore(settings.lancedb_uri, settings.storage_options)


def local_embedder(settings: Settings, *, light: bool = False) -> Embedder:
    """The configured sentence-transformers embedder (loads on first use). `light`: a one-shot
    command's, which loads the exported ONNX model without torch when the cache holds it."""
    from workbench.search.embed import HashEmbedder, LocalEmbedder

    if settings.embedding_backend == "hash":
        return HashEmbedder()
    return LocalEmbedder(settings.embedding_model, settings.cache_dir, settings.embedding_backend,
                         light=light)


def results_dir(settings: Settings, org_id: int) -> Path:
    """Where an organisation's churn and forecast scores are written."""
    return settings.home / RESULTS / f"org-{int(org_id)}"


def artifacts_dir(settings: Settings) -> Path:
    """MLflow's artifact root for a local store (a remote server keeps its own)."""
    return settings.home / ARTIFACTS


def indexing_file(settings: Settings) -> Path:
    """The background indexing's progress, read by the app's banner."""
    return settings.cache_dir / INDEXING
