"""CLI commands for documents and code: ingest, search, index-repo, doctor, documents list/delete."""

from __future__ import annotations

import sys
from dataclasses import asdict
from pathlib import Path

import click

# Heavy modules (LanceDB, torch, scikit-learn) are imported inside the commands that need them,
# so that `workbench user list` and friends start fast.
from workbench import home
from workbench.cli.common import (
    acting,
    as_option,
    context_of,
    emit,
    json_option,
    load_settings,
    open_store,
    reading,
    workbench,
)
from workbench.documents import records as documents
from workbench.documents.records import DOC_TYPES, SCOPES
from workbench.errors import InvalidInput
from workbench.search import SEARCH_MODES


def expand_paths(paths: tuple[str, ...]) -> tuple[list[Path], int]:
    """Files named, plus supported files found in folders named; and how many were skipped."""
    from workbench.documents.parsing import SUPPORTED_TYPES

    files, skipped = [], 0
    for raw in paths:
        path = Path(raw)
        if path.is_dir():
            for found in sorted(p for p in path.rglob("*") if p.is_file() and not p.name.startswith(".")):
                if found.suffix.lower() in SUPPORTED_TYPES:
                    files.append(found)
                else:
                    skipped += 1
        elif path.is_file():
            files.append(path)
        else:
            raise click.BadParameter(f"{raw}: no such file or folder", param_hint="PATH")
    return files, skipped


def _progress(quiet: bool):
    """One stderr line per finished document and one when embedding starts (none with --json)."""
    if quiet:
        return None

    def say(name: str, stage: str, fraction: float) -> None:
        if fraction >= 1.0 or stage.startswith("embedding") and fraction == 0:
            click.echo(f"  {name}: {stage}", err=True)

    return say


@click.command("ingest")
@click.argument("paths", nargs=-1, required=True)
@as_option
@click.option("--project", help="Project name or id the documents belong to.")
@click.option("--scope", type=click.Choice(SCOPES), default="user", show_default=True)
@click.option("--doc-type", type=click.Choice(DOC_TYPES))
@json_option
def ingest_command(paths, as_user, project, scope, doc_type, as_json) -> None:
    """Ingest files or folders: parse, chunk, embed, index. Each file succeeds or fails alone."""
    from workbench.documents import ingest

    wb = workbench(bulk=True)
    cfg = wb.settings
    files, skipped = expand_paths(paths)
    ctx = context_of(as_user)
    batch, refused = [], {}
    for i, path in enumerate(files):
        try:  # a file over the limit is refused from its size, never read into memory
            ingest.check_size(cfg, path.name, path.stat().st_size)
        except InvalidInput as exc:
            refused[i] = ingest.Outcome(path.name, "refused", None, str(exc))
            continue
        batch.append((path.name, path.read_bytes()))
    processed = iter(ingest.ingest_files(
        ctx,
        wb,
        batch,
        scope=scope,
        doc_type=doc_type,
        project=project,
        progress=_progress(as_json),
    ))
    outcomes = [refused[i] if i in refused else next(processed) for i in range(len(files))]
    index_note = wb.vectors.build_ann_index(cfg.ann_min_rows)
    bad = [o for o in outcomes if o.status in ("refused", "failed")]
    lines = [
        f"{o.status:<10} {o.filename}"
        + (f"  ({o.num_chunks} chunks)" if o.num_chunks else "")
        + (f"  {o.message}" if o.message else "")
        for o in outcomes
    ]
    if skipped:
        lines.append(f"skipped {skipped} file(s) of unsupported types in folders")
    lines.append(f"{len(outcomes) - len(bad)} of {len(outcomes)} ingested; vector index: {index_note}")
    emit(
        {"results": [asdict(o) for o in outcomes], "skipped_unsupported": skipped, "index": index_note},
        as_json,
        "\n".join(lines),
    )
    if bad:
        sys.exit(1)


@click.command("search")
@click.argument("query")
@as_option
@click.option("--k", default=10, show_default=True, type=click.IntRange(1, 100))
@click.option("--mode", type=click.Choice(SEARCH_MODES), default="hybrid", show_default=True)
@click.option("--document", "document_uuids", multiple=True, help="Only these documents (repeatable).")
@json_option
def search_command(query, as_user, k, mode, document_uuids, as_json) -> None:
    """Hybrid search over the documents and code you may read."""
    from workbench.chat import steps as agents

    ctx = context_of(as_user)
    hits = agents.metered_search(
        ctx,
        workbench(),
        query,
        k=k,
        document_uuids=list(document_uuids) or None,
        mode=mode,
    )
    lines = [
        f"{i}. [{h.score:.4f}] {h.title}"
        + (f" p.{h.page_number}" if h.page_number else "")
        + (f" L{h.start_line}-{h.end_line}" if h.start_line else "")
        + (f" - {h.section}" if h.section else "")
        + f"\n   {h.text[:160].replace(chr(10), ' ')}"
        for i, h in enumerate(hits, 1)
    ]
    emit([asdict(h) for h in hits], as_json, "\n".join(lines) or "No matches.")


@click.command("index-repo")
@click.argument("path", type=click.Path(exists=True, file_okay=False))
@as_option
@json_option
def index_repo_command(path, as_user, as_json) -> None:
    """Index a local git repository's source files (re-runs update only changed files)."""
    from workbench.documents import repos

    ctx = context_of(as_user)
    say = None if as_json else (lambda stage, _f: click.echo(f"  {stage}", err=True))
    result = repos.index_repository(ctx, workbench(bulk=True), Path(path), say)
    emit(
        result,
        as_json,
        f"{result['repository']}: {result['files']} files, {result['added']} added,"
        f" {result['changed']} changed, {result['removed']} removed, {result['unchanged']} unchanged;"
        f" {result['chunks']} chunks embedded.",
    )


@click.command("doctor")
@click.option("--fix", is_flag=True, help="Repair what is found.")
@json_option
def doctor_command(fix, as_json) -> None:
    """Compare DuckDB chunks, LanceDB vectors and stored files; report (and --fix) orphans."""
    from workbench.ops import doctor as doctor_mod

    cfg = load_settings()
    store, store_vectors = open_store(), home.open_vectors(cfg)
    report = doctor_mod.check(cfg, store, store_vectors)
    if fix and not report.healthy:
        report = doctor_mod.repair(cfg, store, store_vectors, home.local_embedder(cfg), report)
    summary = report.summary()
    lines = [f"{key}: {value}" for key, value in summary.items() if key not in ("healthy", "repaired")]
    lines += [f"repaired: {line}" for line in report.repaired]
    lines.append("healthy" if report.healthy else "problems found" + ("" if fix else "; run with --fix"))
    emit(summary, as_json, "\n".join(lines))
    if not report.healthy and not fix:
        sys.exit(1)


@click.group("documents")
def documents_group() -> None:
    """List and delete documents."""


@documents_group.command("list")
@as_option
@click.option("--status", type=click.Choice(documents.STATUSES))
@json_option
def documents_list(as_user, status, as_json) -> None:
    """Documents you may read."""
    with reading(as_user) as (ctx, con):
        rows = documents.list_documents(ctx, con, status=status)
    lines = [
        f"{r['uuid']}  {r['processing_status']:<10} {r['scope']:<7} {r['num_chunks']:>4} chunks  {r['title']}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "No documents.")


@documents_group.command("delete")
@click.argument("document_uuid")
@as_option
@json_option
def documents_delete(document_uuid, as_user, as_json) -> None:
    """Delete a document with its file, chunks and vectors."""
    cfg = load_settings()
    with acting(as_user, write=True) as (ctx, con):
        deleted = documents.delete_document(
            ctx, con, document_uuid, settings=cfg, vectors=home.open_vectors(cfg)
        )
    emit(deleted, as_json, f"Deleted: {deleted}")
