"""Projects: list, create, rename, archive or bring back, and delete with what they hold (behind a
confirmation: the request names the project it deletes)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from workbench.accounts import projects
from workbench.api import keys
from workbench.db import atomic
from workbench.documents import records
from workbench.errors import InvalidInput

router = APIRouter(prefix="/v1", tags=["projects"])


class NewProject(BaseModel):
    name: str = Field(..., examples=["Support desk"])
    description: str | None = None


class ProjectChange(BaseModel):
    name: str | None = Field(None, description="A new name.")
    archived: bool | None = Field(None, description="true archives it (no new calls or QA pairs);"
                                                    " false brings it back.")


@router.get("/projects", summary="The organisation's projects with what each holds")
def list_projects(request: Request, ctx: keys.Acting, include_archived: bool = True) -> dict:
    with request.app.state.wb.store.connect() as con:
        return {"projects": projects.list_projects(ctx, con, include_archived=include_archived)}


@router.post("/projects", summary="Create a project (yours)", status_code=201)
def create_project(body: NewProject, request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        created = projects.create_project(ctx, con, body.name, body.description)
        return projects.get_project(ctx, con, created["uuid"])


@router.get("/projects/{project_id}", summary="One project (by UUID or name)")
def get_project(project_id: str, request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        return projects.get_project(ctx, con, project_id)


@router.patch("/projects/{project_id}", summary="Rename, archive or bring back a project")
def change_project(project_id: str, body: ProjectChange, request: Request, ctx: keys.Acting) -> dict:
    if body.name is None and body.archived is None:
        raise InvalidInput("Send a new name, archived, or both.")
    with request.app.state.wb.store.connect() as con, atomic(con):  # both changes, or neither
        uuid = projects.get_project(ctx, con, project_id)["uuid"]
        if body.name is not None:
            projects.rename_project(ctx, con, uuid, body.name)
        if body.archived is not None:
            projects.archive_project(ctx, con, uuid, body.archived)
        return projects.get_project(ctx, con, uuid)


@router.delete("/projects/{project_id}", summary="Delete a project with what it holds")
def delete_project(project_id: str, request: Request, ctx: keys.Acting, confirm: str = "") -> dict:
    """Needs `?confirm=` the project's name: the deletion takes its calls, documents, QA pairs and
    datasets, and cannot be undone."""
    wb = request.app.state.wb
    with wb.store.connect() as con:
        project = projects.get_project(ctx, con, project_id)
        if confirm != project["name"]:
            raise InvalidInput(f"{projects.deletion_warning(project)} Send ?confirm={project['name']} to"
                               " delete it.")
        removed = records.delete_project(ctx, con, project["uuid"], settings=wb.settings, vectors=wb.vectors)
    return {"deleted": project["uuid"], "name": project["name"], "removed": removed}
