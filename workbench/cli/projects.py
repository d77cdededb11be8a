"""CLI commands for projects: list, create, rename, archive, unarchive and delete (asks first)."""

from __future__ import annotations

import sys

import click

from workbench import home
from workbench.accounts import projects
from workbench.cli.common import acting, as_option, emit, json_option, load_settings, reading
from workbench.documents import records

COUNTS = [(key, many[0].upper() + many[1:]) for key, _one, many in projects.CONTENTS]  # "QA pairs"


@click.group("project")
def project_group() -> None:
    """Manage your organisation's projects (they hold calls, QA pairs, datasets and documents)."""


@project_group.command("list")
@as_option
@json_option
def list_command(as_user, as_json) -> None:
    """Every project of your organisation, archived ones included, with what each holds."""
    with reading(as_user) as (ctx, con):
        rows = projects.list_projects(ctx, con, include_archived=True)
    header = f"{'Project':<28} {'Owner':<12} {'Status':<9} " + " ".join(f"{m:>9}" for _k, m in COUNTS)
    lines = [f"{r['name']:<28} {r['owner']:<12} {'archived' if r['archived'] else 'active':<9} "
             + " ".join(f"{r[k]:>9,}" for k, _m in COUNTS) for r in rows]
    emit(rows, as_json, "\n".join([header, *lines]) if rows else
         "No projects yet. Create one: workbench project create NAME --as USERNAME")


@project_group.command("create")
@click.argument("name")
@click.option("--description", help="What the project is for.")
@as_option
@json_option
def create_command(name, description, as_user, as_json) -> None:
    """Create a project NAME that you own."""
    with acting(as_user, write=True) as (ctx, con):
        row = projects.create_project(ctx, con, name, description)
    emit(row, as_json, f"Created project {row['name']!r} ({row['uuid']}). Import calls into it with"
                       f" `workbench calls import FILE --project {row['name']!r}`.")


@project_group.command("rename")
@click.argument("project")
@click.argument("new_name")
@as_option
@json_option
def rename_command(project, new_name, as_user, as_json) -> None:
    """Rename PROJECT (its name or UUID) to NEW_NAME (owner or admin)."""
    with acting(as_user, write=True) as (ctx, con):
        row = projects.rename_project(ctx, con, project, new_name)
    emit(row, as_json, f"Renamed {project!r} to {row['name']!r}.")


def _set_archived(project: str, as_user: str, as_json: bool, archived: bool) -> None:
    with acting(as_user, write=True) as (ctx, con):
        row = projects.archive_project(ctx, con, project, archived)
    text = ("archived: it keeps its data but takes no new calls or QA pairs" if archived
            else "active again")
    emit(row, as_json, f"{row['name']!r} is {text}.")


@project_group.command("archive")
@click.argument("project")
@as_option
@json_option
def archive_command(project, as_user, as_json) -> None:
    """Archive PROJECT: kept and readable, but closed to imports and left out of pickers."""
    _set_archived(project, as_user, as_json, True)


@project_group.command("unarchive")
@click.argument("project")
@as_option
@json_option
def unarchive_command(project, as_user, as_json) -> None:
    """Make an archived PROJECT active again."""
    _set_archived(project, as_user, as_json, False)


@project_group.command("delete")
@click.argument("project")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@as_option
@json_option
def delete_command(project, yes, as_user, as_json) -> None:
    """Delete PROJECT with its calls, documents, QA pairs and datasets (owner or admin). Says what
    goes and asks first, unless --yes."""
    with reading(as_user) as (ctx, con):  # checked first; nothing is held while the user answers
        row = projects.get_project(ctx, con, projects.managed_project(ctx, con, project)["uuid"])
    if not yes and not click.confirm(projects.deletion_warning(row), err=True):
        click.echo("Nothing deleted.", err=True)
        sys.exit(1)
    cfg = load_settings()
    with acting(as_user) as (ctx, con):
        deleted = records.delete_project(ctx, con, row["uuid"], settings=cfg, vectors=home.open_vectors(cfg))
    result = {"project": row["name"], "uuid": row["uuid"], "deleted": deleted}
    held = projects.contents_in_words(row)
    emit(result, as_json, f"Deleted {row['name']!r}" + (f" and its {held}." if held else "."))
