"""Datasets (seed 000): files the workbench wrote for later use, each registered with its name, path,
source type, format and row count. Exporting a project's QA pairs (CSV or JSONL of question and
answer, for fine-tuning or a FAQ) writes the file under the data home and registers it."""

from __future__ import annotations

import json
from datetime import datetime

import duckdb

from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.calls import qa
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotAllowed, NotFound
from workbench.models import tabular
from workbench.settings import Settings

FORMATS = ("csv", "jsonl")


def qa_file(pairs: list[dict], fmt: str) -> bytes:
    """QA pairs as CSV (question, answer) or JSONL ({"question", "answer"} per line)."""
    if fmt == "csv":  # formula cells neutralised: the QA import takes the quote off again
        from workbench import csv_safe

        return csv_safe.write_csv([{"question": p["question"], "answer": p["answer"]} for p in pairs])
    if fmt == "jsonl":
        lines = (
            json.dumps({"question": p["question"], "answer": p["answer"]}, ensure_ascii=False) for p in pairs
        )
        return ("\n".join(lines) + "\n").encode()
    raise InvalidInput(f"Export format must be one of {', '.join(FORMATS)}.")


def export_qa(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    project: str,
    fmt: str = "csv",
    name: str | None = None,
) -> dict:
    """Write a project's QA pairs to a file in the data home and register it as a dataset."""
    ctx.require("qa:write")
    ctx.require("datasets:write")
    project_id = projects.project_id_of(ctx, con, project)
    if project_id is None:
        raise InvalidInput("Choose the project whose QA pairs to export.")
    pairs = qa.list_pairs(ctx, con, project)
    if not pairs:
        raise InvalidInput(f"{project} has no QA pairs to export yet.")
    data = qa_file(pairs, fmt)
    stamp = datetime.now().strftime("%Y-%m-%d %H:%M:%S")
    name = " ".join((name or f"QA pairs · {pairs[0]['project']} · {stamp}").split())
    if fetch_one(con, "SELECT 1 FROM datasets WHERE org_id = ? AND name = ?", [ctx.org_id, name]):
        raise InvalidInput(f"A dataset named {name!r} already exists; choose another name.")
    folder = tabular.dataset_folder(settings, ctx.org_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"qa-{project_id}-{datetime.now():%Y%m%d-%H%M%S-%f}.{fmt}"
    path.write_bytes(data)
    try:
        with atomic(con):
            row = fetch_one(
                con,
                "INSERT INTO datasets (org_id, project_id, name, file_path, source_type, file_format,"
                " num_rows, created_by) VALUES (?, ?, ?, ?, 'qa_export', ?, ?, ?)"
                " RETURNING uuid::VARCHAR AS uuid, name, file_path, num_rows",
                [ctx.org_id, project_id, name, str(path), fmt, len(pairs), ctx.user_id],
            )
    except BaseException:
        path.unlink(missing_ok=True)  # no file without its dataset row
        raise
    return row | {"data": data, "filename": path.name}


def list_datasets(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's datasets, newest first."""
    ctx.require("datasets:read")
    return fetch_dicts(
        con,
        "SELECT d.uuid::VARCHAR AS uuid, d.name, p.name AS project, d.source_type, d.file_format, d.num_rows,"
        " u.username AS created_by, d.created_at, d.file_path FROM datasets d"
        " LEFT JOIN projects p ON p.id = d.project_id LEFT JOIN users u ON u.id = d.created_by"
        " WHERE d.org_id = ? ORDER BY d.created_at DESC, d.id DESC",
        [ctx.org_id],
    )


def _dataset(ctx: Context, con: duckdb.DuckDBPyConnection, dataset_uuid: str) -> dict:
    row = fetch_one(
        con, "SELECT * FROM datasets WHERE uuid::VARCHAR = ? AND org_id = ?", [str(dataset_uuid), ctx.org_id]
    )
    if row is None:
        raise NotFound(f"No dataset {dataset_uuid}.")
    return row


def read_dataset(
    ctx: Context, con: duckdb.DuckDBPyConnection, dataset_uuid: str, *, settings: Settings | None = None
) -> tuple[str, bytes]:
    """A dataset's file name and bytes, for download; only a file in the organisation's dataset
    folder is read (see `tabular.dataset_path`)."""
    ctx.require("datasets:read")
    row = _dataset(ctx, con, dataset_uuid)
    path = tabular.dataset_path(ctx, con, row, settings)
    if not path.is_file():
        raise NotFound(f"The file of {row['name']!r} is gone from {path.parent}.")
    return path.name, path.read_bytes()


def delete_dataset(
    ctx: Context, con: duckdb.DuckDBPyConnection, settings: Settings, dataset_uuid: str
) -> str:
    """Unregister a dataset and delete its file when it lies in the organisation's dataset folder
    (a file elsewhere, which an older legacy import may have registered, is left alone)."""
    ctx.require("datasets:write")
    row = _dataset(ctx, con, dataset_uuid)
    con.execute("DELETE FROM datasets WHERE id = ?", [row["id"]])
    try:
        tabular.dataset_path(ctx, con, row, settings).unlink(missing_ok=True)
    except NotAllowed:
        pass
    return row["name"]
