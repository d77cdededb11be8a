"""CLI commands for calls: import a file into a project, list calls."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from workbench import errors, user_files
from workbench.cli.common import (
    as_option,
    context_of,
    emit,
    json_option,
    reading,
    workbench,
)


@click.group("calls")
def calls_group() -> None:
    """Call-centre calls and their utterances."""


@calls_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--project", required=True, help="Project name or id the calls belong to.")
@click.option("--no-embed", is_flag=True, help="Skip embedding the utterances (semantic search, intents).")
@as_option
@json_option
def import_command(file, project, no_embed, as_user, as_json) -> None:
    """Import CSV, JSON, JSONL, a plain-text transcript or WebVTT: all or nothing, idempotent.
    Then embed the new utterances and re-cluster the project's intents."""
    from workbench.calls import imports as calls

    path = Path(file)
    ctx, wb = context_of(as_user), workbench()
    user_files.check_size(path.name, path.stat().st_size, wb.settings.upload_max_mb)  # before reading it
    say = None if as_json else lambda done, total: click.echo(f"  embedded {done}/{total} calls", err=True)
    (outcome,), indexed = calls.import_files(
        ctx, wb, [(path.name, path.read_bytes())], project,
        max_mb=wb.settings.upload_max_mb, embed=not no_embed, progress=say,
    )
    if isinstance(outcome.error, errors.ImportReport):
        report = outcome.error
        if as_json:
            emit({"file": report.filename, "imported": 0,
                  "problems": [{"row": row, "problem": text} for row, text in report.problems]}, True, "")
        else:
            echo_report(report)
        sys.exit(1)
    if outcome.error is not None:
        raise outcome.error
    result = outcome.counts
    text = (
        f"{result['file']}: {result['calls']} calls ({result['created']} new, "
        f"{result['updated']} updated), {result['utterances']} utterances into {project}."
    )
    if indexed is not None:
        result["embedded_utterances"], result["embed_seconds"] = indexed["utterances"], indexed["seconds"]
        text += f" Embedded {indexed['utterances']} utterances in {indexed['seconds']} s."
    emit(result, as_json, text)


def echo_report(report: errors.ImportReport) -> None:
    """An import's refusal on stderr: one line for one problem, else a line per problem."""
    where = [(f"row {row}: " if row else "", text) for row, text in report.problems]
    if len(where) == 1:
        click.echo(f"error: {report.filename}: nothing imported. {where[0][0]}{where[0][1]}", err=True)
        return
    click.echo(f"error: {report.filename}: nothing imported.", err=True)
    for row, text in where:
        click.echo(f"  {row or 'file: '}{text}", err=True)


@calls_group.command("list")
@as_option
@click.option("--project", help="Only this project.")
@json_option
def list_command(as_user, project, as_json) -> None:
    from workbench.calls import imports as calls

    with reading(as_user) as (ctx, con):
        rows = calls.list_calls(ctx, con, project)
    lines = [
        f"{r['started_at']:%Y-%m-%d %H:%M}  {r['project']:<16} {r['external_id']:<20} {r['turns']:>3} turns"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "No calls.")


@calls_group.command("search")
@click.argument("query")
@as_option
@click.option("--mode", type=click.Choice(["keyword", "semantic"]), default="keyword", show_default=True)
@click.option("--project", help="Only this project.")
@click.option("-k", default=20, show_default=True, help="How many distinct utterances.")
@json_option
def search_command(query, as_user, mode, project, k, as_json) -> None:
    """Search the utterances of your organisation's calls by keyword (any of the words, ranked by BM25,
    the exact phrase first) or by meaning. Identical utterances from several calls print once, with
    how many calls said them."""
    from workbench.calls import search as call_search

    hits = call_search.search_utterances(context_of(as_user), workbench(), query, mode=mode,
                                         project=project, k=k)
    emit(hits, as_json, "\n".join(map(hit_line, hits)) or "No utterance matches.")


def hit_line(hit: dict) -> str:
    """A search hit as text: call, turn, speaker, words and score, then the other calls that said it."""
    who = f"{hit['external_id']:<14} #{hit['utterance_index']:<3} {hit['role'] or '':<8}"
    line = f"{who} {hit['content'][:90]}  ({hit['score']:.2f})"
    if hit["calls"] > 1:
        more = hit["calls"] - len(hit["said_in"])
        line += f"\n{'':<14} said in {hit['calls']:,} calls, also " + ", ".join(
            c["external_id"] for c in hit["said_in"][1:]) + (f" and {more:,} more" if more else "")
    return line
