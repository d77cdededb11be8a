"""CLI commands for operators: back up the whole data home into a folder, and restore it from one."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli.common import emit, json_option, load_settings

folder_argument = click.argument("folder", type=click.Path(file_okay=False, path_type=Path))


def _say(part: str, totals: dict) -> None:
    click.echo(f"  {part:<9} {totals['files']:>7,} files {_mb(totals['bytes']):>10}", err=True)


def _mb(size: int) -> str:
    return f"{size / 1e6:,.1f} MB"


def _size(result: dict) -> tuple[int, int]:
    parts = result["parts"].values()
    return sum(p["files"] for p in parts), sum(p["bytes"] for p in parts)


@click.command("backup")
@folder_argument
@json_option
def backup_command(folder, as_json) -> None:
    """Copy the whole data home into FOLDER (new or empty): database, vectors, uploads, the MLflow
    store and exports, with a manifest of every file's checksum, signed when WORKBENCH_BACKUP_KEY is
    set.

    For operators: it covers every organisation, so it takes no --as. Stop the app first; the
    database stays locked for the whole copy, so no other workbench command runs meanwhile."""
    from workbench.ops import backup

    cfg = load_settings()
    if not as_json:
        click.echo(f"Backing up {cfg.home} to {folder.resolve()}", err=True)
    result = backup.backup(cfg, folder, progress=None if as_json else _say)
    files, size = _size(result)
    left_out = "".join(f" Left out {name}: {why}." for name, why in result["left_out"].items())
    emit(
        result,
        as_json,
        f"Backed up {files:,} files ({_mb(size)}, schema {result['schema_version']}) "
        f"to {result['backup']}.{left_out}",
    )


@click.command("restore")
@folder_argument
@click.option("--force", is_flag=True, help="Replace a data home that already holds data (it is lost).")
@json_option
def restore_command(folder, force, as_json) -> None:
    """Replace the data home (WORKBENCH_HOME) with the backup in FOLDER. Every file is checked against
    the backup's manifest first (and its signature, with WORKBENCH_BACKUP_KEY); a damaged backup (or,
    when signed, an altered one) changes nothing.

    For operators: it covers every organisation, so it takes no --as. Stop the app first. A home
    that already holds data is replaced only with --force; a new home needs no `init`."""
    from workbench.ops import backup

    cfg = load_settings()
    if not as_json:
        click.echo(f"Restoring {folder.resolve()} into {cfg.home}", err=True)
    result = backup.restore(cfg, folder, force=force, progress=None if as_json else _say)
    files, size = _size(result)
    pending = result["pending_migrations"]
    emit(
        result,
        as_json,
        f"Restored {files:,} files ({_mb(size)}) of the backup made {result['created_at']} "
        f"into {result['home']}."
        + (f" Run `workbench init` to apply {pending} newer migration(s)." if pending else "")
        + ("" if result["signature_checked"] else
           " Its checksums rule out damage; set WORKBENCH_BACKUP_KEY when backing up and restoring to"
           " rule out a deliberate change too."),
    )
