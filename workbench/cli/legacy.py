"""CLI command for importing a legacy database (seed 000 or seed 004) into an organisation; its help
names the two schemas by what they held, as a user knows them."""

from __future__ import annotations

import sys

import click

from workbench.cli.common import as_option, context_of, emit, json_option, workbench


@click.command("import-legacy")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@as_option
@json_option
def import_legacy_command(file, as_user, as_json) -> None:
    """Import a legacy SQLite database: the call-centre analytics schema (projects, calls,
    utterances, QA pairs, datasets) or the RAG chat's (documents, conversations, agent logs, token
    usage). All or nothing, and a second run changes nothing."""
    from workbench.calls import imports as calls
    from workbench.calls import qa
    from workbench.ops.legacy import importer as legacy

    ctx, wb = context_of(as_user), workbench(bulk=True)  # many texts: the configured backend
    try:
        result = legacy.import_legacy(ctx, wb, file)
    except legacy.LegacyImportError as report:
        if as_json:
            emit({"file": report.filename, "imported": 0, "problems": report.problems}, True, "")
        else:
            click.echo(f"error: {report.filename}: nothing imported.", err=True)
            for problem in report.problems:
                click.echo(f"  {problem}", err=True)
        sys.exit(1)
    # the imported calls and QA pairs become searchable now; documents wait for `doctor --fix`
    result["embedded_utterances"] = calls.index_pending(ctx, wb)["utterances"]
    result["embedded_qa_pairs"] = qa.embed_missing(wb.store, wb.vectors, wb.embedder)
    emit(result, as_json, summary(result))


def summary(result: dict) -> str:
    """The counts per legacy table, then the notes."""
    lines = [
        f"{result['file']} ({result['schema']}) into {result['organization']}:",
        f"  {'table':<18} {'read':>7} {'created':>8} {'skipped':>8}",
    ]
    lines += [
        f"  {table:<18} {n['read']:>7} {n['created']:>8} {n['skipped']:>8}"
        for table, n in result["tables"].items()
    ]
    lines += [f"- {note}" for note in result["notes"]]
    lines.append(
        f"Embedded {result['embedded_utterances']} utterances and {result['embedded_qa_pairs']} QA pairs."
    )
    return "\n".join(lines)
