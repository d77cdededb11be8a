"""Read-only SQL over one organisation's data, for SQL that a model or a user writes.

A query (`run`) goes through three steps, all inside one deadline counted from the call:

1. Its text is refused over MAX_SQL_CHARS before any parsing (DuckDB's planner cost grows faster
   than the text: 20,000 `UNION ALL SELECT 1`, 380 KB, ran out of 8 GB), then parsed, never bound
   or run, to find the one SELECT, the views it reads (a name in a comment, a string or a CTE does
   not count) and the columns it uses.
2. Each view's rows for the user's organisation (and, for documents, the user), restricted to the
   columns the query uses, are a Parquet snapshot under `<data home>/cache/sandbox/org-N/`,
   written from the workbench database once per data version (the database file's size, time and
   inode) and reused until the database changes. The database is held only while a snapshot is
   written, never while the query runs. A copy that outlasts the query goes on in the background
   (for a Store), so that the query can be run again.
3. The query runs in a child process: a fresh interpreter with a data-size limit, an
   in-memory DuckDB with capped memory and threads, a spill folder of its own (DuckDB may read its
   temp folder even with external access off), external access off except the exact snapshot
   files this user may read, its configuration locked. The child interrupts itself at the
   deadline; the parent kills it GRACE_S later. No file, URL, extension, other database or other
   organisation can be read, and nothing written outlives the query.
"""

from __future__ import annotations

import atexit
import functools
import hashlib
import io
import json
import operator
import os
import pickle
import selectors
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from datetime import time as clock_time
from decimal import Decimal
from pathlib import Path
from typing import TYPE_CHECKING

import duckdb

from workbench.db import Store
from workbench.errors import InvalidInput, WorkbenchError
from workbench.teamdb import TeamCursor, TeamStore, data_version

if TYPE_CHECKING:
    from workbench.accounts.context import Context

# name -> (permission, SELECT with ? for org id, then user id where the view needs it). The
# documents view's filter is the documents module's; it is read when first used, so that the box
# process, which imports this module, starts without the rest of the package.
VIEWS = {
    "llm_calls": (
        "usage:read",
        "SELECT created_at, user_id, project_id, conversation_id, provider, model,"
        " operation_type, prompt_tokens, completion_tokens, cached_tokens, embedding_tokens,"
        " total_tokens, tokens_estimated, cost_usd, latency_ms, status FROM llm_calls WHERE org_id = ?",
    ),
    # the daily rollup: what a model should read at scale instead of millions of llm_calls rows
    "usage_daily": (
        "usage:read",
        "SELECT day, project_id, user_id, provider, model, operation_type, calls, error_calls, prompt_tokens,"
        " completion_tokens, cached_tokens, embedding_tokens, total_tokens, cost_usd, unpriced_calls,"
        " latency_ms_sum, latency_calls FROM usage_daily WHERE org_id = ?",
    ),
    "users": ("usage:read", "SELECT id, username, plan, is_active, created_at FROM users WHERE org_id = ?"),
    "conversations": (
        "usage:read",
        "SELECT id, user_id, project_id, agent_type, llm_provider, llm_model, status,"
        " created_at, updated_at FROM conversations WHERE org_id = ?",
    ),
    "messages": (
        "usage:read",
        "SELECT m.id, m.conversation_id, m.role, m.token_count, m.confidence_score,"
        " m.low_confidence_warning, m.created_at FROM messages m JOIN conversations c"
        " ON c.id = m.conversation_id WHERE c.org_id = ?",
    ),
    "projects": ("projects:read", "SELECT id, name, owner_id, created_at FROM projects WHERE org_id = ?"),
    "calls": (
        "calls:read",
        "SELECT c.id, c.project_id, c.external_id, c.started_at, c.created_at FROM calls c"
        " JOIN projects p ON p.id = c.project_id WHERE p.org_id = ?",
    ),
    "utterances": (
        "calls:read",
        "SELECT u.id, u.call_id, u.project_id, u.role, u.content, u.utterance_index,"
        " u.start_seconds, u.end_seconds FROM utterances u JOIN projects p ON p.id = u.project_id"
        " WHERE p.org_id = ?",
    ),
    "documents": (
        "documents:read",
        "SELECT d.id, d.title, d.filename, d.file_type, d.doc_type, d.scope,"
        " d.processing_status, d.num_chunks, d.num_tokens, d.uploaded_at FROM documents d"
        " WHERE {visible} AND d.conversation_id IS NULL",
    ),
}
PER_USER = {"documents"}  # views whose rows depend on the user, not only the organisation
MAX_ROWS = 1000
TIME_LIMIT_S = 5.0
MAX_SQL_CHARS = 20_000  # 1,000 UNION ALLs plan in 0.2 s and 100 MB; 5,000 took 2.6 s and 760 MB
# The box process's data (RLIMIT_DATA): every allocation, DuckDB's or not, so its resident memory
# stays under 1 GB (libraries and stacks add ~70 MB). DuckDB does not count one huge value against
# its own memory_limit: `repeat()` to 3 GB grew the old in-process box to 5.8 GB.
BOX_MEMORY_MB = 900
DUCKDB_MEMORY_MB = 512  # DuckDB's buffer pool inside the box; beyond it, it spills
SPILL_MB = 1024  # the most the box may write to its spill folder
BOX_THREADS = 2
MAX_RESULT_MB = 32
COPY_LIMIT_S = 120.0  # a snapshot copy left running in the background stops after this
GRACE_S = 0.5  # the parent kills the box this long after the deadline
SETTLE_S = 1.0  # a database changed this recently gets a snapshot for one query only
KEEP_OLD_S = 60.0  # superseded snapshots are deleted once this old (a running query may read one)


@dataclass(frozen=True)
class Result:
    sql: str
    columns: list[str]
    rows: list[dict]
    truncated: bool
    tables: list[str]
    seconds: float


def readable_views(ctx: Context) -> list[str]:
    """The views this user's queries may name."""
    return [name for name, (permission, _sql) in VIEWS.items() if ctx.can(permission)]


def columns(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """The readable views and their (column, type) pairs."""
    return {name: _describe(con, ctx, name) for name in readable_views(ctx)}


def schema_text(ctx: Context, con: duckdb.DuckDBPyConnection) -> str:
    """The readable views and their columns, as a prompt for a model that writes SQL."""
    return "\n".join(
        f"{name}({', '.join(f'{c} {t}' for c, t in cols)})" for name, cols in columns(ctx, con).items()
    )


def run(
    ctx: Context,
    source: Store | duckdb.DuckDBPyConnection,
    sql: str,
    *,
    max_rows: int = MAX_ROWS,
    time_limit_s: float = TIME_LIMIT_S,
) -> Result:
    """Run one SELECT over the user's organisation's data; anything else fails with a clear message.

    Pass the Store: the database file is then released before the query runs, and a copy of rows
    that outlasts the time limit goes on in the background. With an open connection the caller
    holds the file throughout and a copy is stopped at the deadline."""
    began = time.monotonic()
    deadline = began + time_limit_s
    sql = one_select(sql)
    used, every_column = _references(sql)
    allowed = readable_views(ctx)
    refused = [name for name in VIEWS if name in used and name not in allowed]
    if refused:
        raise InvalidInput(
            f"Your role may not read {', '.join(refused)} "
            f"(it needs {', '.join(sorted({VIEWS[n][0] for n in refused}))})."
        )
    tables = [name for name in allowed if name in used]
    wanted = {name: None if every_column else used[name] for name in tables}
    snapshots, once = _snapshots(ctx, source, wanted, deadline, time_limit_s)
    boxes = _root(_database_path(source)) / "boxes"
    try:
        names, fetched = _in_box(sql, snapshots, boxes, deadline, max(1, int(max_rows)), time_limit_s)
    finally:
        for folder in once:
            shutil.rmtree(folder, ignore_errors=True)
    rows = [dict(zip(names, r, strict=True)) for r in fetched[:max_rows]]
    return Result(sql, names, rows, len(fetched) > max_rows, tables, time.monotonic() - began)


def one_select(sql: str) -> str:
    """The statement, if it is a single SELECT of at most MAX_SQL_CHARS; else a clear InvalidInput."""
    sql = (sql or "").strip().rstrip(";").strip()
    if not sql:
        raise InvalidInput("The query is empty.")
    if len(sql) > MAX_SQL_CHARS:
        raise InvalidInput(
            f"The query is {len(sql):,} characters long; the console runs queries of at most "
            f"{MAX_SQL_CHARS:,} characters."
        )
    try:
        with _parser() as parser:
            statements = parser.extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidInput(f"The query is not valid SQL: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise InvalidInput("Run one statement at a time.")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = str(statements[0].type).split(".")[-1]
        raise InvalidInput(f"Only reading queries (SELECT) run here; this is a {kind} statement.")
    return sql


def finish_copies(timeout_s: float = COPY_LIMIT_S) -> None:
    """Wait for the snapshot copies still running in the background (a command about to exit)."""
    end = time.monotonic() + timeout_s
    for thread in _copy_threads():
        thread.join(max(0.0, end - time.monotonic()))


def copies_running() -> bool:
    """Whether a snapshot copy is still running in the background."""
    return bool(_copy_threads())


def _copy_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith("sandbox-copy") and t.is_alive()]


@atexit.register
def _stop_copies() -> None:
    """A process that ends stops its copies first (DuckDB aborts when a thread dies inside it)."""
    with _COPIES_GUARD:
        running = list(_COPIES.values())
    for copy in running:
        copy.stop()
    finish_copies(5.0)


# Reading the query: the parse tree only, so that nothing in it runs in this process.


def _references(sql: str) -> tuple[dict[str, set[str]], bool]:
    """The tables a SELECT reads (CTEs aside), each with the names it uses as columns, and whether it
    may use every column (`*`, COLUMNS, `#n`, a row as a value, NATURAL join, renamed columns)."""
    tree = _parse_tree(sql)
    tables, aliases, ctes, names, bare = set(), set(), set(), set(), set()
    every = False
    stack: list = [tree]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, dict):
            continue
        kind = node.get("class") or node.get("type")
        if node.get("type") == "BASE_TABLE":
            tables.add(node["table_name"].lower())
            aliases.add((node.get("alias") or node["table_name"]).lower())
            every = every or bool(node.get("column_name_alias"))
        elif kind in ("STAR", "POSITIONAL_REFERENCE"):
            every = True
        elif kind == "COLUMN_REF":
            parts = [part.lower() for part in node.get("column_names", [])]
            names.update(parts)
            if len(parts) == 1:
                bare.add(parts[0])
        if node.get("type") == "JOIN":
            every = every or node.get("ref_type") == "NATURAL"
            names.update(name.lower() for name in node.get("using_columns") or [])
        if isinstance(node.get("cte_map"), dict):
            ctes.update(entry["key"].lower() for entry in node["cte_map"].get("map", []))
        stack.extend(node.values())
    tables -= ctes
    every = every or bool(bare & (tables | aliases))  # `SELECT t FROM llm_calls t`: the whole row
    return {name: names for name in tables}, every


def _parse_tree(sql: str) -> dict:
    with _parser() as parser:
        text = parser.execute("SELECT json_serialize_sql(?)", [sql]).fetchone()[0]
    try:
        tree = json.loads(text)
    except RecursionError:
        raise InvalidInput("The query is nested too deeply.") from None
    if tree.get("error"):
        message = tree.get("error_message", "")
        if "Only SELECT statements" in message:  # DuckDB 1.5 types a PRAGMA as the SELECT it becomes
            raise InvalidInput("Only reading queries (SELECT) run here; this is a PRAGMA statement.")
        raise InvalidInput(f"The query is not valid SQL: {message[:300]}")
    return tree


def _parser() -> duckdb.DuckDBPyConnection:
    """A throwaway DuckDB for parsing only (nothing is bound or run in it)."""
    return duckdb.connect(":memory:", config={"enable_external_access": False, "threads": 1})


# Snapshots: the organisation's rows of a view, as Parquet, once per data version.


class _Copy:
    """One snapshot being written; the queries that need it wait for `done`."""

    def __init__(self, target: Path, select: str, params: list) -> None:
        self.target, self.select, self.params = target, select, params
        self.done = threading.Event()
        self.connected = threading.Event()
        self.error: str | None = None
        self.interrupted = False
        self._cursor: duckdb.DuckDBPyConnection | None = None

    def write(self, con: duckdb.DuckDBPyConnection, limit_s: float) -> None:
        """Copy the rows with `con` (a cursor of its own), stopping after `limit_s`. A file per
        thread: not keeping the rows' order halves the copy's memory (860 -> 430 MB at 10M calls)."""
        part = self.target.with_name(f".{self.target.name}.{uuid.uuid4().hex}.part")
        self._cursor = con.cursor()
        timer = threading.Timer(max(0.0, limit_s), self.stop)
        timer.start()
        try:
            options = "FORMAT parquet, PER_THREAD_OUTPUT true"
            self._cursor.execute(f"COPY ({self.select}) TO {_literal(part)} ({options})", self.params)
            try:
                os.replace(part, self.target)
            except OSError:
                if not self.target.is_dir():
                    raise
                # another process (a read-only one can run beside this) wrote the same rows first
        except duckdb.InterruptException:
            self.interrupted, self.error = True, "interrupted"
        except (duckdb.Error, OSError) as exc:
            self.error = _first_line(exc)
        finally:
            timer.cancel()
            self._cursor.close()
            shutil.rmtree(part, ignore_errors=True)
            self._finish()
        if self.error is None:
            _prune(self.target)

    def write_holding(self, store: Store) -> None:
        """Open the store (the file is held until the copy ends) and write; for a background thread."""
        try:
            with store.connect() as con:
                self.connected.set()
                self.write(con, COPY_LIMIT_S)
        except Exception as exc:  # the file could not be opened: the waiting query says why
            self.error = self.error or _first_line(exc)
        finally:
            self.connected.set()
            self._finish()

    def stop(self) -> None:
        if self._cursor is not None:
            try:
                self._cursor.interrupt()
            except duckdb.Error:
                pass  # the copy has just ended

    def _finish(self) -> None:
        with _COPIES_GUARD:
            if _COPIES.get(self.target) is self:
                del _COPIES[self.target]
        self.done.set()


_COPIES: dict[Path, _Copy] = {}
_COPIES_GUARD = threading.Lock()


def _snapshots(
    ctx: Context,
    source: Store | duckdb.DuckDBPyConnection,
    wanted: dict[str, set[str] | None],
    deadline: float,
    limit_s: float,
) -> tuple[dict[str, Path], list[Path]]:
    """A snapshot for each wanted view (None: every column), and those to delete after the query."""
    paths: dict[str, Path] = {}
    copies: dict[str, _Copy] = {}
    once: list[Path] = []
    if not wanted:
        return paths, once
    store = source if isinstance(source, Store | TeamStore) else None
    with _holding(source) as (con, db_path):
        team = isinstance(con, TeamCursor)
        stamp, settled = data_version(con, SETTLE_S) if team else _data_version(db_path)
        for name, used in wanted.items():
            found, copy, mine = _snapshot(con, ctx, db_path, name, used, stamp, settled)
            if found is not None:
                paths[name] = found
                continue
            copies[name] = copy
            if not settled:
                once.append(copy.target)
            if not mine:
                continue  # another query's copy, under way
            if store is not None:
                name_ = f"sandbox-copy-{copy.target.name}"
                threading.Thread(target=copy.write_holding, args=(store,), name=name_, daemon=True).start()
                copy.connected.wait()  # the copy holds the file before this query lets it go
            else:
                copy.write(con, deadline - time.monotonic())
    for name, copy in copies.items():
        finished = copy.done.wait(max(0.0, deadline - time.monotonic()))
        if not finished or copy.interrupted:
            goes_on = not finished and store is not None and settled
            if not goes_on:
                copy.stop()
            then = "it goes on in the background: run the query again in a moment" if goes_on else "stopped"
            raise InvalidInput(
                f"Copying your organisation's {name} for the query took longer than {limit_s:g} s ({then})."
                " Naming fewer columns (or reading usage_daily instead of llm_calls) makes it faster."
            )
        if copy.error:
            raise InvalidInput(f"Your organisation's {name} could not be copied for the query: {copy.error}")
        paths[name] = copy.target
    return paths, once


def _snapshot(con, ctx, db_path: Path, name: str, used: set[str] | None, stamp: str, settled: bool):
    """An existing snapshot of `name` with the columns used, or the copy that will write one and
    whether this query is to start it."""
    view_columns = [column for column, _type in _describe(con, ctx, name)]
    needed = [c for c in view_columns if used is None or c in used] or view_columns[:1]
    mask = sum(1 << view_columns.index(c) for c in needed)
    folder = _root(db_path) / f"org-{int(ctx.org_id)}"
    if name in PER_USER:
        folder = folder / f"user-{int(ctx.user_id)}"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    version = hashlib.sha256(f"{stamp}|{_view_sql(name)}|{_params(ctx, name)}".encode()).hexdigest()[:20]
    if settled:
        masks = {}
        for path in folder.glob(f"{name}-{version}-*"):
            masks[path] = int(path.name.rsplit("-", 1)[1], 16)  # names this module writes
            if masks[path] & mask == mask:
                return path, None, False
        mask |= functools.reduce(operator.or_, masks.values(), 0)  # one copy grows towards every column
        target = folder / f"{name}-{version}-{mask:x}"
    else:
        target = folder / f"{name}-once-{uuid.uuid4().hex}"
    chosen = ", ".join(f'"{c}"' for i, c in enumerate(view_columns) if mask >> i & 1)
    select = f"SELECT {chosen} FROM ({_view_sql(name)}) AS v"
    with _COPIES_GUARD:
        copy = _COPIES.get(target)
        if copy is not None:
            return None, copy, False
        copy = _COPIES[target] = _Copy(target, select, _params(ctx, name))
    return None, copy, True


@contextmanager
def _holding(source: Store | duckdb.DuckDBPyConnection) -> Iterator[tuple[duckdb.DuckDBPyConnection, Path]]:
    """A connection and the database file's path; a Store's file is held only inside the block."""
    if isinstance(source, Store | TeamStore):
        with source.connect() as con:
            yield con, source.path
    else:
        yield source, _database_path(source)


def _database_path(source: Store | duckdb.DuckDBPyConnection) -> Path:
    """The database file's path (on the team profile, where the data home's would be: the sandbox
    keeps its snapshots beside it)."""
    if isinstance(source, Store | TeamStore):
        return source.path
    if isinstance(source, TeamCursor):
        return source.store.path
    row = source.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()")
    path = row.fetchone()[0]
    if not path:
        raise WorkbenchError("The SQL sandbox reads from the workbench database file, not an in-memory one.")
    return Path(path).resolve()


def _data_version(db_path: Path) -> tuple[str, bool]:
    """A name for the database's current contents (its file's and its WAL's identity, size and
    times: any commit changes one of them), and whether it is settled: unchanged for SETTLE_S, so
    that a later change cannot share the file time it has now."""
    parts, newest = [], 0
    for path in (db_path, db_path.with_name(db_path.name + ".wal")):
        try:
            st = path.stat()
        except FileNotFoundError:
            parts.append("-")
            continue
        parts.append(f"{st.st_dev}:{st.st_ino}:{st.st_size}:{st.st_mtime_ns}:{st.st_ctime_ns}")
        newest = max(newest, st.st_mtime_ns, st.st_ctime_ns)
    return "|".join(parts), time.time_ns() - newest > SETTLE_S * 1e9


def _root(db_path: Path) -> Path:
    """The sandbox's own folder in the data home (under cache/, which backups leave out)."""
    return db_path.parent / "cache" / "sandbox"


def _prune(keep: Path) -> None:
    """Delete the snapshots of the same view that `keep` supersedes (other data versions, fewer
    columns) once KEEP_OLD_S old, and partial files of copies that died."""
    name, version, mask = keep.name.rsplit("-", 2)
    now = time.time()
    for path in [*keep.parent.glob(f"{name}-*"), *keep.parent.glob(f".{name}-*.part")]:
        try:
            age = now - path.stat().st_mtime
            if path.suffix == ".part":
                stale = age > 2 * COPY_LIMIT_S
            else:
                _name, their_version, their_mask = path.name.rsplit("-", 2)
                fewer = int(their_mask, 16) & ~int(mask, 16) == 0
                stale = path != keep and age > KEEP_OLD_S and (their_version != version or fewer)
        except (OSError, ValueError):
            continue  # gone meanwhile, or not a name this module writes
        if stale:
            shutil.rmtree(path, ignore_errors=True)


# The box: a child process that runs the query over the snapshots.


def _in_box(sql: str, snapshots: dict[str, Path], boxes: Path, deadline: float, max_rows: int,
            limit_s: float) -> tuple[list[str], list[tuple]]:
    """Run the query in a box process over the snapshots; (column names, rows) or a clear InvalidInput."""
    boxes.mkdir(parents=True, exist_ok=True, mode=0o700)
    _prune_boxes(boxes)
    folder = Path(tempfile.mkdtemp(prefix="box-", dir=boxes))  # the box's working and spill folder
    request = {
        "sql": sql,
        "views": {name: sorted(str(p) for p in path.glob("*.parquet")) for name, path in snapshots.items()},
        "folder": str(folder),
        "deadline": deadline,  # time.monotonic() is the same clock in the box process
        "max_rows": max_rows,
    }
    try:
        proc = subprocess.Popen(
            _BOX_COMMAND,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            cwd=folder,
            env={"PATH": os.defpath, "HOME": str(folder)}
            | {k: os.environ[k] for k in ("TZ", "LANG", "LC_ALL") if k in os.environ},
        )
        try:
            out, err, why = _exchange(proc, json.dumps(request).encode(), deadline + GRACE_S)
        finally:
            if proc.poll() is None:
                proc.kill()
            proc.wait()
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    if why == "time":
        raise InvalidInput(f"The query ran longer than {limit_s:g} s and was stopped.")
    try:
        reply = _Reply(io.BytesIO(out)).load() if why is None and out else {"error": why or "crash"}
    except (pickle.UnpicklingError, EOFError, ValueError, TypeError):
        reply = {"error": "crash"}
    return _answer_of(reply, limit_s, proc.returncode, err)


def _answer_of(reply: dict, limit_s: float, returncode: int | None, err: str):
    error = reply.get("error")
    if error is None:
        return reply["columns"], reply["rows"]
    if error == "time":
        raise InvalidInput(f"The query ran longer than {limit_s:g} s and was stopped.")
    if error == "memory":
        raise InvalidInput(
            f"The query needed more than the sandbox's memory ({BOX_MEMORY_MB:,} MB) and was stopped."
        )
    if error == "size":
        raise InvalidInput(f"The result is larger than {MAX_RESULT_MB} MB: select fewer or shorter values.")
    if error == "failed":
        raise InvalidInput(f"The query failed: {reply['message']}")
    last = err.strip().splitlines()[-1][:200] if err.strip() else f"exit code {returncode}"
    raise InvalidInput(f"The query stopped the sandbox ({last}).")


def _prune_boxes(boxes: Path) -> None:
    """Delete box folders left behind by a process that died (a live box is seconds old)."""
    for folder in boxes.glob("box-*"):
        try:
            if folder.stat().st_mtime < time.time() - 3600:
                shutil.rmtree(folder, ignore_errors=True)
        except FileNotFoundError:
            pass


def _exchange(proc: subprocess.Popen, request: bytes, until: float) -> tuple[bytes, str, str | None]:
    """Send the request, read the reply (bounded) until `until`; (stdout, stderr tail, why it stopped)."""
    try:
        proc.stdin.write(request)
        proc.stdin.close()
    except BrokenPipeError:
        pass  # the box died at once; its exit code tells why
    out, err = bytearray(), bytearray()
    cap = MAX_RESULT_MB * 2**20 + 2**16
    with selectors.DefaultSelector() as selector:
        selector.register(proc.stdout, selectors.EVENT_READ, out)
        selector.register(proc.stderr, selectors.EVENT_READ, err)
        while selector.get_map():
            left = until - time.monotonic()
            if left <= 0:
                return bytes(out), "", "time"
            for key, _events in selector.select(left):
                chunk = os.read(key.fd, 2**16)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                key.data.extend(chunk)
                if len(out) > cap:
                    return b"", "", "size"
                del err[: max(0, len(err) - 4096)]
    try:
        proc.wait(max(0.0, until - time.monotonic()))
    except subprocess.TimeoutExpired:
        return bytes(out), "", "time"
    return bytes(out), err.decode(errors="replace"), None


class _Reply(pickle.Unpickler):
    """Unpickles the box's reply: plain values only, so a subverted box cannot run code here."""

    ALLOWED = {("datetime", n) for n in ("date", "datetime", "time", "timedelta", "timezone")} | {
        ("decimal", "Decimal"),
        ("uuid", "UUID"),
    }

    def find_class(self, module: str, name: str):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"{module}.{name} is not a value the sandbox returns")
        return super().find_class(module, name)


_BOX_COMMAND = [
    sys.executable,
    "-I",
    "-c",
    f"import sys; sys.path.insert(0, {str(Path(__file__).resolve().parent.parent.parent)!r});"
    " from workbench.sql_console.sandbox import _box_main; _box_main()",
]


def _box_main() -> None:
    """The box process: read the request on stdin, run it under limits, pickle the reply to stdout."""
    import resource  # POSIX; only the box needs it

    request = json.loads(sys.stdin.buffer.read())
    reply_to = os.fdopen(os.dup(1), "wb")
    os.dup2(2, 1)  # whatever DuckDB prints goes to stderr, not into the reply
    memory = BOX_MEMORY_MB * 2**20
    resource.setrlimit(resource.RLIMIT_DATA, (memory, memory))  # not AS: thread arenas reserve GBs
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
    cpu = int(BOX_THREADS * (request["deadline"] - time.monotonic())) + 10  # should the parent die
    resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu))
    try:
        reply = _answer(request)
        data = pickle.dumps(reply, protocol=5)
    except MemoryError:
        data = pickle.dumps({"error": "memory"})
    if len(data) > MAX_RESULT_MB * 2**20:
        data = pickle.dumps({"error": "size"})
    reply_to.write(data)
    reply_to.close()


def _answer(request: dict) -> dict:
    box = duckdb.connect(
        ":memory:",
        config={
            "memory_limit": f"{DUCKDB_MEMORY_MB}MB",
            "threads": BOX_THREADS,
            "temp_directory": request["folder"],
            "max_temp_directory_size": f"{SPILL_MB}MB",
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
        },
    )
    box.execute("SET enable_progress_bar = false")
    box.execute("SET allowed_paths = ?", [[path for paths in request["views"].values() for path in paths]])
    box.execute("SET enable_external_access = false")
    box.execute("SET lock_configuration = true")
    for name, paths in request["views"].items():
        files = ", ".join(_literal(path) for path in paths)
        box.execute(f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}])")
    timer = threading.Timer(request["deadline"] - time.monotonic(), box.interrupt)
    timer.start()
    try:
        cursor = box.execute(request["sql"])
        names = [d[0] for d in cursor.description]
        rows = [tuple(_plain(v) for v in row) for row in cursor.fetchmany(request["max_rows"] + 1)]
    except duckdb.InterruptException:
        return {"error": "time"}
    except duckdb.OutOfMemoryException:
        return {"error": "memory"}
    except duckdb.Error as exc:
        return {"error": "failed", "message": _first_line(exc)}
    finally:
        timer.cancel()
    return {"columns": names, "rows": rows}


_PLAIN = (type(None), bool, int, float, str, bytes, Decimal, uuid.UUID, date, timedelta)


def _plain(value):
    """A value the parent unpickles without trusting the box: zones become fixed offsets."""
    if isinstance(value, datetime | clock_time) and value.tzinfo is not None:
        offset = value.utcoffset() if isinstance(value, datetime) else value.tzinfo.utcoffset(None)
        return value.replace(tzinfo=timezone(offset or timedelta(0)))
    if isinstance(value, (*_PLAIN, clock_time)):
        return value
    if isinstance(value, list | tuple):
        return type(value)(_plain(v) for v in value)
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return str(value)


def _describe(con: duckdb.DuckDBPyConnection, ctx: Context, name: str) -> list[tuple[str, str]]:
    cursor = con.execute(f"SELECT * FROM ({_view_sql(name)}) LIMIT 0", _params(ctx, name))
    described = [(d[0], str(d[1])) for d in cursor.description]
    cursor.fetchall()
    return described


def _view_sql(name: str) -> str:
    sql = VIEWS[name][1]
    if "{visible}" in sql:
        from workbench.documents.records import VISIBLE

        sql = sql.format(visible=VISIBLE)
    return sql


def _params(ctx: Context, name: str) -> list:
    return [ctx.org_id, ctx.user_id] if name in PER_USER else [ctx.org_id]


def _literal(path: Path | str) -> str:
    return "'" + str(path).replace("'", "''") + "'"


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
