"""The Projects page's widgets: the table of projects in words, the picker of a project to change,
and the deletion behind a confirmation that says what goes with the project."""

from __future__ import annotations

import streamlit as st

from workbench import ui
from workbench.accounts import projects
from workbench.accounts.context import Context
from workbench.documents import records
from workbench.errors import WorkbenchError

FLASH = "projects.done"
COLUMNS = ["name", "description", "owner", "created_at", "status", "calls", "documents", "qa_pairs",
           "datasets"]
# the table's columns, in words
PROJECT_LABELS = {
    "name": st.column_config.TextColumn("Project"),
    "description": st.column_config.TextColumn("Description"),
    "owner": "Owner",
    "created_at": st.column_config.DatetimeColumn("Created", format="D MMM YYYY"),
    "status": "Status",
    **{key: st.column_config.NumberColumn(many[0].upper() + many[1:], format="%d")
       for key, _one, many in projects.CONTENTS},
}


def project_table(rows: list[dict]) -> None:
    """The projects with their owner, status and what each holds."""
    shown = [{k: r[k] for k in COLUMNS if k != "status"}
             | {"status": "Archived" if r["archived"] else "Active"} for r in rows]
    st.dataframe(shown, hide_index=True, width="stretch", column_order=COLUMNS, column_config=PROJECT_LABELS)


def label(row: dict) -> str:
    """A project as a picker shows it: its name, its owner, archived or not."""
    return f"{row['name']} ({row['owner']})" + (" · archived" if row["archived"] else "")


def archive_button(ctx: Context, row: dict) -> None:
    """Archive an active project, or bring an archived one back."""
    archived = not row["archived"]
    caption = ("Kept and readable, but it takes no new calls or QA pairs and leaves the project pickers."
               if archived else "Archived: it takes no new calls or QA pairs until it is active again.")
    st.caption(caption)
    if st.button("Archive" if archived else "Unarchive", key="projects.archive",
                 icon=":material/archive:" if archived else ":material/unarchive:"):
        ui.apply(lambda c: projects.archive_project(ctx, c, row["uuid"], archived),
                 f"{row['name']!r} is {'archived' if archived else 'active again'}.", FLASH)


def delete_button(ctx: Context, row: dict) -> None:
    """Delete a project with all it holds, behind a confirmation that names what goes with it."""
    with st.popover("Delete", icon=":material/delete:"):
        st.write(projects.deletion_warning(row))
        if not st.button("Delete for good", type="primary", key="projects.delete"):
            return
        try:  # its own transaction: the vectors and files go once the rows are gone for good
            with ui.connection(reraise=True) as con:
                records.delete_project(ctx, con, row["uuid"], settings=ui.settings(), vectors=ui.vectors())
        except WorkbenchError as exc:
            st.error(str(exc))
            return
    st.session_state[FLASH] = f"Deleted {row['name']!r}" + (
        f" and its {held}." if (held := projects.contents_in_words(row)) else ".")
    st.rerun()
