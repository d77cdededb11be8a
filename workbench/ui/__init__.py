"""Streamlit glue: the one package that imports streamlit (each area's widgets in a module beside
this one). Caches the settings and the store, keeps the acting user in the session, and builds the
navigation from their permissions."""

from __future__ import annotations

import gc
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import streamlit as st

from workbench import home
from workbench import settings as settings_mod
from workbench.accounts import auth
from workbench.accounts.context import Context
from workbench.errors import AuthFailed, WorkbenchError


@dataclass(frozen=True)
class PageSpec:
    path: str
    title: str
    icon: str
    permission: str | None  # None: every logged-in user
    section: str
    url: str  # the page's address: unique, stable (links and bookmarks use it)


def _section(name: str, *pages: tuple[str, str, str, str | None, str]) -> list[PageSpec]:
    return [PageSpec(path, title, icon, permission, name, url)
            for path, title, icon, permission, url in pages]


# The pages that exist, one job each, in the navigation's sections (a folder of pages/ each). A page
# appears only if the user holds its permission; the first page of a permission is where a KPI's link
# leads (`page_for`). No page sits directly in pages/: Streamlit would also serve such a file on its
# own (its older multipage mode, on for a pages/ folder with scripts in it), without app.py.
PAGES = [
    *_section("Workbench",
              ("pages/workbench/home.py", "Home", ":material/home:", None, "home"),
              ("pages/workbench/chat.py", "Chat", ":material/chat:", "chat:use", "chat"),
              ("pages/workbench/sql.py", "SQL console", ":material/terminal:", "sql:query", "sql"),
              ("pages/workbench/projects.py", "Projects", ":material/folder:", "projects:read", "projects")),
    *_section("Documents",
              ("pages/documents/library.py", "Documents", ":material/description:", "documents:read",
               "documents"),
              ("pages/documents/search.py", "Search documents", ":material/search:", "documents:read",
               "documents-search"),
              ("pages/documents/upload.py", "Upload documents", ":material/upload_file:", "documents:create",
               "documents-upload"),
              ("pages/documents/repos.py", "Code repositories", ":material/code:", "documents:read", "code")),
    *_section("Calls",
              ("pages/calls/browse.py", "Calls", ":material/call:", "calls:read", "calls"),
              ("pages/calls/search.py", "Search calls", ":material/manage_search:", "calls:read",
               "calls-search"),
              ("pages/calls/imports.py", "Import calls", ":material/upload:", "calls:import", "calls-import"),
              ("pages/calls/qa.py", "QA pairs", ":material/quiz:", "qa:read", "qa"),
              ("pages/calls/datasets.py", "Datasets", ":material/dataset:", "datasets:read", "datasets")),
    *_section("Usage",
              ("pages/usage/overview.py", "Usage", ":material/monitoring:", "usage:read", "usage"),
              ("pages/usage/latency.py", "Latency", ":material/speed:", "usage:read", "usage-latency"),
              ("pages/usage/people.py", "Users and conversations", ":material/groups:", "usage:read",
               "usage-people"),
              ("pages/usage/budgets.py", "Budgets and anomalies", ":material/savings:", "usage:read",
               "usage-budgets"),
              ("pages/usage/calls.py", "LLM calls", ":material/list_alt:", "usage:read", "usage-calls")),
    *_section("Models",
              ("pages/models/churn.py", "Churn", ":material/person_remove:", "models:train", "churn"),
              ("pages/models/at_risk.py", "Users at risk", ":material/warning:", "models:train", "at-risk"),
              ("pages/models/forecast.py", "Forecast", ":material/trending_up:", "models:train", "forecast"),
              ("pages/models/forecast_score.py", "Score a forecast", ":material/query_stats:", "models:train",
               "forecast-score"),
              ("pages/models/registry.py", "Models", ":material/model_training:", "models:read", "models")),
    *_section("Administration",
              ("pages/admin/prices.py", "Prices", ":material/payments:", "prices:manage", "prices"),
              ("pages/admin/budgets.py", "Budgets", ":material/account_balance_wallet:", "prices:manage",
               "budgets"),
              ("pages/admin/prompts.py", "Agents & prompts", ":material/edit_note:", "prompts:manage",
               "prompts"),
              ("pages/admin/users.py", "Users & roles", ":material/group:", "users:manage", "users"),
              ("pages/admin/organisation.py", "Administration", ":material/admin_panel_settings:",
               "admin:full", "admin"),
              ("pages/admin/api_keys.py", "API keys", ":material/key:", "admin:full", "api-keys"),
              ("pages/admin/audit.py", "Audit log", ":material/history:", "admin:full", "audit")),
    *_section("Account",
              ("pages/account/my_account.py", "My account", ":material/person:", None, "account")),
]


def navigation(ctx: Context) -> dict[str, list]:
    """The user's navigation: their visible pages by section, Home first (the default)."""
    sections: dict[str, list] = {}
    for spec in visible_pages(ctx):
        page = st.Page(spec.path, title=spec.title, icon=spec.icon, url_path=spec.url,
                       default=spec.url == "home")
        sections.setdefault(spec.section, []).append(page)
    return sections


@st.cache_resource
def settings() -> settings_mod.Settings:
    return settings_mod.from_env()


@st.cache_resource
def workbench() -> home.Workbench:
    """The process's handle on the data home (one per process, shared by every session); its idle
    connection lingers, so that a page run opens the file once (db.Store)."""
    return home.Workbench(settings(), linger_s=settings().db_linger_s)


def store():
    """The process's store: the file is opened per page run and closed a moment after it."""
    return workbench().store


def vectors():
    return workbench().vectors


@st.cache_resource
def warm_up() -> threading.Thread:
    """Load the embedding model in the background once per process, so that the first chat
    question or search does not wait for it (about 5 s on 2 cores)."""
    def load() -> None:
        # scipy first: imported while another thread is still importing torch (the model), scipy's
        # array-API check reads the half-made torch module and its import fails (seen on a start)
        import scipy.stats  # noqa: F401

        workbench().embedder.encode(["warm up"])
        gc.freeze()  # the model's objects live as long as the process: the collector skips them

    thread = threading.Thread(target=load, name="warm-up", daemon=True)
    thread.start()
    return thread


@st.cache_resource
def warm_imports() -> threading.Thread:
    """Import the model modules (MLflow, scikit-learn, statsforecast, matplotlib: about 6 s cold on
    2 cores) in the background once per process, from the login page on, so that the first Churn,
    Forecast or Models page does not wait for them."""

    def imports() -> None:
        import workbench.models.churn.training  # noqa: F401
        import workbench.models.forecast.training  # noqa: F401
        gc.freeze()  # modules live as long as the process: the collector skips them

    thread = threading.Thread(target=imports, name="warm-up-imports", daemon=True)
    thread.start()
    return thread


@st.cache_resource
def ingest_worker():
    """The process's background ingest thread and its job states."""
    from workbench.documents.jobs import IngestWorker

    return IngestWorker(workbench())


def secrets() -> dict[str, str]:
    """Streamlit secrets (for provider keys); empty when the app has no secrets file."""
    try:
        return {k: v for k, v in st.secrets.items() if isinstance(v, str)}
    except (FileNotFoundError, KeyError, ValueError, st.errors.StreamlitSecretNotFoundError):
        return {}


@contextmanager
def connection(write: bool = False, reraise: bool = False) -> Iterator:
    """A connection for one unit of work; a held database (or any WorkbenchError) stops the page
    with a clear error, unless `reraise`: then the caller shows it and the page goes on."""
    try:
        with st.spinner("Waiting for the database..."):
            opener = store().transaction if write else store().connect
            with opener() as con:
                yield con
    except WorkbenchError as exc:
        if reraise:
            raise
        st.error(str(exc))
        st.stop()


def current_context() -> Context | None:
    """The logged-in user as they are now, read again on every run: a role changed since the last
    click applies at once, and a user deleted, disabled or whose password was reset elsewhere is
    logged out (None) with the reason shown on the login page."""
    ctx = st.session_state.get("ctx")
    if ctx is None:
        return None
    if st.session_state.get(_CHECKED) is ctx:  # read already in this run (app.py, then the page)
        return ctx
    try:
        with connection(reraise=True) as con:
            fresh = auth.refresh(con, ctx)
    except AuthFailed as exc:
        st.session_state.clear()
        st.session_state["logged_out"] = str(exc)
        return None
    except WorkbenchError as exc:  # the database is held: nothing can be checked, nothing shown
        st.error(str(exc))
        st.stop()
    st.session_state["ctx"] = fresh
    return fresh


_CHECKED = "_ctx_checked_this_run"


@contextmanager
def checked_this_run(ctx: Context | None):
    """Within the block (the page app.py runs), `current_context` gives `ctx`, read just now,
    instead of reading the user again: once a page run, not twice."""
    st.session_state[_CHECKED] = ctx
    try:
        yield
    finally:
        st.session_state.pop(_CHECKED, None)


def keep_session(ctx: Context) -> None:
    """Keep this session's user after a change that ends their other sessions (their password)."""
    st.session_state["ctx"] = ctx


def require(permission: str | None = None) -> Context:
    """The acting user's context; stops the page when not logged in or not allowed."""
    ctx = current_context()
    if ctx is None:  # logged out (perhaps just now, at this click): the login form, with the reason
        login_form()
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


def page_at(ctx: Context, url: str) -> PageSpec | None:
    """The page at `url` when the user may see it (for a link to one page), else None."""
    return next((p for p in visible_pages(ctx) if p.url == url), None)


def link(ctx: Context, url: str, label: str | None = None) -> None:
    """A link to the page at `url`, shown only when the user may open it."""
    if target := page_at(ctx, url):
        st.page_link(target.path, label=label or target.title, icon=target.icon)


def login_form() -> None:
    """The login page: username and password; the same message for any wrong pair."""
    st.title("Workbench")
    st.caption("Analytics for LLM and RAG chat products and call centres.")
    if reason := st.session_state.get("logged_out"):
        st.warning(f"You were logged out: {reason}")
    with st.form("login"):
        username = st.text_input("Username")
        password = st.text_input("Password", type="password")
        submitted = st.form_submit_button("Log in", type="primary")
    cfg = settings()
    st.caption(f"{cfg.login_max_failures} failed logins in a row lock an account for "
               f"{cfg.login_lock_minutes} min; an admin can lift the lock by resetting the password.")
    if submitted:
        try:
            with store().connect() as con:  # autocommit: a failed attempt must be recorded
                ctx = auth.login(con, username, password, max_failures=cfg.login_max_failures,
                                 lock_minutes=cfg.login_lock_minutes)
        except WorkbenchError as exc:
            st.error(str(exc))
            return
        st.session_state.clear()
        st.session_state["ctx"] = ctx
        st.rerun()


def sidebar(ctx: Context) -> None:
    with st.sidebar:
        st.markdown(f"**{ctx.full_name}**  \n{ctx.org_name}")
        st.caption("Role: " + ", ".join(sorted(ctx.roles)).replace("_", " "))
        if st.button("Log out", icon=":material/logout:"):
            st.session_state.clear()
            st.rerun()


def indexing_banner() -> None:
    """While embeddings are made in the background (the demo's first start): what is done so far,
    refreshed every few seconds, and a full rerun when it finishes so the pages show the rest."""
    from workbench.ops import indexing

    found = indexing.status(settings())
    if found is not None and (found["state"] != "done" or st.session_state.get("indexing.shown")):
        _indexing_progress()


@st.fragment(run_every=3)
def _indexing_progress() -> None:
    from workbench.ops import indexing

    found = indexing.status(settings())
    if found is None or found["state"] == "done":
        if st.session_state.pop("indexing.shown", False):
            st.rerun(scope="app")
        return
    st.session_state["indexing.shown"] = True
    if found["state"] == "failed":
        st.warning(f"Embedding stopped ({found['message']}). Search, chat and intents cover only what"
                   " was embedded; run `workbench index` to finish.", icon=":material/warning:")
        return
    st.info(f"Embedding the data in the background: {indexing.summary(found)}. Search, chat and call"
            " intents cover what is embedded so far; the rest appears when it is done.",
            icon=":material/hourglass_top:")


def exports(frame, name: str, key: str, label: str = "Export") -> None:
    """A chart's or table's data as CSV (formula cells neutralised, see `csv_safe`) and Parquet
    downloads (a polars DataFrame), behind one button."""
    import io

    from workbench import csv_safe

    with st.popover(label, icon=":material/download:", disabled=frame.is_empty()):
        st.download_button("CSV", csv_safe.write_csv(frame), f"{name}.csv", "text/csv", key=f"{key}.csv",
                           icon=":material/table:")
        buffer = io.BytesIO()
        frame.write_parquet(buffer)
        st.download_button("Parquet", buffer.getvalue(), f"{name}.parquet", "application/vnd.apache.parquet",
                           key=f"{key}.parquet", icon=":material/database:")


BUDGET_LABELS = {"scope": "Scope", "target": "Name", "monthly_usd": "Monthly (USD)",
                 "spent_usd": "Spent (USD)", "share": "Used", "status": "Status",
                 "projected_usd": "Month-end projection (USD)",
                 "projected_low": "Projection low", "projected_high": "Projection high",
                 "projected_status": "Projected status", "unpriced_calls": "Unpriced calls"}


def budget_table(status: list[dict], *, detail: bool = False):
    """This month's budgets as one table (Budgets and anomalies, Budgets); `detail` adds the projection's
    range and the unpriced calls. Returns the frame shown."""
    import polars as pl

    columns = ["scope", "target", "monthly_usd", "spent_usd", "share", "status", "projected_usd"]
    columns += ["projected_low", "projected_high", "projected_status", "unpriced_calls"] if detail else [
        "projected_status"]
    frame = pl.DataFrame(status, infer_schema_length=None).select(columns)
    money = {c: st.column_config.NumberColumn(BUDGET_LABELS[c], format="$%.2f")
             for c in columns if c.endswith(("_usd", "_low", "_high"))}
    st.dataframe(frame, hide_index=True, width="stretch", column_config={
        **{c: BUDGET_LABELS[c] for c in columns}, **money,
        "share": st.column_config.ProgressColumn(BUDGET_LABELS["share"], format="percent", min_value=0,
                                                 max_value=1)})
    return frame


def apply(action, done: str, flash: str) -> None:
    """One change (`action(con)`) in a write transaction; `done` is shown after the rerun by
    `show_flash(flash)`, an error here, with nothing changed."""
    try:
        with connection(write=True, reraise=True) as con:
            action(con)
    except WorkbenchError as exc:
        st.error(str(exc))
        return
    st.session_state[flash] = done
    st.rerun()


def show_flash(flash: str) -> None:
    """The message the last `apply` left for this page, once."""
    if message := st.session_state.pop(flash, None):
        st.success(message)


def confirm_delete(label: str, action, key: str) -> None:
    """A delete behind a confirmation popover; `action(con)` runs in one write transaction."""
    with st.popover("Delete", icon=":material/delete:"):
        st.write(f"{label}. This cannot be undone.")
        if st.button("Delete for good", type="primary", key=f"delete.{key}"):
            try:
                with connection(write=True) as con:
                    action(con)
            except WorkbenchError as exc:
                st.error(str(exc))
                return
            st.toast("Deleted.")
            st.rerun()

