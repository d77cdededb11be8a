"""`workbench index`: embed what is waiting (documents, calls, QA pairs) and cluster intents."""

from __future__ import annotations

import sys

import click

from workbench.cli.common import emit, json_option, load_settings
from workbench.ops import indexing


@click.command("index")
@click.option("--status", "show_status", is_flag=True, help="Only show the last run's progress.")
@click.option("--quiet", is_flag=True, help="No progress lines (the background run's way).")
@json_option
def index_command(show_status, quiet, as_json) -> None:
    """Embed pending documents, calls and QA pairs without vectors, and cluster the calls' intents
    (what `demo --background` runs; safe to repeat)."""
    cfg = load_settings()
    if show_status:
        found = indexing.status(cfg)
        if found is None:
            emit(None, as_json, "No indexing has run in this data home.")
            return
        emit(found, as_json, f"{found['state']}: {indexing.summary(found)}")
        if found["state"] == "failed":
            sys.exit(1)
        return
    result = indexing.run(cfg, None if quiet or as_json else lambda line: click.echo(line, err=True))
    emit(result, as_json, "Nothing was waiting." if not result else
         ", ".join(f"{k.replace('_', ' ')}: {v}" for k, v in result.items()))
