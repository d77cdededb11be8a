"""Backup and restore of a whole data home: the DuckDB database, the LanceDB vectors, uploaded files,
the MLflow store (its SQLite file and artifacts) and the other files the workbench wrote (exports,
result charts), copied into one folder with a manifest of every file's size and sha256.

A backup holds the database's write lock from start to end, so no workbench process reads or writes
it meanwhile; run it while the app is stopped, because the app writes vectors and MLflow runs
outside that lock. The database is checkpointed, then copied as a file; MLflow's SQLite file is
copied with SQLite's online backup. Both directions write into a hidden sibling folder and rename
it into place at the end, so a failure leaves no half-written backup and the old home as it was.

A restore checks every file against the manifest before it changes anything, then rewrites the
absolute paths that MLflow and two tables keep (artifact locations, dataset files, result charts)
from the old home to the new one, so a restore into another folder gives the same answers.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import sqlite3
import uuid
from collections.abc import Callable
from contextlib import ExitStack, closing
from datetime import UTC, datetime
from importlib import metadata
from itertools import product
from pathlib import Path, PurePosixPath

import duckdb

from workbench import db, home
from workbench.errors import InvalidInput, StoreBusy, WorkbenchError
from workbench.settings import ENV, Settings

FORMAT = 1
MANIFEST = "manifest.json"
# HMAC-SHA256 of manifest.json under WORKBENCH_BACKUP_KEY: the manifest's checksums catch damage; only
# this signature catches a deliberate change that also rewrote the manifest.
SIGNATURE = "manifest.sig"
REQUIRED = ("format", "schema_version", "created_at", "home", "layout", "tables", "files")
PARTS = ("database", "vectors", "uploads", "mlflow", "other")
# The exported embedding model: derived, rebuilt on first use, and tuned to this machine's CPU.
LEFT_OUT = {"cache": "the exported embedding model, rebuilt on first use"}
# Columns that keep absolute paths into the data home; a restore into another folder rewrites them.
PATH_COLUMNS = (("datasets", "file_path"), ("analytics_results", "artifact_path"))
# the variable that moves each store out of the home (settings.ENV names them all)
ENV_OF = {part: ENV[name][0] for part, name in
          (("database", "db_path"), ("vectors", "lancedb_uri"), ("mlflow", "mlflow_tracking_uri"))}

Progress = Callable[[str, dict], None]


class BackupInvalid(WorkbenchError):
    """A backup folder is missing, incomplete, altered or too new; nothing was restored."""


def backup(settings: Settings, target_dir: str | Path, *, progress: Progress | None = None) -> dict:
    """Copy the data home into `target_dir` (new or empty) with a manifest, holding the database's
    write lock throughout. Returns the manifest without its file list."""
    _embedded_only(settings)
    target = Path(target_dir).expanduser().resolve()
    places = layout(settings)
    _check_backup_target(target, settings)
    store = home.open_store(settings)
    partial = _sibling(target, "partial")
    try:
        with store.connect() as con:  # the write lock: no other workbench process until the copy is done
            con.execute("CHECKPOINT")
            files = _home_files(settings.home, places)
            partial.mkdir(parents=True)
            entries = _copy_parts(settings.home, partial / "home", files, places, _snapshot(places), progress)
        manifest = _manifest(settings, places, partial / "home", entries)
        manifest["signed"] = bool(settings.backup_key)
        text = (json.dumps(manifest, indent=2) + "\n").encode()
        (partial / MANIFEST).write_bytes(text)
        if settings.backup_key:
            (partial / SIGNATURE).write_text(_signature(text, settings.backup_key) + "\n")
        os.replace(partial, target)  # an empty target folder is replaced too
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return {"backup": str(target)} | {k: v for k, v in manifest.items() if k != "files"}


def restore(
    settings: Settings, source_dir: str | Path, *, force: bool = False, progress: Progress | None = None
) -> dict:
    """Replace the data home with the backup in `source_dir`, after checking it against its manifest.
    A home that already holds data is replaced only with `force`."""
    _embedded_only(settings)
    source = Path(source_dir).expanduser().resolve()
    manifest = verify(source, settings.backup_key)
    places = layout(settings)
    _check_restore_target(source, settings, manifest, places)
    staging = _sibling(settings.home, "restoring")
    try:
        with ExitStack() as stack:
            con = _hold(stack, settings, force)  # nobody uses the old home while the new one is built
            if not force and _holds_data(settings, con, places):
                raise InvalidInput(
                    f"The data home {settings.home} already holds data. Restore into a new WORKBENCH_HOME, "
                    "or pass --force to replace it (the current data is lost)."
                )
            staging.mkdir(parents=True)
            entries = _copy_parts(source / "home", staging, list(manifest["files"]), places, None, progress)
            (staging / "uploads").mkdir(exist_ok=True)
            rewritten = _rewrite_paths(staging, places, manifest, settings.home)
            # swapped while the old file is still held, so no other process opens it in between;
            # this process's idle connections close, and other processes' servers notice the new
            # file at their next unit of work (db.Store compares the file they hold)
            db.release(settings.db_path)
            replaced = _swap(staging, settings.home)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return {
        "home": str(settings.home),
        "backup": str(source),
        "created_at": manifest["created_at"],
        "schema_version": manifest["schema_version"],
        "pending_migrations": sum(v > int(manifest["schema_version"]) for v in _code_migrations()),
        "parts": _totals(entries),
        "paths_rewritten": rewritten,
        "replaced": replaced,
        "signature_checked": bool(settings.backup_key),
    }


def _embedded_only(settings: Settings) -> None:
    if settings.profile == "team":
        raise WorkbenchError(
            "A backup copies an embedded data home's files. This home is a team deployment's: back up "
            "PostgreSQL (pg_dump) and the object store with their own tools, or copy the deployment out "
            "into an embedded home (`workbench team move-out --to DIR`) and back that up.")


def verify(source: Path, key: str = "") -> dict:
    """The backup's manifest, once its signature matches `key` (when a key is given), every file it
    lists is present with its size and sha256 and its schema is one this workbench knows;
    `BackupInvalid` otherwise. Without a key this detects damage, not a deliberate change."""
    path = source / MANIFEST
    if not path.is_file():
        raise BackupInvalid(
            f"{source} is not a workbench backup (it has no {MANIFEST}). Nothing was restored."
        )
    if key:
        _check_signature(source, path.read_bytes(), key)
    try:
        manifest = json.loads(path.read_text())
        if missing := [key for key in REQUIRED if key not in manifest]:
            raise KeyError(", ".join(missing))
        schema, database = int(manifest["schema_version"]), manifest["layout"]["database"]
        sizes = {rel: (int(e["bytes"]), str(e["sha256"])) for rel, e in manifest["files"].items()}
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupInvalid(f"{path} is unreadable or incomplete ({exc!r}). Nothing was restored.") from None
    if manifest["format"] != FORMAT:
        raise BackupInvalid(f"{path} has format {manifest['format']!r}; this workbench reads {FORMAT}.")
    if schema > max(_code_migrations()):
        raise BackupInvalid(
            f"The backup's database has schema {schema:03d}, newer than this workbench's "
            f"{max(_code_migrations()):03d} (workbench {manifest.get('workbench_version')} made it). "
            "Upgrade the workbench, then restore. Nothing was restored."
        )
    if database not in sizes:
        raise BackupInvalid(f"{path} lists no database file; the backup is incomplete. Nothing was restored.")
    for rel, (size, digest) in sizes.items():
        file = source / "home" / _safe(rel)
        if not file.is_file():
            raise BackupInvalid(f"{rel} is missing from the backup {source}. Nothing was restored.")
        if file.stat().st_size != size or _sha256(file) != digest:
            raise BackupInvalid(
                f"{rel} in the backup {source} does not match its checksum: the backup was altered or "
                "damaged. Nothing was restored; use another backup."
            )
    return manifest


def _signature(manifest: bytes, key: str) -> str:
    return hmac.new(key.encode(), manifest, hashlib.sha256).hexdigest()


def _check_signature(source: Path, manifest: bytes, key: str) -> None:
    signature = source / SIGNATURE
    if not signature.is_file():
        raise BackupInvalid(
            f"The backup {source} is not signed, and WORKBENCH_BACKUP_KEY is set: it was made without "
            "the key, or its signature was removed. Nothing was restored."
        )
    if not hmac.compare_digest(signature.read_text().strip(), _signature(manifest, key)):
        raise BackupInvalid(
            f"The backup {source} does not match its signature: it was changed after it was made, or "
            "signed with another WORKBENCH_BACKUP_KEY. Nothing was restored; use another backup."
        )


def layout(settings: Settings) -> dict[str, str | None]:
    """Where the database, the vectors and the MLflow SQLite file lie, relative to the data home;
    None for a store elsewhere (an object store, an MLflow server), which a backup leaves out."""
    uri = settings.mlflow_tracking_uri
    places = {
        "database": str(settings.db_path),
        "vectors": settings.lancedb_uri,
        "mlflow": uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else None,
    }
    found: dict[str, str | None] = {}
    for part, place in places.items():
        if place is None or "://" in place:
            found[part] = None
            continue
        path = Path(place).expanduser().resolve()
        if not path.is_relative_to(settings.home) or path == settings.home:
            raise InvalidInput(
                f"The {part} at {path} lies outside the data home {settings.home}; backup and restore "
                f"cover one folder. Move it into the home and unset {ENV_OF[part]}."
            )
        found[part] = path.relative_to(settings.home).as_posix()
    return found


def _check_backup_target(target: Path, settings: Settings) -> None:
    if target.is_relative_to(settings.home):
        raise InvalidInput(f"The backup folder {target} lies inside the data home; choose one outside it.")
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InvalidInput(
            f"{target} already exists and is not an empty folder; back up into a new or empty folder."
        )


def _check_restore_target(source: Path, settings: Settings, manifest: dict, places: dict) -> None:
    if source.is_relative_to(settings.home) or settings.home.is_relative_to(source):
        raise InvalidInput(f"The backup {source} and the data home {settings.home} overlap; move the backup.")
    for part, kept in manifest["layout"].items():
        if kept is not None and places.get(part) != kept:
            raise InvalidInput(
                f"The backup keeps its {part} at {kept} in the home, but this home expects "
                f"{places.get(part) or 'an external store'}; unset {ENV_OF[part]} and restore again."
            )


def _hold(stack: ExitStack, settings: Settings, force: bool):
    """A connection holding the target database's write lock until the stack closes; None when the
    home has no database, or (with `force`) one that cannot be opened."""
    if not settings.db_path.exists():
        return None
    try:
        return stack.enter_context(home.open_store(settings).connect())
    except StoreBusy:
        raise
    except WorkbenchError as exc:
        if force:
            return None
        raise InvalidInput(
            f"The data home {settings.home} holds a database ({exc}). Pass --force to "
            "replace it with the backup."
        ) from None


def _holds_data(settings: Settings, con, places: dict) -> bool:
    """True when the home has an organisation or any file other than an empty database."""
    if con is not None:
        try:
            if con.execute("SELECT count(*) FROM organizations").fetchone()[0]:
                return True
        except duckdb.CatalogException:
            pass  # a database without the schema yet
    if not settings.home.is_dir():
        return False
    return any(rel != places["database"] for rel in _home_files(settings.home, places))


def _home_files(root: Path, places: dict) -> list[str]:
    """The files that make up a data home, relative to it, in a stable order; lock, journal, spill and
    mark files of the databases and the derived folders of LEFT_OUT are not part of it."""
    transient = [f"{places[p]}{sep}" for p, sep in (("database", "."), ("mlflow", "-")) if places[p]]
    if places["database"]:  # the database's work and waiting marks (db.Store) beside it
        folder, _, name = places["database"].rpartition("/")
        transient.append(f"{folder}/.{name}." if folder else f".{name}.")
    found = []
    for folder, dirs, names in os.walk(root):
        here = Path(folder).relative_to(root)
        dirs[:] = sorted(d for d in dirs if here != Path(".") or d not in LEFT_OUT)
        for name in sorted(names):
            rel = (here / name).as_posix()
            if not any(rel.startswith(prefix) for prefix in transient):
                found.append(rel)
    return found


def _part_of(rel: str, places: dict) -> str:
    top = rel.split("/", 1)[0]
    if rel == places["database"]:
        return "database"
    if places["vectors"] and (rel + "/").startswith(places["vectors"] + "/"):
        return "vectors"
    if top == "uploads":
        return "uploads"
    if rel == places["mlflow"] or top == home.ARTIFACTS:
        return "mlflow"
    return "other"


def _snapshot(places: dict) -> Callable[[Path, Path, str], None]:
    """The copier for a backup: MLflow's SQLite file through SQLite's online backup (consistent even
    with a reader or writer attached), every other file as it is."""

    def copy(source: Path, target: Path, rel: str) -> None:
        if rel != places["mlflow"]:
            shutil.copy2(source, target)
            return
        try:
            with closing(sqlite3.connect(f"{source.as_uri()}?mode=ro", uri=True)) as src:
                with closing(sqlite3.connect(target)) as dst:
                    src.backup(dst)
        except sqlite3.Error as exc:
            raise WorkbenchError(
                f"Cannot copy the MLflow store {source}: {exc}. Nothing was backed up."
            ) from exc

    return copy


def _copy_parts(source: Path, target: Path, files: list[str], places: dict, copier, progress) -> dict:
    """Copy the files part by part, one progress call per part; returns each copy's part, size and sha256."""
    copier = copier or (lambda src, dst, _rel: shutil.copy2(src, dst))
    entries: dict[str, dict] = {}
    for part in PARTS:
        for rel in (r for r in files if _part_of(r, places) == part):
            copy = target / _safe(rel)
            copy.parent.mkdir(parents=True, exist_ok=True)
            copier(source / rel, copy, rel)
            entries[rel] = {"part": part, "bytes": copy.stat().st_size, "sha256": _sha256(copy)}
        if progress is not None:
            progress(part, _totals(entries)[part])
    return entries


def _manifest(settings: Settings, places: dict, copied: Path, entries: dict) -> dict:
    schema, tables = _describe_database(copied / places["database"])
    left_out = {name: why for name, why in LEFT_OUT.items() if (settings.home / name).exists()}
    for part, env in (("vectors", settings.lancedb_uri), ("mlflow", settings.mlflow_tracking_uri)):
        if places[part] is None:
            left_out[part] = f"kept outside the home at {env.split('@')[-1]}; back it up where it lives"
    parts = _totals(entries)
    parts["database"]["sha256"] = entries[places["database"]]["sha256"]
    return {
        "format": FORMAT,
        "workbench_version": _version("workbench"),
        "duckdb_version": duckdb.__version__,
        "mlflow_version": _version("mlflow"),
        "schema_version": schema,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "home": str(settings.home),
        "layout": places,
        "parts": parts,
        "tables": tables,
        "left_out": left_out,
        "files": {rel: {"bytes": e["bytes"], "sha256": e["sha256"]} for rel, e in entries.items()},
    }


def _describe_database(path: Path) -> tuple[str, dict[str, int]]:
    """The copy's schema version and the row count of every table."""
    with closing(duckdb.connect(str(path), read_only=True)) as con:
        return con.execute("SELECT max(version) FROM schema_migrations").fetchone()[0], _table_counts(con)


def _table_counts(con) -> dict[str, int]:
    names = [
        r[0]
        for r in con.execute(
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name = 'main' ORDER BY table_name"
        ).fetchall()
    ]
    return {name: con.execute(f'SELECT count(*) FROM "{name}"').fetchone()[0] for name in names}


def _rewrite_paths(staging: Path, places: dict, manifest: dict, new_home: Path) -> int:
    """Check the restored database's row counts, then point the absolute paths that lead into the
    old home at the new one; returns how many values changed."""
    pairs = path_prefixes(Path(manifest["home"]), new_home)
    changed = _rewrite_duckdb(staging / places["database"], pairs, manifest)
    if pairs and places["mlflow"] and (staging / places["mlflow"]).is_file():
        changed += _rewrite_sqlite(staging / places["mlflow"], pairs)
    uris = [(old, new) for old, new in pairs if old.startswith("file:")]
    for mlmodel in (staging / home.ARTIFACTS).rglob("MLmodel") if uris else ():
        text = original = mlmodel.read_text()
        for old, new in uris:  # MLflow notes where it saved the model; a plain path in free text stays
            text = text.replace(old, new)
        if text != original:
            mlmodel.write_text(text)
            changed += 1
    return changed


def _rewrite_duckdb(path: Path, pairs: list[tuple[str, str]], manifest: dict) -> int:
    """Check the restored database's row counts against the manifest, then rewrite its PATH_COLUMNS."""
    try:
        con = duckdb.connect(str(path))
    except duckdb.Error as exc:
        raise BackupInvalid(
            f"DuckDB {duckdb.__version__} cannot open the backup's database (made with DuckDB "
            f"{manifest.get('duckdb_version')}): {exc}. Nothing was restored."
        ) from None
    changed = 0
    with closing(con):
        if _table_counts(con) != manifest["tables"]:
            raise BackupInvalid(
                "The restored database's row counts differ from the manifest's. Nothing was "
                "restored; use another backup."
            )
        for (table, column), (old, new) in product(PATH_COLUMNS, pairs):
            changed += con.execute(
                f"UPDATE {table} SET {column} = ? || substr({column}, ?) WHERE starts_with({column}, ?)",
                [new, len(old) + 1, old],
            ).fetchone()[0]
        con.execute("CHECKPOINT")
    return changed


def path_prefixes(old: Path, new: Path) -> list[tuple[str, str]]:
    """The forms an absolute path into the old home takes (file URI, plain path) and their new forms."""
    if old == new:
        return []
    pairs = {old.as_uri() + "/": new.as_uri() + "/", f"file://{old}/": f"file://{new}/", f"{old}/": f"{new}/"}
    return list(pairs.items())


def _rewrite_sqlite(path: Path, pairs: list[tuple[str, str]]) -> int:
    """Rewrite every text value of the MLflow store that starts with an old-home prefix."""
    changed = 0
    with closing(sqlite3.connect(path)) as con, con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        for table in tables:
            for column in [r[1] for r in con.execute(f'PRAGMA table_info("{table}")')]:
                for old, new in pairs:
                    changed += con.execute(
                        f'UPDATE "{table}" SET "{column}" = ? || substr("{column}", ?)'
                        f' WHERE typeof("{column}") = \'text\' AND substr("{column}", 1, ?) = ?',
                        [new, len(old) + 1, len(old), old],
                    ).rowcount
    return changed


def _swap(staging: Path, target: Path) -> bool:
    """Put the staged home in the target's place; the old home goes only once the new one is in.
    Returns whether an old home was replaced."""
    if not target.exists():
        os.rename(staging, target)
        return False
    aside = _sibling(target, "replaced")
    os.rename(target, aside)
    try:
        os.rename(staging, target)
    except BaseException:
        os.rename(aside, target)
        raise
    for name in LEFT_OUT:  # derived files still fit the restored home: keep them
        if (aside / name).is_dir() and not (target / name).exists():
            os.rename(aside / name, target / name)
    shutil.rmtree(aside, ignore_errors=True)
    return True


def _totals(entries: dict) -> dict[str, dict]:
    totals = {part: {"files": 0, "bytes": 0} for part in PARTS}
    for entry in entries.values():
        totals[entry["part"]]["files"] += 1
        totals[entry["part"]]["bytes"] += entry["bytes"]
    return totals


def _code_migrations() -> list[int]:
    return [int(p.name[:3]) for p in db.SQL_DIR.glob("[0-9][0-9][0-9]_*.sql")]


def _safe(rel: str) -> PurePosixPath:
    """A manifest path that stays inside the home (a tampered manifest could name ../ paths)."""
    path = PurePosixPath(rel)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupInvalid(f"The manifest names {rel!r}, which leaves the home. Nothing was restored.")
    return path


def _sibling(path: Path, what: str) -> Path:
    return path.parent / f".{path.name}.{what}-{uuid.uuid4().hex[:8]}"


def _sha256(path: Path) -> str:
    with open(path, "rb") as f:
        return hashlib.file_digest(f, "sha256").hexdigest()


def _version(package: str) -> str:
    try:
        return metadata.version(package)
    except metadata.PackageNotFoundError:
        return "unknown"
