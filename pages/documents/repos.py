"""Code repositories: the git checkouts indexed for search and chat, and their deletion."""

import polars as pl
import streamlit as st

from workbench import markup, ui
from workbench.documents import repos
from workbench.ui import documents as widgets

ctx = ui.require("documents:read")
st.title("Code repositories")

with ui.connection() as con:
    repositories = repos.list_repositories(ctx, con)
if not repositories:
    st.info("No repository indexed yet. Run `workbench index-repo PATH --as you` on a local git checkout.")
    st.stop()

st.dataframe(pl.DataFrame(repositories).drop("uuid"), hide_index=True, width="stretch",
             column_config=widgets.LABELS)
if ctx.can("documents:delete"):
    victim = st.selectbox("Repository", repositories, format_func=lambda r: r["repo_url"])
    label = f"Delete {victim['repo_url']}: its files, {victim['chunks']} chunks and vectors"
    ui.confirm_delete(
        markup.inert(label),
        lambda con: repos.delete_repository(ctx, con, ui.vectors(), victim["uuid"]),
        key="repo",
    )
