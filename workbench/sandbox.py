"""Read-only SQL over one organisation's data, for SQL that a model (or, later, a user) writes.

The query never touches the workbench database. The tenant's rows of the tables it names, through
the views below (each filtered on the user's organisation and guarded by a permission), are copied
as Arrow into a private in-memory DuckDB with external access off and its configuration locked:
no file, URL, extension or other database can be read, nothing can be written that outlives the
query, and another organisation's rows are simply not there. One SELECT only, a row limit and a
time limit. The copy costs time proportional to the tenant's rows of the tables used: at ten
million calls, `usage_daily` (the daily rollup) is the table to read, not `llm_calls`."""

from __future__ import annotations

import re
import threading
import time
from dataclasses import dataclass

import duckdb
import pyarrow as pa

from workbench.auth import Context
from workbench.documents import VISIBLE
from workbench.errors import InvalidInput

# name -> (permission, SELECT with ? for org id, then user id where the view needs it)
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
        f" WHERE {VISIBLE} AND d.conversation_id IS NULL",
    ),
}
MAX_ROWS = 1000
TIME_LIMIT_S = 5.0


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
    tables = {}
    for name in readable_views(ctx):
        cursor = con.execute(f"SELECT * FROM ({VIEWS[name][1]}) LIMIT 0", _params(ctx, name))
        tables[name] = [(d[0], str(d[1])) for d in cursor.description]
        cursor.fetchall()
    return tables


def schema_text(ctx: Context, con: duckdb.DuckDBPyConnection) -> str:
    """The readable views and their columns, as a prompt for a model that writes SQL."""
    return "\n".join(
        f"{name}({', '.join(f'{c} {t}' for c, t in cols)})" for name, cols in columns(ctx, con).items()
    )


def run(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    sql: str,
    *,
    max_rows: int = MAX_ROWS,
    time_limit_s: float = TIME_LIMIT_S,
) -> Result:
    """Run one SELECT over the user's organisation's data; anything else fails with a clear message."""
    began = time.perf_counter()
    sql = one_select(sql)
    allowed = readable_views(ctx)
    named = {w.lower() for w in re.findall(r"[A-Za-z_][A-Za-z0-9_]*", sql)}
    tables = [name for name in allowed if name in named]
    refused = [name for name in VIEWS if name in named and name not in allowed]
    if refused:
        raise InvalidInput(
            f"Your role may not read {', '.join(refused)} "
            f"(it needs {', '.join(sorted({VIEWS[n][0] for n in refused}))})."
        )
    box = duckdb.connect(
        ":memory:",
        config={
            "enable_external_access": False,
            "autoinstall_known_extensions": False,
            "autoload_known_extensions": False,
            "lock_configuration": True,
        },
    )
    try:
        for name in tables:
            data: pa.Table = con.sql(VIEWS[name][1], params=_params(ctx, name)).to_arrow_table()
            box.register(f"_{name}", data)
            box.execute(f"CREATE TABLE {name} AS SELECT * FROM _{name}")
            box.unregister(f"_{name}")
        timer = threading.Timer(time_limit_s, box.interrupt)
        timer.start()
        try:
            cursor = box.execute(sql)
            columns = [d[0] for d in cursor.description]
            fetched = cursor.fetchmany(max_rows + 1)
        except duckdb.InterruptException:
            raise InvalidInput(f"The query ran longer than {time_limit_s:g} s and was stopped.") from None
        except duckdb.Error as exc:
            raise InvalidInput(f"The query failed: {_first_line(exc)}") from None
        finally:
            timer.cancel()
    finally:
        box.close()
    rows = [dict(zip(columns, r, strict=True)) for r in fetched[:max_rows]]
    return Result(sql, columns, rows, len(fetched) > max_rows, tables, time.perf_counter() - began)


def one_select(sql: str) -> str:
    """The statement, if it is a single SELECT; else a clear InvalidInput."""
    sql = (sql or "").strip().rstrip(";").strip()
    if not sql:
        raise InvalidInput("The query is empty.")
    try:
        statements = duckdb.connect(":memory:").extract_statements(sql)
    except duckdb.Error as exc:
        raise InvalidInput(f"The query is not valid SQL: {_first_line(exc)}") from None
    if len(statements) != 1:
        raise InvalidInput("Run one statement at a time.")
    if statements[0].type != duckdb.StatementType.SELECT:
        kind = str(statements[0].type).split(".")[-1]
        raise InvalidInput(f"Only reading queries (SELECT) run here; this is a {kind} statement.")
    return sql


def _params(ctx: Context, name: str) -> list:
    return [ctx.org_id, ctx.user_id] if name == "documents" else [ctx.org_id]


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0][:300]
