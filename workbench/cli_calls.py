"""CLI commands for calls: import a file into a project, list calls."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workbench import calls, transcripts
from workbench.cli import _emit, _settings, _store, acting, as_option, context_of, json_option, main


@main.group("calls")
def calls_group() -> None:
    """Call-centre calls and their utterances."""


@calls_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--project", required=True, help="Project name or id the calls belong to.")
@as_option
@json_option
def import_command(file, project, as_user, as_json) -> None:
    """Import CSV, JSON, JSONL, a plain-text transcript or WebVTT: all or nothing, idempotent."""
    path = Path(file)
    try:
        result = calls.import_calls(
            context_of(as_user),
            _store(),
            path.name,
            path.read_bytes(),
            project,
            max_mb=_settings().upload_max_mb,
        )
    except transcripts.ImportReport as report:
        if as_json:
            _emit(
                {
                    "file": report.filename,
                    "imported": 0,
                    "problems": [{"row": row, "problem": text} for row, text in report.problems],
                },
                True,
                "",
            )
        else:
            click.echo(f"error: {report.filename}: nothing imported.", err=True)
            for row, text in report.problems:
                click.echo(f"  {'row ' + str(row) if row else 'file'}: {text}", err=True)
        sys.exit(1)
    _emit(
        result,
        as_json,
        f"{result['file']}: {result['calls']} calls ({result['created']} new, "
        f"{result['updated']} updated), {result['utterances']} utterances into {project}.",
    )


@calls_group.command("list")
@as_option
@click.option("--project", help="Only this project.")
@json_option
def list_command(as_user, project, as_json) -> None:
    with acting(as_user) as (ctx, con):
        rows = calls.list_calls(ctx, con, project)
    lines = [
        f"{r['started_at']:%Y-%m-%d %H:%M}  {r['project']:<16} {r['external_id']:<20} {r['turns']:>3} turns"
        for r in rows
    ]
    _emit(rows, as_json, "\n".join(lines) or "No calls.")
