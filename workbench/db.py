"""The DuckDB store: a connection factory that holds the file only for a unit of work, and the
migration runner.

DuckDB lets one process at a time open the file read-write. A process therefore opens it for a
unit of work (a page run, one CLI command) and closes it after; threads of one process share the
open connection through their own cursors. A server process (the app, the API) lets an idle
connection linger a moment (`linger_s`), so the several units of work of one page run, and the
next click, open the file once: an open costs 20-65 ms on 2 cores. A lingering connection gives
way at once to another process waiting for the file, and to this process swapping it (`release`).
"""

from __future__ import annotations

import atexit
import importlib.util
import os
import re
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb

try:
    import fcntl
except ImportError:  # not POSIX: doctor falls back to the age of a stuck document
    fcntl = None

from workbench.errors import Conflict, NotInitialised, StoreBusy, WorkbenchError

SQL_DIR = Path(__file__).parent / "sql"
_LOCK_PATTERN = re.compile(r"lock|Conflicting", re.IGNORECASE)
_PID_PATTERN = re.compile(r"PID (\d+)")
# Cursors inside a transaction opened by `atomic`, so nested units of work join it.
_IN_TRANSACTION: weakref.WeakSet = weakref.WeakSet()
# Work files this process holds exclusively (`Store.idle`): its own work then takes no shared lock.
_IDLE_HELD: set[Path] = set()
# Every store of this process, so that a file swap or the process's exit closes lingering connections.
_STORES: weakref.WeakSet = weakref.WeakSet()
# A waiter's mark counts this long after its last try.
WAITING_S = 0.5
# The storage format database files are written in: DuckDB 1.5's, which DuckDB 2 reads and writes
# too. The team profile needs DuckDB 1.5.5 (its PostgreSQL, DuckLake and S3 extension wheels load
# into no other version), which cannot open a file in DuckDB 2's own format.
STORAGE = "v1.5.0"
CONFIG = {"storage_compatibility_version": STORAGE}  # one config for every open of a file
_NEWER = re.compile(r"created with an? newer version of DuckDB|can only read versions", re.IGNORECASE)
_RETRY_S = 0.05


class MigrationError(WorkbenchError):
    """A migration failed; the database is left as it was before it."""


def describe_holder(pid: int | None) -> str:
    """Say what a process is, from its command line: the app, a CLI command, or something else."""
    if pid is None:
        return "another process"
    try:
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")
    except OSError:
        return f"another process (pid {pid})"
    cmdline = " ".join(" ".join(argv).split())  # one line, whatever the arguments hold
    if "streamlit" in cmdline:
        return f"the Workbench app (pid {pid})"
    # `.../bin/python .../bin/workbench calls import f.csv` -> `workbench calls import f.csv`
    start = next((i for i, arg in enumerate(argv) if Path(arg).name == "workbench"), None)
    if start is not None:
        command = " ".join(" ".join(["workbench", *argv[start + 1 :]]).split())
        return f"a workbench command (pid {pid}: {command[:80]})"
    if "workbench" in cmdline:
        return f"a workbench command (pid {pid}: {cmdline[:80]})"
    return f"another process (pid {pid}: {cmdline[:80]})"


class Store:
    """One process's handle on the database file, opened per unit of work."""

    def __init__(self, path: Path | str, *, lock_wait_s: float = 5.0, create: bool = False,
                 on_wait=None, read_only: bool = False, linger_s: float = 0.0) -> None:
        self.path = Path(path)
        self.lock_wait_s = lock_wait_s
        self.create = create
        # read-only opens coexist with each other (a reading command never blocks another) but not
        # with a writer; a process keeps one mode for all its open connections (DuckDB's rule)
        self.read_only = read_only
        self.on_wait = on_wait  # called once with a message when the file is held by another
        self.linger_s = linger_s  # 0: the file is closed as soon as the last unit of work ends
        self._guard = threading.Lock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self._users = 0
        self._left_at = 0.0  # when the last unit of work ended
        self._file: tuple[int, int] | None = None  # the open file's (device, inode)
        self.opens = 0  # how many times this store opened the file (for benches and tests)
        _STORES.add(self)

    @property
    def waiting_path(self) -> Path:
        """A file another process touches while it waits for the database: lingering gives way."""
        return _waiting_path(self.path)

    def _someone_waits(self) -> bool:
        try:
            return time.time() - self.waiting_path.stat().st_mtime < WAITING_S
        except OSError:
            return False

    def _open(self) -> duckdb.DuckDBPyConnection:
        if not self.create and not self.path.exists():
            raise NotInitialised(
                f"No database at {self.path}. Run `workbench init` (or `make run`) first, "
                "or point WORKBENCH_HOME at an existing data home."
            )
        if not self.path.parent.is_dir():
            raise NotInitialised(
                f"The data home {self.path.parent} does not exist. Run `workbench init` first."
            )
        deadline = time.monotonic() + self.lock_wait_s
        told = False
        marked = False
        while True:
            try:
                conn = duckdb.connect(str(self.path), read_only=self.read_only, config=CONFIG)
                self._file = _identity(self.path)
                self.opens += 1
                if marked:  # another waiter, if any, marks again within its next try
                    self.waiting_path.unlink(missing_ok=True)
                return conn
            except duckdb.IOException as exc:
                if _NEWER.search(str(exc)):
                    raise WorkbenchError(
                        f"The database {self.path} was written by a newer DuckDB than this one "
                        f"({duckdb.__version__}), which cannot read it. Open the data home once with the "
                        "workbench release that wrote it (`workbench init` rewrites the file in the "
                        f"format both read, DuckDB {STORAGE[1:]}), or restore a backup made by this release."
                    ) from None
                if not _LOCK_PATTERN.search(str(exc)):
                    raise WorkbenchError(f"Cannot open the database {self.path}: {exc} Restore it from "
                                         "a backup or point WORKBENCH_HOME elsewhere.") from exc
                match = _PID_PATTERN.search(str(exc))
                holder = describe_holder(int(match.group(1)) if match else None)
                if time.monotonic() >= deadline:
                    raise StoreBusy(
                        f"The database {self.path} is in use by {holder}. Wait for it to finish "
                        "(or stop it) and try again."
                    ) from None
                if not told and self.on_wait is not None:
                    self.on_wait(f"The database is in use by {holder}; waiting up to "
                                 f"{self.lock_wait_s:.0f} s...")
                    told = True
                _mark(self.path)
                marked = True
                time.sleep(_RETRY_S)

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor on the shared connection; the file is closed when the last user leaves (a
        moment after, with `linger_s`)."""
        if self._conn is None:  # DuckDB keeps one instance per file in a process, in one mode
            for other in list(_STORES):
                if other is not self and other.path == self.path and other.read_only != self.read_only:
                    other.release()
        elif self._users == 0 and _identity(self.path) != self._file:
            release(self.path)  # the file was swapped (a restore by another process): read the new one
        with self._guard:
            if self._conn is None:
                self._conn = self._open()
            self._users += 1
            cursor = self._conn.cursor()
        try:
            yield cursor
        finally:
            cursor.close()
            with self._guard:
                self._users -= 1
                self._left_at = time.monotonic()
                if self._users == 0 and self._conn is not None:
                    if self.linger_s <= 0 or self._someone_waits():
                        self._close()
                    else:
                        timer = threading.Timer(self.linger_s, self._close_if_idle)
                        timer.daemon = True
                        timer.start()

    def _close(self) -> None:
        """Close the idle connection (the guard held)."""
        if self._conn is not None:
            self._conn.close()
            self._conn = None

    def _close_if_idle(self) -> None:
        """A linger's end: close unless a unit of work has begun or ended since (its own timer runs)."""
        with self._guard:
            if self._users == 0 and time.monotonic() - self._left_at >= self.linger_s * 0.99:
                self._close()

    def release(self) -> bool:
        """Close a lingering connection now; False if a unit of work holds it."""
        with self._guard:
            if self._users:
                return False
            self._close()
            return True

    @property
    def work_lock_path(self) -> Path:
        return self.path.with_name(f".{self.path.name}.work")

    @contextmanager
    def working(self) -> Iterator[None]:
        """Hold a shared lock on the database's work file while long work is under way (an ingest,
        embedding calls). The kernel releases it when the process ends, however it ends, so that
        `doctor` can tell work that died (a document left 'processing') from work in progress."""
        if fcntl is None or self.work_lock_path in _IDLE_HELD:
            yield
            return
        with open(self.work_lock_path, "a") as handle:
            fcntl.flock(handle, fcntl.LOCK_SH)
            yield

    @contextmanager
    def idle(self) -> Iterator[bool | None]:
        """True when no process is working (see `working`): the work file is then held exclusively
        until the block ends, so no work starts meanwhile. False when some process is working now;
        None where this cannot be known (no POSIX file locks)."""
        if fcntl is None:
            yield None
            return
        with open(self.work_lock_path, "a") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held = False
            else:
                held = True
                _IDLE_HELD.add(self.work_lock_path)
            try:
                yield held
            finally:
                _IDLE_HELD.discard(self.work_lock_path)

    @contextmanager
    def transaction(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """A cursor inside one transaction: committed on success, rolled back on any error."""
        with self.connect() as cur, atomic(cur):
            yield cur


def release(path: Path | str) -> None:
    """Close this process's lingering connections to the database at `path`, before the file is
    swapped or deleted (units of work in progress keep theirs)."""
    path = Path(path)
    for store in list(_STORES):
        if store.path == path:
            store.release()


def _waiting_path(path: Path) -> Path:
    return path.with_name(f".{path.name}.waiting")


def _mark(path: Path) -> None:
    """Say that this process waits for the database at `path` (see Store.waiting_path)."""
    try:
        _waiting_path(path).touch()
    except OSError:
        pass  # a read-only home: the holder closes when its linger ends anyway


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        found = os.stat(path)
    except OSError:
        return None
    return found.st_dev, found.st_ino


def load_extension(con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Load a DuckDB extension from its PyPI wheel (`duckdb-extension-<name>`: postgres_scanner,
    ducklake, httpfs), never from the network: the file for this DuckDB version, from the package."""
    spec = importlib.util.find_spec(f"duckdb_extension_{name}")
    if spec is None or not spec.submodule_search_locations:
        raise WorkbenchError(f"The DuckDB extension {name} is not installed: `pip install "
                             f"duckdb-extension-{name.replace('_', '-')}=={duckdb.__version__}`.")
    folder = Path(next(iter(spec.submodule_search_locations))) / "extensions" / f"v{duckdb.__version__}"
    found = folder / f"{name}.duckdb_extension"
    if not found.is_file():
        raise WorkbenchError(f"The DuckDB extension {name} installed has no build for DuckDB "
                             f"{duckdb.__version__} (looked for {found}).")
    con.execute(f"LOAD '{found}'")


def storage_of(con: duckdb.DuckDBPyConnection, database: str | None = None) -> str:
    """The storage format of the connection's database file (or of the attached `database`):
    "v1.5.0+", "v2.0.0+"."""
    tags = con.execute(
        "SELECT tags FROM duckdb_databases() WHERE database_name = coalesce(?, current_database())",
        [database],
    ).fetchone()[0]
    return dict(tags or {}).get("storage_version", "")


def newer_storage(tag: str) -> bool:
    """True for a storage format DuckDB 1.5 cannot read ("v2.0.0+")."""
    return _version(tag) > _version(STORAGE)


def _version(tag: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", tag)[:3])


def rewrite_storage(path: Path, lock_wait_s: float = 5.0) -> str | None:
    """Rewrite the database file in STORAGE's format when it is in a newer one (made by DuckDB 2
    before STORAGE was set), keeping the old file beside it. Every table, view, index and sequence
    is copied, and the row counts and sequences are checked before the files are swapped; the
    file is held throughout, so no other process writes meanwhile. Returns what was done, or None."""
    release(path)
    con = duckdb.connect(":memory:")
    try:
        quoted = str(path).replace("'", "''")
        deadline = time.monotonic() + lock_wait_s
        while True:
            try:
                con.execute(f"ATTACH '{quoted}' AS old")  # held until the end: nobody writes meanwhile
                break
            except duckdb.Error as exc:  # held by another process, or by a unit of work of this one
                if not _LOCK_PATTERN.search(str(exc)) and "in use" not in str(exc).lower():
                    raise
                if time.monotonic() >= deadline:
                    raise StoreBusy(f"The database {path} is in use; stop the app and try again.") from None
                _mark(path)
                time.sleep(_RETRY_S)
        found = storage_of(con, "old")
        if not newer_storage(found):
            return None
        con.execute("CHECKPOINT old")
        staged = path.with_name(f".{path.name}.rewriting")
        staged.unlink(missing_ok=True)
        quoted_staged = str(staged).replace("'", "''")
        con.execute(f"ATTACH '{quoted_staged}' AS new (STORAGE_VERSION '{STORAGE}')")
        con.execute("COPY FROM DATABASE old TO new")
        if _contents(con, "old") != _contents(con, "new"):
            con.execute("DETACH new")
            staged.unlink(missing_ok=True)
            raise WorkbenchError(f"Rewriting {path} in DuckDB {STORAGE[1:]}'s format gave different row "
                                 "counts; nothing was changed.")
        con.execute("CHECKPOINT new")
        aside = path.with_name(f"{path.name}.{found.rstrip('+')}-format")
        if aside.exists():  # an earlier rewrite's old file stays as it is
            aside = aside.with_name(f"{aside.name}-{time.strftime('%Y%m%d-%H%M%S')}")
        os.link(path, aside)  # the old file gets a second name; the database path never goes missing
        os.replace(staged, path)  # one atomic step, both files still held
        return (f"Database rewritten in DuckDB {STORAGE[1:]}'s storage format (was {found}), which "
                f"DuckDB 1.5 and 2 both read; the old file is kept at {aside}: delete it once the "
                "app works.")
    finally:
        con.close()


def _contents(con: duckdb.DuckDBPyConnection, name: str) -> tuple:
    """Every table's row count and every sequence's last value in the attached database `name`."""
    tables = [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'"
        " ORDER BY table_name", [name]).fetchall()]
    counts = [(t, con.execute(f'SELECT count(*) FROM {name}.main."{t}"').fetchone()[0]) for t in tables]
    sequences = con.execute(
        "SELECT sequence_name, last_value FROM duckdb_sequences() WHERE database_name = ?"
        " ORDER BY sequence_name", [name]).fetchall()
    views = con.execute(
        "SELECT count(*) FROM duckdb_views() WHERE database_name = ? AND NOT internal", [name]).fetchone()
    return counts, sequences, views


@atexit.register
def _release_all() -> None:
    for store in list(_STORES):
        store.release()


@contextmanager
def atomic(con: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """Join the caller's transaction, or run one of our own when there is none."""
    if con in _IN_TRANSACTION:
        yield con  # the caller's transaction commits or rolls back
        return
    con.begin()
    _IN_TRANSACTION.add(con)
    try:
        yield con
        con.commit()
    except duckdb.TransactionException as exc:
        _rollback(con)
        raise Conflict("Another change touched the same rows at the same moment, so nothing was saved."
                       " Try again.") from exc
    except BaseException:
        _rollback(con)
        raise
    finally:
        _IN_TRANSACTION.discard(con)


def _rollback(con) -> None:
    try:
        con.rollback()
    except duckdb.Error:
        pass  # a failed commit has already ended the transaction


MIGRATIONS_TABLE = (
    "CREATE TABLE IF NOT EXISTS schema_migrations (version VARCHAR PRIMARY KEY, name VARCHAR NOT NULL,"
    " applied_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp())"
)


def migrate(con: duckdb.DuckDBPyConnection, sql_dir: Path = SQL_DIR) -> list[str]:
    """Apply the numbered migrations not yet applied, each in its own transaction."""
    con.execute(MIGRATIONS_TABLE)
    done = {row[0] for row in con.execute("SELECT version FROM schema_migrations").fetchall()}
    applied = []
    for path in sorted(sql_dir.glob("[0-9][0-9][0-9]_*.sql")):
        version, name = path.stem.split("_", 1)
        if version in done:
            continue
        con.begin()
        try:
            con.execute(path.read_text())
            con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)",
                        [version, name])
            con.commit()
        except duckdb.Error as exc:
            con.rollback()
            raise MigrationError(f"Migration {path.name} failed and was rolled back: {exc}") from exc
        applied.append(path.name)
    return applied


def fetch_dicts(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> list[dict]:
    """Run a query and return its rows as dicts."""
    cur = con.execute(sql, params or [])
    names = [d[0] for d in cur.description]
    return [dict(zip(names, row, strict=True)) for row in cur.fetchall()]


def fetch_one(con: duckdb.DuckDBPyConnection, sql: str, params: list | None = None) -> dict | None:
    """The first row of a query as a dict, or None."""
    rows = fetch_dicts(con, sql, params)
    return rows[0] if rows else None
