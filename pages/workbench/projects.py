"""Projects: the organisation's projects and what each holds; create, rename, archive or delete one."""

import streamlit as st

from workbench import ui
from workbench.accounts import projects
from workbench.ui import projects as widgets

ctx = ui.require("projects:read")
st.title("Projects")
st.caption("A project holds calls, QA pairs, datasets and documents. An archived project keeps them but "
           "takes no new calls or QA pairs, and project pickers leave it out.")
ui.show_flash(widgets.FLASH)

with ui.connection() as con:
    rows = projects.list_projects(ctx, con, include_archived=True)
writable = ctx.can("projects:write")
if rows:
    widgets.project_table(rows)
elif writable:
    st.info("No projects yet. Create the first one below, then import calls into it.")
else:
    st.info("No projects yet. An analyst or an admin creates them; calls and QA pairs go into one.")
if not writable:
    st.stop()

left, right = st.columns(2)
with left, st.form("projects.create", clear_on_submit=True):
    st.subheader("Create a project")
    name = st.text_input("Name")
    description = st.text_area("Description", placeholder="What goes in it, for whom")
    if st.form_submit_button("Create project", type="primary"):
        ui.apply(lambda c: projects.create_project(ctx, c, name, description),
                 f"Created {name.strip()!r}: import calls into it on Import calls.", widgets.FLASH)

mine = {r["uuid"]: r for r in rows if r["can_manage"]}
with right:
    st.subheader("Change a project")
    if not mine:
        st.caption("You own no project yet: a project is changed by its owner or an admin.")
        st.stop()
    chosen = mine[st.selectbox("Project", list(mine), format_func=lambda u: widgets.label(mine[u]),
                               key="projects.chosen")]
with right, st.form(f"projects.rename.{chosen['uuid']}"):
    new_name = st.text_input("New name", value=chosen["name"])
    if st.form_submit_button("Rename"):
        ui.apply(lambda c: projects.rename_project(ctx, c, chosen["uuid"], new_name),
                 f"Renamed {chosen['name']!r} to {new_name.strip()!r}.", widgets.FLASH)
with right:
    widgets.archive_button(ctx, chosen)
    widgets.delete_button(ctx, chosen)
