"""Calls and QA pairs: import a calls file into a project (all or nothing), list, read and search
calls, read and write QA pairs (by hand, from a CSV, mined from the calls, near-duplicates merged),
and export a project's pairs as a registered dataset to download. The rules are the pages' and the
CLI's: each service function checks the key's permission and organisation."""

from __future__ import annotations

import json
from datetime import date
from typing import Annotated, Literal
from urllib.parse import quote
from uuid import UUID

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from fastapi.responses import Response
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from workbench import user_files
from workbench.api import keys
from workbench.calls import browse, datasets, qa
from workbench.calls import imports as call_imports
from workbench.calls import search as call_search

router = APIRouter(prefix="/v1", tags=["calls"])
MEDIA_TYPES = {"csv": "text/csv", "jsonl": "application/x-ndjson",
               "parquet": "application/vnd.apache.parquet"}

Project = Annotated[str, Form(description="Project name or UUID.")]


async def _read(request: Request, upload: UploadFile) -> tuple[str, bytes]:
    """An uploaded file's name and bytes, read to one byte past the limit (the service refuses it)."""
    limit = request.app.state.wb.settings.upload_max_mb * 1024 * 1024
    return upload.filename or "", await upload.read(limit + 1)


@router.post("/calls", summary="Import a calls file into a project: all or nothing, idempotent")
async def import_calls(request: Request, ctx: keys.Acting, file: Annotated[UploadFile, File()],
                       project: Project, embed: Annotated[bool, Form()] = True) -> dict:
    """CSV, JSON, JSONL, a labelled text transcript or WebVTT (as `workbench calls import`); a call
    seen before in the project is updated. A file with bad rows imports nothing: 422 with every
    problem. Then the new utterances are embedded and the project's intents re-clustered."""
    wb = request.app.state.wb
    filename, data = await _read(request, file)
    (outcome,), indexed = await run_in_threadpool(
        call_imports.import_files, ctx, wb, [(filename, data)], project,
        max_mb=wb.settings.upload_max_mb, embed=embed)
    if outcome.error is not None:
        raise outcome.error
    result = dict(outcome.counts)
    if indexed is not None:
        result["embedded_utterances"], result["embed_seconds"] = indexed["utterances"], indexed["seconds"]
    return result


@router.get("/calls", summary="Calls the key may read, newest first, with their analytics")
def list_calls(request: Request, ctx: keys.Acting,
               project: Annotated[str | None, Query(description="Project name or UUID.")] = None,
               since: date | None = None, until: date | None = None,
               intent: Annotated[list[str] | None, Query(description="Only these intents.")] = None,
               sentiment: Literal["negative", "neutral", "positive"] | None = None,
               text: Annotated[str | None, Query(description="Words in the transcript.")] = None,
               limit: Annotated[int, Query(ge=1, le=2000)] = 200) -> dict:
    filters = browse.Filters(project=project, since=since, until=until, intents=tuple(intent or ()),
                             sentiment=sentiment, text=text)
    with request.app.state.wb.store.connect() as con:
        return {"calls": browse.find_calls(ctx, con, filters, limit=limit),
                "total": browse.count_calls(ctx, con, filters)}


@router.get("/calls/{call_id}", summary="One call with its utterances in order")
def get_call(call_id: UUID, request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        call = browse.get_call(ctx, con, str(call_id))
    call["metadata"] = json.loads(call["metadata"]) if call["metadata"] else {}
    return call


class CallSearch(BaseModel):
    query: str = Field(..., max_length=2000, examples=["my router keeps dropping"])
    mode: Literal["keyword", "semantic"] = "keyword"
    project: str | None = Field(None, description="Only this project (name or UUID).")
    k: int = Field(20, ge=1, le=500, description="How many distinct utterances.")


@router.post("/calls/search", summary="Search the utterances of the key's calls, by keyword or meaning")
def search_calls(body: CallSearch, request: Request, ctx: keys.Acting) -> dict:
    """Identical utterances from several calls come back once, with how many calls said them."""
    hits = call_search.search_utterances(ctx, request.app.state.wb, body.query, mode=body.mode,
                                         project=body.project, k=body.k)
    return {"hits": hits}


# --- QA pairs ---------------------------------------------------------------------------------
@router.get("/qa", summary="QA pairs the key may read, most asked first")
def list_pairs(request: Request, ctx: keys.Acting,
               project: Annotated[str | None, Query(description="Project name or UUID.")] = None,
               text: Annotated[str | None, Query(description="Words in the question or answer.")] = None,
               limit: Annotated[int, Query(ge=1, le=5000)] = 500) -> dict:
    with request.app.state.wb.store.connect() as con:
        return {"pairs": qa.list_pairs(ctx, con, project, text, limit=limit)}


class NewPair(BaseModel):
    project: str = Field(..., description="Project name or UUID.")
    question: str = Field(..., max_length=qa.MAX_TEXT)
    answer: str = Field(..., max_length=qa.MAX_TEXT)
    call_id: UUID | None = Field(None, description="The call the pair comes from.")


class PairTexts(BaseModel):
    question: str = Field(..., max_length=qa.MAX_TEXT)
    answer: str = Field(..., max_length=qa.MAX_TEXT)


class ProjectOnly(BaseModel):
    project: str = Field(..., description="Project name or UUID.")


@router.post("/qa", summary="Add a QA pair to a project; searchable at once")
def create_pair(body: NewPair, request: Request, ctx: keys.Acting) -> dict:
    call = str(body.call_id) if body.call_id else None
    return qa.create_pair(ctx, request.app.state.wb, body.project, body.question, body.answer, call)


@router.put("/qa/{pair_id}", summary="Replace a QA pair's question and answer")
def update_pair(pair_id: UUID, body: PairTexts, request: Request, ctx: keys.Acting) -> dict:
    return qa.update_pair(ctx, request.app.state.wb, str(pair_id), body.question, body.answer)


@router.delete("/qa/{pair_id}", summary="Delete a QA pair and its vector")
def delete_pair(pair_id: UUID, request: Request, ctx: keys.Acting) -> dict:
    return {"deleted": str(pair_id), **qa.delete_pair(ctx, request.app.state.wb, str(pair_id))}


@router.post("/qa/import", summary="Import a CSV of question and answer columns: all or nothing")
async def import_pairs(request: Request, ctx: keys.Acting, file: Annotated[UploadFile, File()],
                       project: Project) -> dict:
    """Near-duplicate questions merge into the pair they repeat. A file with bad rows imports
    nothing: 422 with every problem."""
    filename, data = await _read(request, file)
    user_files.check_size(filename, len(data), request.app.state.wb.settings.upload_max_mb)
    return await run_in_threadpool(qa.import_pairs, ctx, request.app.state.wb, project, filename, data)


@router.post("/qa/extract", summary="Mine a project's calls for QA pairs (a question and the agent's answer)")
def extract_pairs(body: ProjectOnly, request: Request, ctx: keys.Acting) -> dict:
    return qa.extract_from_calls(ctx, request.app.state.wb, body.project)


@router.post("/qa/merge", summary="Fold a project's near-duplicate QA pairs into the oldest of each group")
def merge_pairs(body: ProjectOnly, request: Request, ctx: keys.Acting) -> dict:
    return qa.merge_duplicates(ctx, request.app.state.wb, body.project)


class Export(BaseModel):
    project: str = Field(..., description="Project name or UUID.")
    format: Literal["csv", "jsonl"] = "csv"
    name: str | None = Field(None, max_length=200, description="Dataset name (default: dated).")


@router.post("/qa/export", summary="Export a project's QA pairs as a registered dataset")
def export_pairs(body: Export, request: Request, ctx: keys.Acting) -> dict:
    """Writes the file (CSV or JSONL of question and answer) and registers it; its bytes are at
    `download`."""
    wb = request.app.state.wb
    with wb.store.connect() as con:
        made = datasets.export_qa(ctx, con, wb.settings, body.project, body.format, body.name)
    return {"uuid": made["uuid"], "name": made["name"], "num_rows": made["num_rows"],
            "format": body.format, "filename": made["filename"],
            "download": f"/v1/datasets/{made['uuid']}/file"}


@router.get("/datasets/{dataset_id}/file", summary="A dataset's file (an exported QA set, a table)",
            response_class=Response)
def download_dataset(dataset_id: UUID, request: Request, ctx: keys.Acting) -> Response:
    wb = request.app.state.wb
    with wb.store.connect() as con:
        filename, data = datasets.read_dataset(ctx, con, str(dataset_id), settings=wb.settings)
    kind = MEDIA_TYPES.get(filename.rsplit(".", 1)[-1].lower(), "application/octet-stream")
    disposition = f"attachment; filename*=UTF-8''{quote(filename)}"  # any name, safely in a header
    return Response(data, media_type=kind, headers={"Content-Disposition": disposition})
