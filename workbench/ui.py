"""Streamlit glue: the one module that imports streamlit. Caches the settings and the store,
keeps the acting user in the session, and builds the navigation from their permissions."""

from __future__ import annotations

import re
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


# The pages that exist. A page appears in the navigation only if the user holds its permission.
PAGES = [
    PageSpec("pages/home.py", "Home", ":material/home:", None),
    PageSpec("pages/chat.py", "Chat", ":material/chat:", "chat:use"),
    PageSpec("pages/documents.py", "Documents", ":material/description:", "documents:read"),
    PageSpec("pages/calls.py", "Calls", ":material/call:", "calls:read"),
    PageSpec("pages/usage.py", "Usage", ":material/monitoring:", "usage:read"),
    PageSpec("pages/churn.py", "Churn", ":material/person_remove:", "models:train"),
    PageSpec("pages/forecast.py", "Forecast", ":material/trending_up:", "models:train"),
    PageSpec("pages/models.py", "Models", ":material/model_training:", "models:read"),
    PageSpec("pages/sql.py", "SQL console", ":material/terminal:", "sql:query"),
    PageSpec("pages/prices.py", "Prices & budgets", ":material/payments:", "prices:manage"),
    PageSpec("pages/prompts.py", "Agents & prompts", ":material/edit_note:", "prompts:manage"),
    PageSpec("pages/users.py", "Users & roles", ":material/group:", "users:manage"),
    PageSpec("pages/admin.py", "Administration", ":material/admin_panel_settings:", "admin:full"),
    PageSpec("pages/account.py", "My account", ":material/person:", None),
]


@st.cache_resource
def settings() -> settings_mod.Settings:
    return settings_mod.from_env()


@st.cache_resource
def workbench() -> home.Workbench:
    """The process's handle on the data home (one per process, shared by every session)."""
    return home.Workbench(settings())


def store():
    """The process's store: the file is opened per page run and closed after it."""
    return workbench().store


def vectors():
    return workbench().vectors


def embedder():
    """The embedding model, loaded once per process on first use."""
    return workbench().embedder


@st.cache_resource
def warm_up() -> threading.Thread:
    """Load the embedding model in the background once per process, so that the first chat
    question or search does not wait for it (about 5 s on 2 cores)."""
    thread = threading.Thread(target=lambda: embedder().encode(["warm up"]), name="warm-up", daemon=True)
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

    thread = threading.Thread(target=imports, name="warm-up-imports", daemon=True)
    thread.start()
    return thread


@st.cache_resource
def ingest_worker():
    """The process's background ingest thread and its job states."""
    from workbench.documents.jobs import IngestWorker

    return IngestWorker(settings(), store(), vectors(), embedder())


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
    """This month's budgets as one table (Usage, Prices & budgets); `detail` adds the projection's
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


# The metrics the Models page compares, per kind of model (the first is the gate's default).
MODEL_METRICS = {
    "churn": ["roc_auc", "pr_auc", "brier", "log_loss", "f1", "cv_roc_auc_mean"],
    "forecast": ["mase", "smape", "mae", "baseline_mase", "baseline_smape", "baseline_mae"],
}


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


def registry_action(action, done: str) -> None:
    """One registry change (`action(con)`); the gate's refusal shows here, with nothing changed."""
    apply(action, done, "models.done")


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


def document_detail(ctx: Context, document_uuid: str) -> None:
    """Summary, keywords, topics and chunks of one document, with its delete button."""
    from workbench.documents import records as documents

    with connection() as con:
        doc = documents.get_document(ctx, con, document_uuid)
    from workbench import markup

    st.subheader(markup.inert(doc["title"] or doc["filename"]))
    cols = st.columns(5)
    for col, (label, value) in zip(cols, [("Status", doc["processing_status"]), ("Chunks", doc["num_chunks"]),
                                          ("Tokens", f"{doc['num_tokens']:,}"), ("Version", doc["version"]),
                                          ("Content", doc["content_type"] or "-")], strict=True):
        col.metric(label, value)
    if doc["error_message"]:
        st.error(markup.inert(doc["error_message"]))
    if doc["auto_summary"]:
        st.markdown(f"**Summary** ({doc['summarization_model']})")
        st.markdown(markup.inert(doc["auto_summary"]))
    if doc["keywords"]:
        st.markdown("**Keywords** " + " ".join(f"`{k}`" for k in doc["keywords"]))
    if doc["topics"]:
        st.markdown(markup.inert("**Topics** " + " · ".join(doc["topics"])))
    with st.expander(f"{len(doc['chunks'])} chunks"):
        st.dataframe(doc["chunks"], hide_index=True, width="stretch",
                     column_config={"content": st.column_config.TextColumn("text", width="large")})
    if ctx.can("documents:delete"):
        confirm_delete(f"Delete {doc['filename']}: its file, {doc['num_chunks']} chunks and their vectors",
                       lambda con: documents.delete_document(ctx, con, document_uuid, settings=settings(),
                                                             vectors=vectors()),
                       key=document_uuid)


def hit_card(rank: int, hit, query: str) -> None:
    """One search result: where it comes from, how it scored, the text with the query words marked."""
    from workbench import markup

    where = [hit.title]
    if hit.page_number:
        where.append(f"page {hit.page_number}")
    if hit.start_line:
        where.append(f"{hit.filename} lines {hit.start_line}-{hit.end_line}")
    if hit.section and hit.section != hit.title:
        where.append(hit.section)
    with st.container(border=True):
        st.markdown(markup.inert(f"**{rank}. {' · '.join(where)}**"))
        st.caption(f"fused score {hit.score:.4f} · similarity {hit.similarity:.2f} · vector rank "
                   f"{hit.vector_rank or '-'} · text rank {hit.text_rank or '-'}")
        st.markdown(mark(hit.text, query))


def mark(text: str, query: str) -> str:
    """Bold the query's words (of 3+ letters) in a result's text, as inert Markdown (no images)."""
    from workbench import markup

    text = re.sub(r"^#{1,6}\s*", "", text, flags=re.MULTILINE)  # headings as plain lines, not titles
    text = re.sub(r"\*\*|__", "", text)  # the source's own emphasis: bold is kept for the query's words
    words = sorted({w for w in re.findall(r"\w{3,}", query.lower())}, key=len, reverse=True)
    if words:
        pattern = re.compile(r"\b(" + "|".join(map(re.escape, words)) + r")\w*", re.IGNORECASE)
        text = pattern.sub(lambda m: f"**{m.group(0)}**", text.replace("*", "\\*"))
    return markup.inert(text)  # last: dropping "**" above can join a "!" to a "["
