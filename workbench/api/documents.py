"""Documents and search: upload (multipart), list, get, delete, and hybrid, vector or text search,
with the page's limits (size, types) and its rules (who may read and delete what)."""

from __future__ import annotations

from dataclasses import asdict
from typing import Annotated, Literal

from fastapi import APIRouter, File, Form, Query, Request, UploadFile
from pydantic import BaseModel, Field
from starlette.concurrency import run_in_threadpool

from workbench.api import keys
from workbench.documents import ingest, records
from workbench.errors import InvalidInput
from workbench.search import vectors

router = APIRouter(prefix="/v1", tags=["documents"])
MAX_FILES = 20


@router.post("/documents", summary="Upload documents (multipart); each file succeeds or fails on its own")
async def upload(request: Request, ctx: keys.Acting, files: Annotated[list[UploadFile], File()],
                 scope: Annotated[Literal["user", "global"], Form()] = "user",
                 project: Annotated[str | None, Form()] = None) -> dict:
    ctx.require("documents:create")
    if len(files) > MAX_FILES:
        raise InvalidInput(f"{len(files)} files in one request; send at most {MAX_FILES}.")
    wb = request.app.state.wb
    limit = wb.settings.upload_max_mb * 1024 * 1024
    read = []
    for upload_file in files:
        data = await upload_file.read(limit + 1)
        read.append((upload_file.filename or "", data))
    outcomes = await run_in_threadpool(ingest.ingest_files, ctx, wb, read, scope=scope, project=project)
    return {"documents": [asdict(o) for o in outcomes]}


@router.get("/documents", summary="Documents the key may read")
def list_documents(request: Request, ctx: keys.Acting, status: str | None = None,
                   doc_type: str | None = None,
                   text: Annotated[str | None, Query(description="Words in the title or file name")] = None,
                   ) -> dict:
    with request.app.state.wb.store.connect() as con:
        return {"documents": records.list_documents(ctx, con, status=status, doc_type=doc_type, text=text)}


@router.get("/documents/{document_id}", summary="One document with its metadata and chunks")
def get_document(document_id: str, request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        return records.get_document(ctx, con, document_id)


@router.delete("/documents/{document_id}", summary="Delete a document, its chunks, vectors and file")
def delete_document(document_id: str, request: Request, ctx: keys.Acting) -> dict:
    wb = request.app.state.wb
    with wb.store.connect() as con:
        removed = records.delete_document(ctx, con, document_id, settings=wb.settings, vectors=wb.vectors)
    return {"deleted": document_id, **removed}


class SearchRequest(BaseModel):
    query: str = Field(..., examples=["Is a phone that arrives broken replaced for free?"])
    k: int = Field(10, ge=1, le=100)
    mode: Literal["hybrid", "vector", "text"] = "hybrid"
    documents: list[str] | None = Field(None, description="Only these documents (UUIDs).")


@router.post("/search", summary="Search the chunks the key may read")
def search(body: SearchRequest, request: Request, ctx: keys.Acting) -> dict:
    wb = request.app.state.wb
    hits = vectors.search(ctx, wb.vectors, wb.embedder, body.query, k=body.k,
                          document_uuids=body.documents, mode=body.mode)
    return {"hits": [asdict(h) | {"score": float(h.score), "similarity": float(h.similarity)} for h in hits]}
