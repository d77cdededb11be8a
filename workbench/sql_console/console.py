"""The SQL console (permission sql:query): one reading query at a time over the user's
organisation's data, run in the sandbox (a separate process over snapshots of the tenant's rows,
external access off, limits on rows, time, memory and the query's length), the schema the user may
read, and saved queries."""

from __future__ import annotations

import duckdb

from workbench.accounts.context import Context
from workbench.db import Store, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotFound
from workbench.sql_console import sandbox

MAX_ROWS = 1000


def run(ctx: Context, store: Store, sql: str, *, max_rows: int = MAX_ROWS) -> sandbox.Result:
    """Run one SELECT over the organisation's data; anything else fails with a clear message. The
    store's file is held only while the organisation's rows are copied, not while the query runs."""
    ctx.require("sql:query")
    return sandbox.run(ctx, store, sql, max_rows=max(1, min(int(max_rows), MAX_ROWS)))


def schema(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict[str, list[tuple[str, str]]]:
    """The tables (views of the organisation's rows) this user may query, with their columns."""
    ctx.require("sql:query")
    return sandbox.columns(ctx, con)


def saved(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The user's saved queries, by name."""
    ctx.require("sql:query")
    return fetch_dicts(
        con,
        "SELECT name, sql, updated_at FROM saved_queries WHERE user_id = ? AND org_id = ? ORDER BY name",
        [ctx.user_id, ctx.org_id],
    )


def save(ctx: Context, con: duckdb.DuckDBPyConnection, name: str, sql: str) -> dict:
    """Save (or replace) one of the user's queries under a name; it must be a single SELECT."""
    ctx.require("sql:query")
    name = " ".join((name or "").split())
    if not name or len(name) > 100:
        raise InvalidInput("Give the query a name of 1-100 characters.")
    sql = sandbox.one_select(sql)
    con.execute(
        "INSERT INTO saved_queries (org_id, user_id, name, sql) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id, name) DO UPDATE"
        " SET sql = excluded.sql, updated_at = current_localtimestamp()",
        [ctx.org_id, ctx.user_id, name, sql],
    )
    return fetch_one(
        con,
        "SELECT name, sql, updated_at FROM saved_queries WHERE user_id = ? AND name = ?",
        [ctx.user_id, name],
    )


def delete(ctx: Context, con: duckdb.DuckDBPyConnection, name: str) -> None:
    """Delete one of the user's saved queries."""
    ctx.require("sql:query")
    gone = con.execute(
        "DELETE FROM saved_queries WHERE user_id = ? AND name = ? RETURNING id", [ctx.user_id, name]
    ).fetchall()
    if not gone:
        raise NotFound(f"You have no saved query named {name!r}.")
