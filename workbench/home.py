"""The data home: its folders, its database, and opening both."""

from __future__ import annotations

from workbench import db
from workbench.accounts import organisations
from workbench.settings import Settings


def init(settings: Settings) -> list[str]:
    """Create the data home and apply pending migrations. Returns the migrations applied."""
    settings.home.mkdir(parents=True, exist_ok=True)
    settings.uploads_dir.mkdir(exist_ok=True)
    with open_store(settings, create=True).connect() as con:
        applied = db.migrate(con)
        for (org_id,) in con.execute("SELECT id FROM organizations").fetchall():
            organisations.ensure_defaults(con, org_id)  # organisations made before the prompt defaults
        return applied


def open_store(settings: Settings, *, create: bool = False, on_wait=None,
               read_only: bool = False) -> db.Store:
    """The store for the settings' database file (read-only for a process that only reads)."""
    return db.Store(settings.db_path, lock_wait_s=settings.lock_wait_s, create=create,
                    on_wait=on_wait, read_only=read_only)


def is_empty(store: db.Store) -> bool:
    """True when no organisation exists yet."""
    with store.connect() as con:
        return con.execute("SELECT count(*) FROM organizations").fetchone()[0] == 0


def open_vectors(settings: Settings):
    """The LanceDB store of this data home."""
    from workbench.search.vectors import VectorStore

    return VectorStore(settings.lancedb_uri)


def local_embedder(settings: Settings):
    """The configured sentence-transformers embedder (loads on first use)."""
    from workbench.search.embed import HashEmbedder, LocalEmbedder

    if settings.embedding_backend == "hash":
        return HashEmbedder()
    return LocalEmbedder(settings.embedding_model, settings.cache_dir, settings.embedding_backend)
