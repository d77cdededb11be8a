"""The team profile's relational store: the same tables in PostgreSQL, reached through DuckDB's
PostgreSQL extension, so that the same SQL runs on both profiles (DESIGN.md, the team profile).

One in-memory DuckDB per process attaches the PostgreSQL database as `state` and makes it the
default catalog: every service's query reads and writes PostgreSQL's tables, in PostgreSQL's
transactions, with its unique keys enforced. What DuckDB cannot send to PostgreSQL is done here, in
the handle (TeamCursor), not in the services: `INSERT ... RETURNING` (ids come from PostgreSQL's
sequences first), `INSERT ... ON CONFLICT` (DuckDB would send NULL for every column not named
instead of PostgreSQL's defaults: an update of the existing row, else a plain insert), `nextval`,
and PostgreSQL's refusals become the DuckDB exceptions the services catch.

The schema is derived from the numbered migrations (sql/): they are applied to an empty in-memory
DuckDB, whose tables, sequences, indexes and views are then written in PostgreSQL's dialect, and
whose rows (roles, permissions, prices) are copied (`create`). `move_in` and `move_out` copy a
data home's DuckDB file in and out the same way.

The large append-only facts (LAKE_TABLES: the usage rollups every Usage query reads) live in a
DuckLake instead, attached as `lake`: its catalog in the same PostgreSQL database (schema
`ducklake`), its Parquet files under the lake's data path (a folder, or s3:// in a deployment), so
that an aggregate over millions of rollup rows runs in DuckDB rather than being copied out of
PostgreSQL row by row. The search path holds PostgreSQL's tables and then the process's own
catalog, where a view of the same name reads each lake table (with the lake itself in the search
path, every query read the lake's snapshot first) and the migrations' views over the lake are
made; a write names the lake table (TeamCursor). DuckDB lets one transaction write one database
only: a lake write in a transaction that has written PostgreSQL is computed at once and applied just after the
commit, in the lake's own transaction, retried when a concurrent commit conflicts (TeamCursor).
"""

from __future__ import annotations

import functools
import logging
import os
import re
import threading
import time
import uuid as uuid_mod
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import duckdb
import pyarrow as pa

from workbench import db
from workbench.errors import NotInitialised, WorkbenchError
from workbench.settings import STORAGE_OPTIONS

STATE = "state"
LAKE = "lake"
LAKE_METADATA = "ducklake"  # the PostgreSQL schema of the lake's catalog
# The facts kept in the lake: no keys, only appended to or deleted from by filter (usage/rollup.py)
LAKE_TABLES = ("usage_daily", "usage_model_daily", "usage_project_user_daily", "usage_latency_daily",
               "usage_latency_model_daily", "usage_conversation_daily")
# PostgreSQL's tables, then views: the lake's tables are read through views of the same name in
# `memory.main` and written by their full name (TeamCursor), because a lake in the search path
# made every query read the lake's snapshot from PostgreSQL: 7 ms for a one-row query, not 2
SEARCH_PATH = f"{STATE}.public,memory.main"
LAKE_RETRIES = 5  # a lake write after its PostgreSQL commit, when a concurrent commit conflicts
# the lake's upkeep (`TeamCursor.tidy_lake`): snapshots kept this long for time travel, and a file
# no snapshot needs any more deleted this long after, so that a query reading it has finished
LAKE_OPTIONS = {"expire_older_than": "1 hour", "delete_older_than": "10 minutes"}
WORK_LOCK = 7_215_001  # the advisory lock key of long work (TeamStore.working)
# DuckDB's CREATE TABLE text -> PostgreSQL's
_TYPES = [
    (re.compile(r"\bDOUBLE\b"), "DOUBLE PRECISION"),
    (re.compile(r"\bHUGEINT\b"), "NUMERIC(38, 0)"),
    # JSON as text that must parse: DuckDB writes JSON as text, which a json column refuses, and its
    # JSON functions read text alike
    (re.compile(r'(?P<col>"?\w+"?) JSON(?=[,\s)]|$)'),
     r"\g<col> TEXT CHECK (\g<col> IS NULL OR \g<col>::json IS NOT NULL)"),
    (re.compile(r"\buuid\(\)"), "gen_random_uuid()"),
    (re.compile(r"\bcurrent_localtimestamp\(\)"), "LOCALTIMESTAMP"),
    (re.compile(r"\bmain\.list_value\(\)"), "'{}'"),
    (re.compile(r'"DATE"'), "DATE"),
    (re.compile(r"\bcount_star\(\)"), "count(*)"),
]
_INSERT = re.compile(r"^\s*INSERT\s+INTO\s+(?P<table>\w+)\s*\((?P<cols>[^)]*)\)\s*(?P<source>.*?)"
                     r"\s+RETURNING\s+(?P<returning>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_NEXTVAL = re.compile(r"^\s*SELECT\s+nextval\('(?P<seq>\w+)'\)(\s+FROM\s+range\((?P<n>\?|\d+)\))?\s*;?\s*$",
                      re.IGNORECASE)
_UPSERT = re.compile(r"^\s*INSERT\s+INTO\s+(?P<table>\w+)\s*\((?P<cols>[^)]*)\)\s*VALUES\s*"
                     r"(?P<values>\((?:[^()']|'[^']*'|\([^()]*\))*\))\s*ON\s+CONFLICT\s*\((?P<keys>[^)]*)\)"
                     r"\s*DO\s+(?P<action>NOTHING|UPDATE\s+SET\s+.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
_DELETE = re.compile(r"^\s*DELETE\s+FROM\s+(?P<table>\w+)\s+WHERE\s+(?P<where>.*?)"
                               r"\s+RETURNING\s+(?P<returning>.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)


def translate_table(sql: str) -> str:
    """A table's DuckDB definition in PostgreSQL's dialect."""
    for pattern, replacement in _TYPES:
        sql = pattern.sub(replacement, sql)
    return sql


def schema_statements(sql_dir: Path = db.SQL_DIR) -> tuple[list[str], duckdb.DuckDBPyConnection]:
    """The PostgreSQL statements that make the migrations' schema, and the in-memory DuckDB they were
    read from (its rows are the migrations' own: roles, permissions, prices)."""
    mem = duckdb.connect(":memory:")
    db.migrate(mem, sql_dir)
    empty = duckdb.connect(":memory:")
    try:  # a new database's schema is the change from nothing to all the migrations
        return _schema_changes(empty, mem, "the migrations"), mem
    finally:
        empty.close()


def tables_in_order(con: duckdb.DuckDBPyConnection, database: str) -> list[str]:
    """The attached DuckDB database's tables, parents before the tables whose keys point at them."""
    return [r[0] for r in con.execute(
        "SELECT table_name FROM duckdb_tables() WHERE database_name = ? AND schema_name = 'main'"
        " ORDER BY table_oid", [database]).fetchall()]


def create(url: str, sql_dir: Path = db.SQL_DIR, lake_path: str = "",
           storage_options: dict | None = None, lake_options: dict | None = None) -> list[str]:
    """Make the schema in an empty PostgreSQL database, with the migrations' rows, and the lake
    (its files under `lake_path`; `lake_options` for its upkeep, over LAKE_OPTIONS, where the lake
    has none yet), or bring an existing one up to this release's (`upgrade`, `ensure_lake`); the
    versions applied ([] when it is there already)."""
    found = _versions_at(url)
    if found is not None:
        applied = upgrade(url, found, sql_dir)
        files = sorted(sql_dir.glob("[0-9][0-9][0-9]_*.sql"))
        mem = _schema_upto(files)
        try:
            ensure_lake(url, mem, lake_path, storage_options, lake_options, _lake_fills(files))
        finally:
            mem.close()
        return applied
    statements, mem = schema_statements(sql_dir)
    try:
        _run_statements(url, statements)
        ensure_lake(url, mem, lake_path, storage_options, lake_options)
        copy_rows(mem, url, storage_options)
        return versions(mem)
    finally:
        mem.close()


def ensure_lake(url: str, mem: duckdb.DuckDBPyConnection, lake_path: str = "",
                storage_options: dict | None = None, lake_options: dict | None = None,
                fills: dict[str, list[str]] | None = None) -> None:
    """Make the lake's catalog (its files under `lake_path`) and the lake tables of the migrations
    applied to `mem` where they are missing, add the columns a migration added, and move a lake
    table that an older release kept in PostgreSQL into the lake (its rows copied, then the table
    dropped from PostgreSQL). A lake table made here otherwise gets the rows that the migration
    making it writes (`fills[table]`), from the other lake tables, in the same lake transaction: a
    failure leaves no table, and the next `init` makes and fills it again."""
    exists = _lake_at(url)
    if not exists and not lake_path:
        raise WorkbenchError("The team database has no lake yet: say where its files go "
                             "(WORKBENCH_LAKE_PATH, a folder or an s3:// URI).")
    catalog = _catalog(mem)
    con = duckdb.connect(":memory:")
    try:
        _attach(con, url)
        _attach_lake(con, url, storage_options, "" if exists else lake_path)
        have: dict[str, set[str]] = {}
        for table, column in con.execute("SELECT table_name, column_name FROM duckdb_columns() WHERE"
                                         " database_name = ?", [LAKE]).fetchall():
            have.setdefault(table, set()).add(column)
        in_state = {r[0] for r in con.execute("SELECT table_name FROM duckdb_tables() WHERE"
                                              " database_name = ?", [STATE]).fetchall()} & set(LAKE_TABLES)
        con.execute(f"USE {LAKE}")
        con.begin()
        for table in LAKE_TABLES:
            if table not in catalog["tables"]:
                continue
            if table not in have:
                con.execute(catalog["tables"][table])
                if table in in_state:
                    names = ", ".join(f'"{c}"' for c in catalog["columns"][table])
                    con.execute(f'INSERT INTO {_in_lake(table)} ({names}) SELECT {names}'
                                f' FROM {STATE}.public."{table}"')
                else:  # a new table, filled from the other lake tables by its migration
                    for statement in (fills or {}).get(table, []):
                        con.execute(statement)
                continue
            for column, (kind, default, _nullable) in catalog["columns"][table].items():
                if column not in have[table]:  # the lake cannot add a NOT NULL column to rows it holds
                    extra = f" DEFAULT {default}" if default is not None else ""
                    con.execute(f'ALTER TABLE {_in_lake(table)} ADD COLUMN "{column}" {kind}{extra}')
        found = {name for (name,) in con.execute(f"SELECT option_name FROM {LAKE}.options()").fetchall()}
        for option, value in {**LAKE_OPTIONS, **(lake_options or {})}.items():  # an administrator's are kept
            if option not in found:
                con.execute(f"CALL {LAKE}.set_option(?, ?)", [option, value])
        con.commit()
        for table in sorted(in_state):  # copied: PostgreSQL's table goes, with the views over it
            _postgres_execute(con, f'DROP TABLE IF EXISTS public."{table}" CASCADE')
    finally:
        con.close()
    release(url)


def _lake_at(url: str) -> bool:
    import psycopg

    with psycopg.connect(url) as pg:
        found = pg.execute(f"SELECT to_regclass('{LAKE_METADATA}.ducklake_metadata') IS NOT NULL")
        return found.fetchone()[0]


def upgrade(url: str, found: list[str], sql_dir: Path = db.SQL_DIR) -> list[str]:
    """Apply the migrations a team database lacks, all in one PostgreSQL transaction (all or
    nothing). Each migration's schema change is the difference between the migrations' schema
    before and after it, written in PostgreSQL's dialect (new tables, columns, sequences, indexes;
    the views made again); its data statements (the roles it adds, a backfill) run as they are,
    through DuckDB, on PostgreSQL's tables. A change that would lose data (a table or a column gone,
    a column's type changed) is refused with nothing changed."""
    files = sorted(sql_dir.glob("[0-9][0-9][0-9]_*.sql"))
    wanted = [path.stem.split("_", 1)[0] for path in files]
    if found == wanted:
        return []
    if found != wanted[: len(found)]:
        raise db.MigrationError(
            f"The team database's schema is at version {found[-1] if found else 'none'}, this release's at"
            f" {wanted[-1]}: it was made by a newer release (or another one). Nothing was changed.")
    con = duckdb.connect(":memory:")
    before = _schema_upto(files[: len(found)])
    try:
        _attach(con, url)
        con.execute(f"USE {STATE}")
        con.begin()
        for number, path in enumerate(files[len(found):], start=len(found) + 1):
            after = _schema_upto(files[:number])
            try:
                changes = _schema_changes(before, after, path.name)
                for statement in changes:
                    _postgres_execute(con, statement)
                if changes:  # cleared with nothing changed, the next statement failed here ("another
                    # command is already in progress")
                    con.execute("CALL pg_clear_cache()")
                statements = con.extract_statements(path.read_text())
                for statement in statements:
                    target = _lake_target(statement.query) if statement.type in _DATA_STATEMENTS else None
                    if target and target not in _made(statements):
                        raise db.MigrationError(
                            f"Migration {path.name} writes {target}, a lake table it does not make: the"
                            " team profile cannot apply it in place. Nothing was changed.")
                    if statement.type in _DATA_STATEMENTS and not target:
                        con.execute(statement.query)  # a new lake table's rows: ensure_lake
                version, name = path.stem.split("_", 1)
                con.execute("INSERT INTO schema_migrations (version, name) VALUES (?, ?)", [version, name])
            except duckdb.Error as exc:
                raise db.MigrationError(f"Migration {path.name} failed on the team database; nothing was"
                                        f" changed: {exc}") from exc
            finally:
                before.close()
                before = after
        con.commit()
    except BaseException:
        con.close()
        release(url)
        raise
    finally:
        before.close()
    con.close()
    release(url)  # every pooled connection sees the new schema
    return wanted[len(found):]


_DATA_STATEMENTS = {duckdb.StatementType.INSERT, duckdb.StatementType.UPDATE, duckdb.StatementType.DELETE}


_LEADING_COMMENTS = re.compile(r"(\s*--[^\n]*(\n|$))*\s*")


def _first_name(sql: str, verbs: str) -> str | None:
    """The table named after `verbs` (a pattern) at the start of a statement, past its comments."""
    found = re.match(rf"(?:{verbs})\s+\"?(\w+)", _LEADING_COMMENTS.sub("", sql, 1), re.IGNORECASE)
    return found[1].lower() if found else None


def _lake_target(sql: str) -> str | None:
    """The lake table a data statement writes, if it writes one."""
    table = _first_name(sql, r"INSERT\s+INTO|UPDATE|DELETE\s+FROM")
    return table if table in LAKE_TABLES else None


def _made(statements: list) -> set[str | None]:
    """The tables these statements (of one migration) create."""
    create = duckdb.StatementType.CREATE
    return {_first_name(s.query, r"CREATE\s+TABLE") for s in statements if s.type == create}


def _lake_fills(files: list[Path]) -> dict[str, list[str]]:
    """table -> the statements that write that lake table in the migration that makes it (run by
    ensure_lake in the lake whenever it makes the table: a new rollup filled from the others)."""
    fills: dict[str, list[str]] = {}
    con = duckdb.connect(":memory:")
    try:
        for path in files:
            statements = con.extract_statements(path.read_text())
            made = _made(statements)
            for statement in statements:
                table = _lake_target(statement.query) if statement.type in _DATA_STATEMENTS else None
                if table and table in made:
                    fills.setdefault(table, []).append(statement.query)
    finally:
        con.close()
    return fills


def _schema_upto(files: list[Path]) -> duckdb.DuckDBPyConnection:
    """An in-memory DuckDB with these migrations applied."""
    mem = duckdb.connect(":memory:")
    mem.execute(db.MIGRATIONS_TABLE)
    for path in files:
        try:
            mem.execute(path.read_text())
        except duckdb.Error as exc:
            mem.close()
            raise db.MigrationError(f"Migration {path.name} failed; nothing was changed: {exc}") from exc
    return mem


def _catalog(mem: duckdb.DuckDBPyConnection) -> dict[str, dict]:
    """Sequences, tables (with their columns), indexes and views of an in-memory DuckDB."""
    columns: dict[str, dict[str, tuple]] = {}
    for table, column, data_type, default, nullable in mem.execute(
            "SELECT table_name, column_name, data_type, column_default, is_nullable FROM duckdb_columns()"
            " WHERE schema_name = 'main' AND NOT internal AND table_name IN (SELECT table_name FROM"
            " duckdb_tables()) ORDER BY table_name, column_index").fetchall():
        columns.setdefault(table, {})[column] = (data_type, default, nullable)
    return {
        "sequences": {name: f"CREATE SEQUENCE {name} START {start} INCREMENT {step}" for name, start, step in
                      mem.execute("SELECT sequence_name, start_value, increment_by FROM duckdb_sequences()")
                      .fetchall()},
        "tables": dict(mem.execute("SELECT table_name, sql FROM duckdb_tables() ORDER BY table_oid")
                       .fetchall()),
        "columns": columns,
        "indexes": dict(mem.execute("SELECT index_name, sql FROM duckdb_indexes()").fetchall()),
        "views": dict(mem.execute("SELECT view_name, sql FROM duckdb_views() WHERE NOT internal AND"
                                  " schema_name = 'main' ORDER BY view_oid").fetchall()),
    }


def lake_views(views: dict[str, str]) -> dict[str, str]:
    """The views (name -> DuckDB SQL, in order) that read a lake table, directly or through
    another such view: made in each process's own DuckDB, not in PostgreSQL."""
    found: dict[str, str] = {}
    for name, sql in views.items():
        if any(re.search(rf"\b{re.escape(t)}\b", sql) for t in (*LAKE_TABLES, *found)):
            found[name] = sql
    return found


def _state_part(catalog: dict[str, dict]) -> dict[str, dict]:
    """A catalog (_catalog) without the lake's tables and the views over them."""
    on_lake = lake_views(catalog["views"])
    return {**catalog,
            "tables": {t: sql for t, sql in catalog["tables"].items() if t not in LAKE_TABLES},
            "columns": {t: cols for t, cols in catalog["columns"].items() if t not in LAKE_TABLES},
            "views": {v: sql for v, sql in catalog["views"].items() if v not in on_lake}}


def _schema_changes(before: duckdb.DuckDBPyConnection, after: duckdb.DuckDBPyConnection,
                    migration: str) -> list[str]:
    """PostgreSQL statements that take the schema of `before` to that of `after`; MigrationError for
    a change that would lose data."""
    old, new = _catalog(before), _catalog(after)
    lost = [f"table {t}" for t in old["tables"] if t not in new["tables"]] + [
        f"column {t}.{c}" for t, cols in old["columns"].items() if t in new["columns"]
        for c, (kind, _d, _n) in cols.items() if new["columns"][t].get(c, (None,))[0] != kind]
    if lost:
        raise db.MigrationError(f"Migration {migration} drops or retypes {', '.join(lost)}: the team profile"
                                " cannot apply it in place. Nothing was changed.")
    old, new = _state_part(old), _state_part(new)  # the lake's tables: ensure_lake
    out = [sql for name, sql in new["sequences"].items() if name not in old["sequences"]]
    changed_views = old["views"] != new["views"]
    if changed_views:
        out += [f'DROP VIEW IF EXISTS "{name}" CASCADE' for name in reversed(old["views"])]
    out += [f'DROP INDEX IF EXISTS "{name}"' for name in old["indexes"] if name not in new["indexes"]]
    out += [translate_table(sql) for name, sql in new["tables"].items() if name not in old["tables"]]
    for table, cols in new["columns"].items():
        if table not in old["tables"]:
            continue
        for column, (kind, default, nullable) in cols.items():
            if column not in old["columns"][table]:
                extra = f" DEFAULT {default}" if default is not None else ""
                extra += "" if nullable else " NOT NULL"
                out.append(translate_table(f'ALTER TABLE "{table}" ADD COLUMN "{column}" {kind}{extra}'))
    out += [sql for name, sql in new["indexes"].items() if name not in old["indexes"]]
    if changed_views:
        out += [translate_table(sql) for sql in new["views"].values()]
    return out


def _postgres_execute(con: duckdb.DuckDBPyConnection, statement: str) -> None:
    """Run one statement in PostgreSQL's own dialect, in the attached database's open transaction."""
    quoted = statement.replace("'", "''")
    con.execute(f"CALL postgres_execute('{STATE}', '{quoted}')")


def versions(con: duckdb.DuckDBPyConnection) -> list[str]:
    """The migrations applied to a DuckDB database."""
    return [r[0] for r in con.execute("SELECT version FROM schema_migrations ORDER BY version").fetchall()]


def _versions_at(url: str) -> list[str] | None:
    import psycopg

    with psycopg.connect(url) as pg:
        if not pg.execute("SELECT to_regclass('public.schema_migrations') IS NOT NULL").fetchone()[0]:
            return None
        return [r[0] for r in pg.execute("SELECT version FROM schema_migrations ORDER BY version")]


def _run_statements(url: str, statements: list[str]) -> None:
    import psycopg

    with psycopg.connect(url) as pg:  # one transaction: all or nothing
        for statement in statements:
            pg.execute(statement)


def copy_rows(source: duckdb.DuckDBPyConnection, url: str, storage_options: dict | None = None
              ) -> dict[str, int]:
    """Copy every table's rows of a DuckDB database into the team database at `url` (its tables
    empty): PostgreSQL's in one transaction, then the lake's in another; and move PostgreSQL's
    sequences to DuckDB's. Row counts by table."""
    tables = tables_in_order(source, source.execute("SELECT current_database()").fetchone()[0])
    sequences = source.execute("SELECT sequence_name, last_value FROM duckdb_sequences()"
                               " WHERE database_name = current_database()").fetchall()
    con = duckdb.connect(":memory:")
    counts = {}
    try:
        _attach(con, url)
        _attach_lake(con, url, storage_options)
        for part in ([t for t in tables if t not in LAKE_TABLES], [t for t in tables if t in LAKE_TABLES]):
            con.begin()
            for table in part:
                frame = source.execute(f'SELECT * FROM "{table}"').to_arrow_table()
                counts[table] = frame.num_rows
                if frame.num_rows:
                    con.register("copied_rows", frame)
                    names = ", ".join(f'"{c}"' for c in frame.column_names)
                    con.execute(f'INSERT INTO {_qualified(table)} ({names}) SELECT {names} FROM copied_rows')
                    con.unregister("copied_rows")
            con.commit()
        for name, last in sequences:
            if last is not None:
                con.execute(f"CALL postgres_execute('{STATE}', 'SELECT setval(''{name}'', {int(last)})')")
    finally:
        con.close()
    return counts


def _qualified(table: str) -> str:
    return _in_lake(table) if table in LAKE_TABLES else f'{STATE}.public."{table}"'


def _in_lake(table: str) -> str:
    return f'{LAKE}.main."{table}"'


def move_in(db_file: Path, url: str, storage_options: dict | None = None,
            lake_path: str = "") -> dict[str, int]:
    """Copy an embedded data home's database into the team database at `url`, which must hold no
    organisation: its schema is made anew (and its lake, under `lake_path` if it has none), then
    every row is copied (PostgreSQL's in one transaction, the lake's in another) and the counts
    compared. The file is only read. Rows by table."""
    source = duckdb.connect(str(db_file), read_only=True, config=db.CONFIG)
    statements, mem = schema_statements()
    try:
        wanted = versions(mem)
        if versions(source) != wanted:
            raise db.MigrationError(f"{db_file} is at schema version {versions(source)[-1]}, this release at "
                                    f"{wanted[-1]}: run `workbench init` on that data home first.")
        if _versions_at(url) is not None and _count_at(url, "organizations"):
            raise WorkbenchError("The team database already holds organisations; nothing was moved. Move "
                                 "into an empty deployment.")
        _run_statements(url, ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public", *statements])
        release(url)
        ensure_lake(url, mem, lake_path, storage_options)
        _empty_lake(url, storage_options)
        counts = copy_rows(source, url, storage_options)
    finally:
        mem.close()
        source.close()
    moved = counts_at(url, list(counts), storage_options)
    if moved != counts:
        raise WorkbenchError(f"The team database's row counts differ after the move: {moved} vs {counts}.")
    return counts


def reset(url: str, storage_options: dict | None = None, lake_path: str = "") -> None:
    """Empty the team database: its schema made anew, with only the migrations' rows, and its lake
    emptied (made under `lake_path` if it has none)."""
    release(url)
    _run_statements(url, ["DROP SCHEMA public CASCADE", "CREATE SCHEMA public"])
    create(url, lake_path=lake_path, storage_options=storage_options)
    _empty_lake(url, storage_options)


def _empty_lake(url: str, storage_options: dict | None = None) -> None:
    """Delete every lake table's rows (their files go at the lake's next clean-up)."""
    con = duckdb.connect(":memory:")
    try:
        _attach(con, url)
        _attach_lake(con, url, storage_options)
        con.begin()
        for table in LAKE_TABLES:
            con.execute(f'DELETE FROM {_in_lake(table)}')
        con.commit()
    finally:
        con.close()


def move_out(url: str, db_file: Path, storage_options: dict | None = None) -> dict[str, int]:
    """Copy the team database at `url` into a new DuckDB file (an embedded data home's), every row
    and sequence, in one transaction; the counts compared. Rows by table."""
    if db_file.exists():
        raise WorkbenchError(f"{db_file} exists already; nothing was moved. Choose a new data home.")
    con = duckdb.connect(str(db_file), config=db.CONFIG)
    try:
        db.migrate(con)
        tables = tables_in_order(con, con.execute("SELECT current_database()").fetchone()[0])
        _attach(con, url, "team")
        _attach_lake(con, url, storage_options, name="team_lake")
        if versions(con) != [r[0] for r in con.execute(
                "SELECT version FROM team.public.schema_migrations ORDER BY version").fetchall()]:
            raise db.MigrationError("The team database's schema is not this release's; nothing was moved.")
        counts = {}
        for table in reversed(tables):  # the migrations' own rows go (the team database has them),
            con.execute(f'DELETE FROM main."{table}"')  # each committed: DuckDB's foreign-key checks
        con.begin()
        for table in tables:
            names = ", ".join(f'"{r[0]}"' for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
                " AND table_name = ? ORDER BY column_index", [table]).fetchall())
            origin = f'team_lake.main."{table}"' if table in LAKE_TABLES else f'team.public."{table}"'
            con.execute(f'INSERT INTO main."{table}" ({names}) SELECT {names} FROM {origin}')
            counts[table] = con.execute(f'SELECT count(*) FROM main."{table}"').fetchone()[0]
        con.commit()
        for name, last in con.execute("SELECT sequence_name, coalesce(last_value, start_value - 1)"
                                      " FROM duckdb_sequences() WHERE database_name = current_database()"
                                      ).fetchall():
            found = con.execute(f"SELECT * FROM postgres_query('team', 'SELECT CASE WHEN is_called THEN"
                                f" last_value ELSE last_value - 1 END FROM {name}')").fetchone()[0]
            if found > last:  # DuckDB has no setval: step the sequence up to PostgreSQL's
                con.execute(f"SELECT max(nextval('{name}')) FROM range({int(found - last)})").fetchall()
        con.execute("DETACH team_lake")
        con.execute("DETACH team")
        con.execute("CHECKPOINT")
    except BaseException:
        con.close()
        db_file.unlink(missing_ok=True)
        raise
    con.close()
    moved = counts_at(url, list(counts), storage_options)
    if moved != counts:
        db_file.unlink(missing_ok=True)
        raise WorkbenchError(f"Row counts differ after the move: {counts} vs the team's {moved}.")
    return counts


def _count_at(url: str, table: str) -> int:
    """Rows of one of PostgreSQL's tables."""
    import psycopg

    with psycopg.connect(url) as pg:
        return pg.execute(f'SELECT count(*) FROM public."{table}"').fetchone()[0]


def counts_at(url: str, tables: list[str], storage_options: dict | None = None) -> dict[str, int]:
    """Rows by table in the team database (PostgreSQL's tables and the lake's)."""
    con = duckdb.connect(":memory:")
    try:
        _attach(con, url)
        _attach_lake(con, url, storage_options)
        return {t: con.execute(f"SELECT count(*) FROM {_qualified(t)}").fetchone()[0] for t in tables}
    finally:
        con.close()


def _attach_lake(con: duckdb.DuckDBPyConnection, url: str, storage_options: dict | None = None,
                 data_path: str = "", name: str = LAKE) -> None:
    """Attach the team database's lake as `name` (PostgreSQL's extension loaded already); with
    `data_path` when its catalog is made now (the catalog keeps it)."""
    db.load_extension(con, "ducklake")
    _s3_secret(con, storage_options)
    options = [f"METADATA_SCHEMA '{LAKE_METADATA}'"]
    if data_path:
        options.append(f"DATA_PATH '{_quote(data_path.rstrip('/') + '/')}'")
    try:
        con.execute(f"ATTACH 'ducklake:postgres:{_quote(_libpq(url))}' AS {name} ({', '.join(options)})")
    except duckdb.Error as exc:
        raise WorkbenchError(f"Cannot open the team database's lake: {_redact(str(exc), url).splitlines()[0]}"
                             ) from None


def _libpq(url: str) -> str:
    """A postgresql:// URL as the key=value string DuckLake's catalog connection takes."""
    from urllib.parse import unquote, urlsplit

    parts = urlsplit(url)
    fields = {"dbname": parts.path.lstrip("/"), "host": parts.hostname, "port": parts.port,
              "user": unquote(parts.username or ""), "password": unquote(parts.password or "")}
    return " ".join(f"{key}={_libpq_value(str(value))}" for key, value in fields.items() if value)


def _libpq_value(value: str) -> str:
    if re.fullmatch(r"[\w.\-]+", value):
        return value
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _quote(text: str) -> str:
    return text.replace("'", "''")


def _s3_secret(con: duckdb.DuckDBPyConnection, storage_options: dict | None) -> None:
    """DuckDB's S3 secret from the object store's settings (the data home's, else the
    environment's AWS_* variables, as LanceDB reads them); nothing when there are none."""
    found = {key: os.environ[var] for var, key in STORAGE_OPTIONS.items() if os.environ.get(var)}
    found.update(storage_options or {})
    if not found.get("aws_access_key_id"):
        return
    from urllib.parse import urlsplit

    db.load_extension(con, "httpfs")
    parts = [f"KEY_ID '{_quote(found['aws_access_key_id'])}'",
             f"SECRET '{_quote(found.get('aws_secret_access_key', ''))}'",
             f"REGION '{_quote(found.get('aws_region') or 'us-east-1')}'"]
    endpoint = urlsplit(found.get("aws_endpoint", ""))
    if endpoint.netloc:
        parts += [f"ENDPOINT '{_quote(endpoint.netloc)}'", "URL_STYLE 'path'",
                  f"USE_SSL {'true' if endpoint.scheme == 'https' else 'false'}"]
    con.execute(f"CREATE OR REPLACE SECRET workbench_s3 (TYPE s3, {', '.join(parts)})")


def _attach(con: duckdb.DuckDBPyConnection, url: str, name: str = STATE) -> None:
    """Attach the PostgreSQL database at `url` to a DuckDB connection as `name`."""
    db.load_extension(con, "postgres_scanner")
    # PostgreSQL's text COPY: a one-row insert takes about 1 ms, the binary one about 20 ms (measured)
    con.execute("SET GLOBAL pg_use_binary_copy = false")
    # PostgreSQL's text cannot hold a NUL character (DuckDB's can): a pasted or imported one is dropped
    con.execute("SET GLOBAL pg_null_byte_replacement = ''")
    # one query a scan, which PostgreSQL answers from an index, not one per 1000 pages of the table
    # (each a range of its rows): a day's drill-down at 10M calls took 1.4 s, now 0.22 s (measured)
    con.execute("SET GLOBAL pg_use_ctid_scan = false")
    quoted = url.replace("'", "''")
    con.execute(f"ATTACH '{quoted}' AS {name} (TYPE postgres)")


class TeamStore:
    """The team profile's store: db.Store's interface (connect, transaction, working, idle,
    release) on PostgreSQL. One in-memory DuckDB per process, its PostgreSQL connections pooled; no
    file is held, so any number of processes use it at once."""

    read_only = False
    linger_s = 0.0

    def __init__(self, url: str, path: Path | None = None, storage_options: dict | None = None) -> None:
        self.url = url
        self.storage_options = storage_options
        # where the data home's database file would be: its folder holds the SQL console's snapshots
        self.path = path or Path("data") / "workbench.duckdb"
        self._idle_held = False  # this process holds the work lock exclusively: its work takes none
        self._guard = threading.Lock()
        self._conn: duckdb.DuckDBPyConnection | None = None
        self.opens = 0
        _STORES.add(self)

    def _open(self) -> duckdb.DuckDBPyConnection:
        con = duckdb.connect(":memory:")
        try:
            _attach(con, self.url)
        except duckdb.Error as exc:
            con.close()
            cause = _redact(str(exc), self.url).splitlines()[0]
            raise WorkbenchError(f"Cannot reach the team database ({cause}). Is the deployment up? "
                                 "`workbench team up` starts it.") from None
        found = con.execute("SELECT count(*) FROM duckdb_tables() WHERE database_name = ? AND table_name ="
                            " 'schema_migrations'", [STATE]).fetchone()[0]
        lake = con.execute("SELECT count(*) FROM duckdb_schemas() WHERE database_name = ? AND"
                           " schema_name = ?", [STATE, LAKE_METADATA]).fetchone()[0]
        if not found or not lake:
            con.close()
            raise NotInitialised("The team database has no schema yet (or none of this release). Run "
                                 "`workbench init` first.")
        try:
            _attach_lake(con, self.url, self.storage_options)
            con.execute(f"USE {STATE}")
            con.execute(f"SET search_path = '{SEARCH_PATH}'")
            for table in LAKE_TABLES:
                con.execute(f'CREATE OR REPLACE VIEW memory.main."{table}" AS'
                            f" SELECT * FROM {_in_lake(table)}")
            for name, sql in _views_over_lake().items():
                con.execute(re.sub(rf"^\s*CREATE\s+VIEW\s+\"?{name}\"?",
                                   f"CREATE OR REPLACE VIEW memory.main.{name}", sql, flags=re.IGNORECASE))
        except BaseException:
            con.close()
            raise
        self.opens += 1
        return con

    @contextmanager
    def connect(self) -> Iterator[TeamCursor]:
        with self._guard:
            if self._conn is None:
                self._conn = self._open()
            cursor = self._conn.cursor()
        try:
            _use(cursor)
            yield TeamCursor(cursor, self)
        finally:
            cursor.close()

    @contextmanager
    def transaction(self) -> Iterator[TeamCursor]:
        with self.connect() as cur, db.atomic(cur):
            yield cur

    @contextmanager
    def working(self) -> Iterator[None]:
        """Hold a shared advisory lock while long work is under way (an ingest, embedding calls):
        PostgreSQL lets it go when the process ends, however it ends, so that `doctor` on any
        machine tells work that died from work in progress (db.Store.working, for a file)."""
        if self._idle_held:
            yield
            return
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            pg.execute("SELECT pg_advisory_lock_shared(%s)", [WORK_LOCK])
            yield

    @contextmanager
    def idle(self) -> Iterator[bool | None]:
        """True when no process is working (see `working`), the lock then held exclusively until
        the block ends; False when some process is working now."""
        import psycopg

        with psycopg.connect(self.url, autocommit=True) as pg:
            held = pg.execute("SELECT pg_try_advisory_lock(%s)", [WORK_LOCK]).fetchone()[0]
            self._idle_held = held
            try:
                yield held
            finally:
                self._idle_held = False

    def release(self) -> bool:
        """Close this process's DuckDB and its pooled PostgreSQL connections (they reopen on use)."""
        with self._guard:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
        return True


_STORES: weakref.WeakSet = weakref.WeakSet()


def _use(cursor: duckdb.DuckDBPyConnection) -> None:
    """A cursor's names: PostgreSQL's tables, then the views (over the lake's tables too)."""
    cursor.execute(f"USE {STATE}")
    cursor.execute(f"SET search_path = '{SEARCH_PATH}'")


@functools.cache
def _views_over_lake() -> dict[str, str]:
    """The migrations' views that read a lake table (their DuckDB SQL), once per process."""
    mem = _schema_upto(sorted(db.SQL_DIR.glob("[0-9][0-9][0-9]_*.sql")))
    try:
        return lake_views(_catalog(mem)["views"])
    finally:
        mem.close()


def store_for(url: str, path: Path | None = None, storage_options: dict | None = None) -> TeamStore:
    """This process's store on the team database at `url` (one per database: its DuckDB and its
    pooled PostgreSQL connections are shared by every unit of work of the process)."""
    with _SHARED_GUARD:
        found = _SHARED.get(url)
        if found is None:
            found = _SHARED[url] = TeamStore(url, path, storage_options)
        return found


_SHARED: dict[str, TeamStore] = {}
_SHARED_GUARD = threading.Lock()


def release_all() -> None:
    for store in list(_STORES):
        store.release()


def release(url: str) -> None:
    """Close this process's connections to the team database at `url` (before it is copied)."""
    for store in list(_STORES):
        if store.url == url:
            store.release()


class TeamCursor:
    """A DuckDB cursor on the team database whose `INSERT/DELETE ... RETURNING` PostgreSQL takes
    through DuckDB (see the module's docstring); everything else is the cursor's own."""

    def __init__(self, cursor: duckdb.DuckDBPyConnection, store: TeamStore) -> None:
        self._cursor = cursor
        self.store = store
        self._in_transaction = False
        self._wrote_state = False  # in this transaction: a lake write now waits for the commit
        self._deferred: list[tuple[str, list | pa.Table]] = []  # lake writes for after the commit: (SQL,
        # its parameters, or the rows it inserts as `lake_rows`)

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def cursor(self) -> TeamCursor:
        """Another cursor on the same database (a thread's own)."""
        raw = self._cursor.cursor()
        _use(raw)
        return TeamCursor(raw, self.store)

    def begin(self) -> None:
        self._cursor.begin()
        self._in_transaction, self._wrote_state, self._deferred = True, False, []

    def rollback(self) -> None:
        self._in_transaction, self._deferred = False, []
        self._cursor.rollback()

    def commit(self) -> None:
        deferred, self._deferred, self._in_transaction = self._deferred, [], False
        try:
            self._cursor.commit()
        except duckdb.Error as exc:
            raise _translate(exc) from None
        if deferred:
            self._apply_to_lake(deferred)

    def _apply_to_lake(self, deferred: list[tuple]) -> None:
        """The lake writes of a transaction that wrote PostgreSQL, committed just now: in one lake
        transaction, again when a concurrent commit conflicts. Should that keep failing, the facts
        are saved and the rollups are behind them: `workbench doctor` finds the days and rebuilds
        them."""
        for attempt in range(LAKE_RETRIES):
            try:
                self._cursor.begin()
                for sql, given in deferred:
                    if not isinstance(given, pa.Table):
                        self._cursor.execute(sql, given)
                        continue
                    self._cursor.register("lake_rows", given)
                    try:
                        self._cursor.execute(sql)
                    finally:
                        self._cursor.unregister("lake_rows")
                self._cursor.commit()
                return
            except duckdb.Error as exc:
                try:
                    self._cursor.rollback()
                except duckdb.Error:
                    pass
                if attempt + 1 < LAKE_RETRIES and _LAKE_CONFLICT.search(str(exc)):
                    time.sleep(0.05 * 2 ** attempt)
                    continue
                logging.getLogger("workbench").error(
                    "The usage rollups could not be updated after a saved change (%s): `workbench doctor`"
                    " finds the days behind and rebuilds them.", str(exc).splitlines()[0])
                return

    def tidy_lake(self) -> None:
        """The lake's upkeep, after a merge of the rollups: small files merged, the inlined rows of
        single writes flushed to Parquet, and the files of old snapshots deleted (LAKE_OPTIONS).
        Skipped, and logged, when a concurrent commit conflicts: the next merge tidies."""
        try:
            self._cursor.execute(f"CHECKPOINT {LAKE}")
        except duckdb.Error as exc:
            logging.getLogger("workbench").info("The lake's upkeep is left for later: %s",
                                                str(exc).splitlines()[0])

    def execute(self, sql: str, params=None):
        try:
            return self._execute(sql, params if isinstance(params, dict) else list(params or []))
        except duckdb.Error as exc:
            raise _translate(exc) from None

    def _execute(self, sql: str, params: list | dict):
        lake = _LAKE_WRITE.match(sql)
        if lake and lake["table"].lower() not in LAKE_TABLES:
            lake = None
        if lake:  # its name reads a view: write the table
            sql = f"{lake['verb']} {_in_lake(lake['table'].lower())}{lake['rest']}"
        if self._in_transaction:
            if lake:
                if self._wrote_state and not isinstance(params, dict):
                    return self._defer(lake, sql, params)
            elif not self._wrote_state and _writes(self._cursor, sql):
                self._wrote_state = True
        if isinstance(params, dict):  # named parameters: the rewrites below take positional ones
            self._cursor.execute(sql, params)
            return self
        sequence = _NEXTVAL.match(sql)
        if sequence:  # PostgreSQL's sequences are not DuckDB's: ask PostgreSQL
            count = params[0] if sequence["n"] == "?" else int(sequence["n"] or 1)
            return _Rows([(i,) for i in self._next_values(sequence["seq"], count)], [("nextval",)])
        upsert = _UPSERT.match(sql)
        if upsert:  # DuckDB would send NULL for every column not named, not PostgreSQL's defaults
            return self._upsert(upsert, params)
        if "RETURNING" in sql.upper():
            insert = _INSERT.match(sql)
            if insert:
                return self._insert_returning(insert, params)
            deleting = _DELETE.match(sql)
            if deleting:
                found = self._cursor.execute(f"SELECT {deleting['returning']} FROM {deleting['table']}"
                                             f" WHERE {deleting['where']}", params)
                rows = _Rows(found.fetchall(), found.description)
                self._cursor.execute(f"DELETE FROM {deleting['table']} WHERE {deleting['where']}", params)
                return rows
        self._cursor.execute(sql, params)
        return self

    def _defer(self, m: re.Match, sql: str, params: list):
        """Compute a lake write now, inside the transaction (what it inserts, which rows it
        deletes or updates), and keep it for the commit (see the module's docstring)."""
        table = m["table"].lower()
        if m["verb"].upper().startswith("INSERT"):
            found = re.match(r"\s*(?:\((?P<cols>[^)]*)\))?\s*(?P<source>.*?)\s*;?\s*$", m["rest"],
                             re.DOTALL)
            source = found["source"]
            if source.upper().startswith("VALUES"):
                source = f"SELECT * FROM ({source})"
            rows = self._cursor.execute(source, params).to_arrow_table()
            rows = rows.rename_columns([f"c{i}" for i in range(rows.num_columns)])  # inserted by position
            named = f" ({found['cols']})" if found["cols"] else ""
            self._deferred.append((f"INSERT INTO {_in_lake(table)}{named} SELECT * FROM lake_rows", rows))
            return _Rows([(rows.num_rows,)], [("Count",)])
        sql, params = _resolved(self._cursor, sql, params)
        where = re.search(r"\bWHERE\b(?P<where>.*?)\s*;?\s*$", sql, re.IGNORECASE | re.DOTALL)
        condition = where["where"] if where else "true"
        before = sql[: where.start()].count("?") if where else len(params)
        count = self._cursor.execute(f"SELECT count(*) FROM {table} WHERE {condition}",
                                     params[before:]).fetchone()[0]
        self._deferred.append((sql, params))
        return _Rows([(count,)], [("Count",)])

    def _upsert(self, m: re.Match, params: list):
        """INSERT ... VALUES ... ON CONFLICT (keys) DO UPDATE SET ... | DO NOTHING, as an update of
        the row with those keys when there is one, else a plain insert (PostgreSQL's defaults)."""
        table, columns = m["table"], _names(m["cols"])
        values = _split_values(m["values"])
        at = sum(v.count("?") for v in values)
        given, tail = params[:at], params[at:]
        keys = _names(m["keys"])
        key_values = [_given(k, columns, values, given) for k in keys]
        where = " AND ".join(f'"{k}" = ?' for k in keys)
        found = self._cursor.execute(f"SELECT 1 FROM {table} WHERE {where}", key_values).fetchone()
        if found is None:
            self._cursor.execute(f"INSERT INTO {table} ({m['cols']}) VALUES ({', '.join(values)})", given)
        elif m["action"].upper().startswith("UPDATE"):
            sets, set_params, extra = [], [], iter(tail)

            def swap(token: re.Match) -> str:
                if token[1]:  # excluded.<column>: the value given for it
                    value = values[columns.index(token[1])]
                    if value == "?":
                        set_params.append(_given(token[1], columns, values, given))
                    return value
                set_params.append(next(extra))
                return "?"

            sets = re.sub(r"\bexcluded\.(\w+)|\?", swap, m["action"].strip()[len("UPDATE"):].strip()[3:],
                          flags=re.IGNORECASE)
            self._cursor.execute(f"UPDATE {table} SET {sets} WHERE {where}", [*set_params, *key_values])
        return self

    def _insert_returning(self, m: re.Match, params: list):
        """The rows are made here first (ids from PostgreSQL's sequence, uuids), inserted whole,
        then read back by id for the RETURNING list."""
        table = m["table"]
        columns = _names(m["cols"])
        source = m["source"].strip()
        if source.upper().startswith("VALUES"):
            values = _split_values(source[len("VALUES"):])
            source = "SELECT " + ", ".join(f'{v} AS "{c}"' for c, v in zip(columns, values, strict=True))
        rows = self._cursor.execute(source, params).to_arrow_table()
        rows = rows.rename_columns(columns)
        known = _columns_of(self._cursor, table)
        if "id" not in known:
            raise WorkbenchError(f"INSERT ... RETURNING into {table} (no id column) is not supported "
                                 "on the team profile.")
        if "id" not in columns:
            rows = rows.append_column("id", pa.array(self._next_ids(table, rows.num_rows), pa.int64()))
        if "uuid" in known and "uuid" not in columns:
            rows = rows.append_column("uuid", pa.array([str(uuid_mod.uuid4()) for _ in range(rows.num_rows)]))
        names = ", ".join(f'"{c}"' for c in rows.column_names)
        self._cursor.register("team_returning", rows)
        try:
            self._cursor.execute(f"INSERT INTO {table} ({names}) SELECT {names} FROM team_returning")
        finally:
            self._cursor.unregister("team_returning")
        ids = ", ".join(str(int(i)) for i in rows.column("id").to_pylist())
        found = self._cursor.execute(f"SELECT {m['returning']} FROM {table} WHERE id IN ({ids}) ORDER BY id")
        return _Rows(found.fetchall(), found.description)

    def _next_ids(self, table: str, n: int) -> list[int]:
        return self._next_values(_sequence_of(self._cursor, table), n)

    def _next_values(self, sequence: str, n: int) -> list[int]:
        if not re.fullmatch(r"\w+", sequence):
            raise WorkbenchError(f"Not a sequence name: {sequence!r}")
        rows = self._cursor.execute(
            f"SELECT * FROM postgres_query('{STATE}', 'SELECT nextval(''{sequence}'')"
            f" FROM generate_series(1, {int(n)})')").fetchall()
        return [r[0] for r in rows]


_SCHEMA_CACHE: dict[tuple[str, str], object] = {}


def _columns_of(cursor, table: str) -> list[str]:
    key = ("columns", table)
    if key not in _SCHEMA_CACHE:
        _SCHEMA_CACHE[key] = [r[0] for r in cursor.execute(
            "SELECT column_name FROM duckdb_columns() WHERE database_name = ? AND table_name = ?",
            [STATE, table]).fetchall()]
    return _SCHEMA_CACHE[key]


def _sequence_of(cursor, table: str) -> str:
    """The sequence behind a table's id column (its default: nextval('<name>'))."""
    key = ("sequence", table)
    if key not in _SCHEMA_CACHE:
        default = cursor.execute(
            f"SELECT * FROM postgres_query('{STATE}', 'SELECT column_default FROM information_schema.columns"
            f" WHERE table_schema = ''public'' AND table_name = ''{table}'' AND column_name = ''id''')"
        ).fetchone()
        found = re.search(r"nextval\('([^']+)'", (default or [""])[0] or "")
        if not found:
            raise WorkbenchError(f"The team database's {table}.id has no sequence.")
        _SCHEMA_CACHE[key] = found.group(1)
    return _SCHEMA_CACHE[key]


_LAKE_WRITE = re.compile(r"^\s*(?P<verb>INSERT\s+INTO|DELETE\s+FROM|UPDATE)\s+(?:\w+\.)*\"?(?P<table>\w+)\"?"
                         r"(?P<rest>.*)$", re.IGNORECASE | re.DOTALL)
_READS = {duckdb.StatementType.SELECT, duckdb.StatementType.EXPLAIN, duckdb.StatementType.PRAGMA,
          duckdb.StatementType.SET, duckdb.StatementType.VARIABLE_SET, duckdb.StatementType.TRANSACTION}


def _writes(cursor, sql: str) -> bool:
    """Whether a statement (not a lake write) may write PostgreSQL: anything but a read."""
    try:
        return any(s.type not in _READS for s in cursor.extract_statements(sql))
    except duckdb.Error:
        return True
_LAKE_CONFLICT = re.compile(r"conflict", re.IGNORECASE)
_IN_SELECT = re.compile(r"\bIN\s*\(\s*(?=SELECT\b)", re.IGNORECASE)


def _resolved(cursor, sql: str, params: list) -> tuple[str, list]:
    """`x IN (SELECT ...)` made `x IN (?, ?, ...)` with the values the subquery gives now: a lake
    write applied after the commit must touch the rows it named inside the transaction."""
    params, at_least = list(params), 0
    while (m := _IN_SELECT.search(sql, at_least)) is not None:
        end, depth = m.end(), 1
        while depth:
            depth += {"(": 1, ")": -1}.get(sql[end], 0)
            end += 1
        inner = sql[m.end(): end - 1]
        at, n = sql[: m.end()].count("?"), inner.count("?")
        values = [r[0] for r in cursor.execute(inner, params[at: at + n]).fetchall()]
        marks = ", ".join("?" * len(values)) or "SELECT NULL WHERE false"  # none: IN false, NOT IN true
        sql = f"{sql[: m.start()]}IN ({marks}){sql[end:]}"
        at_least = m.start() + len(marks) + 4
        params[at: at + n] = values
    return sql, params


def _given(column: str, columns: list[str], values: list[str], params: list):
    """The value a VALUES row gives `column`: its parameter, or its literal."""
    index = columns.index(column)
    value = values[index]
    if value == "?":
        return params[sum(v.count("?") for v in values[:index])]
    if value.startswith("'") and value.endswith("'"):
        return value[1:-1].replace("''", "'")
    return value


def _names(columns: str) -> list[str]:
    return [c.strip().strip('"') for c in columns.split(",")]


def _split_values(text: str) -> list[str]:
    """`(?, ?, 'x', now())` -> ['?', '?', "'x'", 'now()'] (one row)."""
    text = text.strip()
    if not (text.startswith("(") and text.endswith(")")):
        raise WorkbenchError(f"Cannot run this insert on the team profile: {text[:80]}")
    inner, parts, depth, quoted, start = text[1:-1], [], 0, False, 0
    for i, ch in enumerate(inner):
        if ch == "'":
            quoted = not quoted
        elif not quoted and ch == "(":
            depth += 1
        elif not quoted and ch == ")":
            depth -= 1
        elif not quoted and depth == 0 and ch == ",":
            parts.append(inner[start:i].strip())
            start = i + 1
    parts.append(inner[start:].strip())
    return parts


class _Rows:
    """The rows a DELETE ... RETURNING gave, read before the delete."""

    def __init__(self, rows: list[tuple], description) -> None:
        self._rows, self.description = rows, description

    def fetchall(self) -> list[tuple]:
        return self._rows

    def fetchone(self):
        return self._rows[0] if self._rows else None


_VERSIONS: dict[str, tuple[str, float]] = {}  # url -> (version, when this process first saw it)


def data_version(cursor: TeamCursor, settle_s: float = 2.0) -> tuple[str, bool]:
    """A name for the team database's current contents and whether it is settled, unchanged for
    `settle_s` as far as this process has seen. The name is PostgreSQL's next transaction id: any
    transaction that writes takes one (reading ones do not), so a change always gives a new name."""
    xid = cursor.execute(f"SELECT * FROM postgres_query('{STATE}',"
                         " 'SELECT pg_snapshot_xmax(pg_current_snapshot())::text')").fetchone()[0]
    seen = _VERSIONS.get(cursor.store.url)
    if seen is None or seen[0] != xid:
        seen = _VERSIONS[cursor.store.url] = (xid, time.monotonic())
    return f"{cursor.store.url.rsplit('/', 1)[-1]}@{xid}", time.monotonic() - seen[1] >= settle_s


_REFUSED = re.compile(r"duplicate key value violates unique constraint|violates foreign key constraint"
                      r"|invalid input syntax for type json"
                      r"|violates not-null constraint|violates check constraint", re.IGNORECASE)
_CONFLICT = re.compile(r"could not serialize access|deadlock detected", re.IGNORECASE)


def _translate(exc: duckdb.Error) -> Exception:
    """PostgreSQL's refusals, relayed by DuckDB as plain errors, as DuckDB's own kinds (what the
    services catch)."""
    text = str(exc)
    if _REFUSED.search(text):
        return duckdb.ConstraintException(f"Constraint Error: {text.splitlines()[0]}")
    if _CONFLICT.search(text):
        return duckdb.TransactionException(f"TransactionContext Error: {text.splitlines()[0]}")
    return exc


def _redact(text: str, url: str) -> str:
    password = re.search(r"://[^:/@]+:([^@]+)@", url)
    return text.replace(password.group(1), "***") if password else text
