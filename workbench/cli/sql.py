"""CLI command for the SQL console: one reading query over your organisation's data."""

from __future__ import annotations

import sys

import click

from workbench.cli.common import as_option, context_of, emit, json_option, open_store
from workbench.errors import WorkbenchError


@click.command("sql")
@click.argument("query")
@click.option("--limit", default=1000, show_default=True, help="Most rows returned (at most 1000).")
@as_option
@json_option
def sql_command(query, limit, as_user, as_json) -> None:
    """Run one SELECT over your organisation's data (the SQL console's rules: reading only, your
    organisation's rows only, no files, URLs or extensions, a time limit)."""
    from workbench.sql_console import console as sql_console
    from workbench.sql_console import sandbox

    ctx = context_of(as_user, read_only=True)  # a reading command: others run beside it
    try:
        result = sql_console.run(ctx, open_store(read_only=True), query, max_rows=limit)
    except WorkbenchError as exc:
        if sandbox.copies_running():  # a copy the query started: finish it for the next run
            click.echo(f"error: {exc}", err=True)
            click.echo("Finishing the copy of your organisation's rows first...", err=True)
            sandbox.finish_copies()
            sys.exit(1)
        raise
    data = {
        "columns": result.columns,
        "rows": result.rows,
        "truncated": result.truncated,
        "tables": result.tables,
        "seconds": round(result.seconds, 3),
    }
    widths = [max([len(c), *(len(str(r[c])) for r in result.rows[:50])]) for c in result.columns]
    lines = ["  ".join(c.ljust(w)[:40] for c, w in zip(result.columns, widths, strict=True))]
    lines += [
        "  ".join(str(r[c]).ljust(w)[:40] for c, w in zip(result.columns, widths, strict=True))
        for r in result.rows
    ]
    more = f" (first {len(result.rows):,}; there are more)" if result.truncated else ""
    emit(data, as_json, "\n".join(lines) + f"\n{len(result.rows):,} rows{more} in {result.seconds:.2f} s")
