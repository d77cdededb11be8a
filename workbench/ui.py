"""Streamlit glue: the one module that imports streamlit. Caches the settings and the store,
keeps the acting user in the session, and builds the navigation from their permissions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from workbench import auth, home
from workbench import settings as settings_mod
from workbench.auth import Context
from workbench.errors import WorkbenchError


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    permission: str | None  # None: every logged-in user


# The pages that exist. A page appears in the navigation only if the user holds its permission.
PAGES = [
    PageSpec("pages/home.py", "Home", ":material/home:", None),
    PageSpec("pages/users.py", "Users & roles", ":material/group:", "users:manage"),
    PageSpec("pages/account.py", "My account", ":material/person:", None),
]


@st.cache_resource
def settings() -> settings_mod.Settings:
    return settings_mod.from_env()


@st.cache_resource
def store():
    """The process's store: the file is opened per page run and closed after it."""
    return home.open_store(settings())


@contextmanager
def connection(write: bool = False) -> Iterator:
    """A connection for one unit of work; a held database stops the page with a clear error."""
    try:
        with st.spinner("Waiting for the database..."):
            opener = store().transaction if write else store().connect
            with opener() as con:
                yield con
    except WorkbenchError as exc:
        st.error(str(exc))
        st.stop()


def current_context() -> Context | None:
    return st.session_state.get("ctx")


def require(permission: str | None = None) -> Context:
    """The acting user's context; stops the page when not logged in or not allowed."""
    ctx = current_context()
    if ctx is None:
        st.warning("Please log in.")
        st.stop()
    if permission and not ctx.can(permission):
        st.error(f"Your role does not allow this page (it needs '{permission}').")
        st.stop()
    return ctx


def visible_pages(ctx: Context) -> list[PageSpec]:
    return [p for p in PAGES if p.permission is None or ctx.can(p.permission)]


def page_for(ctx: Context, permission: str) -> PageSpec | None:
    """The first visible page guarded by `permission`, for links from KPIs."""
    return next((p for p in visible_pages(ctx) if p.permission == permission), None)


def login_form() -> None:
    """The login page: username and password; the same message for any wrong pair."""
    st.title("Workbench")
    st.caption("Analytics for LLM and RAG chat products and call centres.")
    with st.form("login"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    if submitted:
        cfg = settings()
        try:
            with store().connect() as con:  # autocommit: a failed attempt must be recorded
                ctx = auth.login(con, username, password, max_failures=cfg.login_max_failures,
                                 lock_minutes=cfg.login_lock_minutes)
        except WorkbenchError as exc:
            st.error(str(exc))
            return
        st.session_state["ctx"] = ctx
        st.rerun()


def sidebar(ctx: Context) -> None:
    with st.sidebar:
        st.markdown(f"**{ctx.full_name}**  \n{ctx.org_name}")
        st.caption("Role: " + ", ".join(sorted(ctx.roles)).replace("_", " "))
        if st.button("Log out", icon=":material/logout:"):
            st.session_state.clear()
            st.rerun()

