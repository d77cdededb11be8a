"""The `workbench` command: another face of the same service functions the pages call.

Commands that touch tenant data take `--as USERNAME` and run with that user's permissions and
organisation. Errors print one line on stderr and exit non-zero.
"""

from __future__ import annotations

import json
import os
import sys
import time
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path

import click

from workbench import auth, home, users
from workbench import settings as settings_mod
from workbench.errors import WorkbenchError


class Workbench(click.Group):
    """Turns the package's errors into one-line messages and exit code 1."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except WorkbenchError as exc:
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)
        except ValueError as exc:  # bad settings
            click.echo(f"error: {exc}", err=True)
            sys.exit(1)


def _settings():
    return settings_mod.from_env()


def _store(read_only: bool = False):
    return home.open_store(_settings(), on_wait=lambda m: click.echo(m, err=True), read_only=read_only)


@contextmanager
def acting(username: str, *, write: bool = False):
    """A (context, connection) pair for the user named by --as."""
    store = _store()
    opener = store.transaction if write else store.connect
    with opener() as con:
        yield auth.context_for(con, username), con


@contextmanager
def reading(username: str):
    """A (context, connection) pair for a command that only reads: the file is opened read-only, so
    reading commands run side by side (a writer, the app included, waits for them)."""
    with _store(read_only=True).connect() as con:
        yield auth.context_for(con, username), con


def context_of(username: str, *, read_only: bool = False) -> auth.Context:
    """The acting user's context, read in a short unit of work (long commands hold no lock)."""
    with _store(read_only).connect() as con:
        return auth.context_for(con, username)


def _emit(data, as_json: bool, text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, default=_json_default, indent=2))
    else:
        click.echo(text)


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


as_option = click.option("--as", "as_user", required=True, metavar="USERNAME",
                         help="Act as this user, with their permissions and organisation.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")


@click.group(cls=Workbench)
@click.version_option(package_name="workbench")
def main() -> None:
    """Workbench: analytics for LLM/RAG chat products and call centres."""


@main.command()
@click.option("--org", help="Create this organisation with a first admin.")
@click.option("--admin", "admin_user", help="Username of the first admin (with --org).")
@click.option("--email", help="Email of the first admin.")
@click.option("--password-stdin", is_flag=True, help="Read the admin's password from stdin.")
@json_option
def init(org, admin_user, email, password_stdin, as_json) -> None:
    """Create the data home and apply database migrations (safe to repeat)."""
    cfg = _settings()
    applied = home.init(cfg)
    result = {"home": str(cfg.home), "database": str(cfg.db_path), "migrations_applied": applied}
    if org:
        if not (admin_user and email and password_stdin):
            raise click.UsageError("--org needs --admin, --email and --password-stdin.")
        password = sys.stdin.readline().rstrip("\n")
        with _store().transaction() as con:
            org_id = users.create_organization(con, org)
            users.insert_user(con, org_id, admin_user, email, auth.hash_password(password),
                              "admin")
        result["organization"] = org
        result["admin"] = admin_user
    _emit(result, as_json, f"Data home {cfg.home}: {len(applied)} migration(s) applied."
          + (f" Created {org} with admin {admin_user}." if org else ""))


@main.command()
@click.option("--scale", type=click.IntRange(min=1), metavar="N",
              help="Also write N extra llm_calls through the bulk path (for benchmarks).")
@click.option("--if-empty", is_flag=True, help="Load only when the database is empty.")
@json_option
def demo(scale, if_empty, as_json) -> None:
    """Load the deterministic demo data (two organisations) into an empty database."""
    from workbench import demo as demo_mod
    from workbench.demo import people, usage

    cfg = _settings()
    home.init(cfg)
    store = _store()
    result: dict = {}
    started = time.perf_counter()
    if home.is_empty(store):
        result["loaded"] = demo_mod.load(cfg, store)
    elif not if_empty and not scale:
        raise WorkbenchError("The database already holds data; the demo loads only into an "
                             "empty one. Point WORKBENCH_HOME at a new folder.")
    result["load_seconds"] = round(time.perf_counter() - started, 2)
    from workbench import ingest

    waiting = ingest.pending(store)
    if waiting:
        started = time.perf_counter()
        outcomes = _ingest_pending(cfg, store, waiting, quiet=as_json)
        result["documents_ingested"] = sum(o.status == "completed" for o in outcomes)
        result["ingest_seconds"] = round(time.perf_counter() - started, 2)
    result |= _index_demo_calls(cfg, store, quiet=as_json)
    if scale:
        started = time.perf_counter()
        with store.transaction() as con:
            usage.write_scale(con, scale, seed=cfg.demo_seed, fading_usernames=people.FADING,
                              progress=None if as_json else
                              lambda done, n: click.echo(f"  {done:,}/{n:,} llm_calls", err=True))
        result["scale_rows"] = scale
        result["scale_seconds"] = round(time.perf_counter() - started, 2)
    result["logins"] = [{"username": u[1], "role": u[3], "organization": people.ORGS[u[0]]["name"]}
                        for u in people.USERS]
    result["password"] = people.DEMO_PASSWORD
    lines = []
    if "loaded" in result:
        lines.append(f"Demo loaded in {result['load_seconds']} s: " + ", ".join(
            f"{v:,} {k}" for k, v in result["loaded"].items()))
    else:
        lines.append("Demo data already present.")
    if "ingest_seconds" in result:
        lines.append(f"Embedded {result['documents_ingested']} sample documents"
                     f" in {result['ingest_seconds']} s.")
    if result.get("calls_embedded"):
        lines.append(f"Embedded {result['calls_embedded']:,} calls' utterances and"
                     f" {result['qa_embedded']} QA pairs, clustered intents, in {result['calls_seconds']} s.")
    if scale:
        lines.append(f"Wrote {scale:,} llm_calls in {result['scale_seconds']} s.")
    lines.append(f"Demo logins (password: {people.DEMO_PASSWORD}):")
    lines += [f"  {x['username']:<8} {x['role']:<15} {x['organization']}" for x in result["logins"]]
    _emit(result, as_json, "\n".join(lines))


def _index_demo_calls(cfg, store, quiet: bool) -> dict:
    """Embed the calls and QA pairs still without vectors, and cluster the calls' intents."""
    from workbench import call_search, calls, qa

    with store.connect() as con:
        waiting = call_search.pending_calls(con)
    vectors, embedder = home.open_vectors(cfg), home.local_embedder(cfg)
    started = time.perf_counter()
    qa_done = qa.embed_missing(store, vectors, embedder)
    if not waiting and not qa_done:
        return {}

    def say(done: int, total: int) -> None:
        if not quiet:
            click.echo(f"  calls embedded: {done:,}/{total:,}", err=True)

    calls.index_calls(store, vectors, embedder, waiting, say)
    return {"calls_embedded": len(waiting), "qa_embedded": qa_done,
            "calls_seconds": round(time.perf_counter() - started, 2)}


def _ingest_pending(cfg, store, waiting: list[str], quiet: bool) -> list:
    """Process pending documents (the demo's samples), one progress line each."""
    from workbench import ingest

    vectors, embedder = home.open_vectors(cfg), home.local_embedder(cfg)

    def say(name: str, stage: str, fraction: float) -> None:
        if not quiet and (fraction >= 1.0 or stage.endswith("chunks") and fraction == 0):
            click.echo(f"  {name}: {stage}", err=True)

    return ingest.process_many(cfg, store, vectors, embedder, waiting, say)


@main.group()
def user() -> None:
    """Manage users of your organisation."""


@user.command("add")
@click.argument("username")
@click.option("--email", required=True)
@click.option("--role", default="viewer", show_default=True,
              help="admin, data_scientist, analyst, manager or viewer.")
@click.option("--name", "full_name", help="Full name.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@as_option
@json_option
def user_add(username, email, role, full_name, password_stdin, as_user, as_json) -> None:
    """Add a user to the acting admin's organisation."""
    if password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    else:
        password = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    with acting(as_user, write=True) as (ctx, con):
        row = users.add_user(ctx, con, username, email, password, role, full_name)
    _emit(row, as_json, f"Added {row['username']} ({', '.join(row['roles'])}) to "
          f"{row['organization']}.")


@user.command("list")
@as_option
@json_option
def user_list(as_user, as_json) -> None:
    """List the users of your organisation with their roles."""
    with reading(as_user) as (ctx, con):
        rows = users.list_users(ctx, con)
    lines = [f"{r['username']:<12} {r['organization']:<18} {','.join(r['roles']):<16} "
             f"{'active' if r['is_active'] else 'disabled'}" for r in rows]
    _emit([{k: r[k] for k in ("username", "email", "organization", "roles", "is_active",
                              "last_login")} for r in rows], as_json, "\n".join(lines))


@user.command("set-role")
@click.argument("username")
@click.argument("role")
@as_option
@json_option
def user_set_role(username, role, as_user, as_json) -> None:
    """Give USERNAME the single role ROLE."""
    with acting(as_user, write=True) as (ctx, con):
        row = users.set_role(ctx, con, username, role)
    _emit(row, as_json, f"{row['username']} is now {', '.join(row['roles'])}.")


@main.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True)
def serve(port, address) -> None:
    """Start the Streamlit app (headless) on the data home."""
    cfg = _settings()
    home.init(cfg)
    app = Path(__file__).resolve().parent.parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--server.address", address, "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
           # no file watcher: it unloads changed modules in the middle of other sessions' runs
           "--server.fileWatcherType", "none",
           "--server.maxUploadSize", str(cfg.upload_max_mb)]
    click.echo(f"Workbench on http://{address}:{port} (data home {cfg.home})")
    sys.stdout.flush()
    # become Streamlit (no child process): a stop signal to this pid then stops the app itself
    os.execve(sys.executable, cmd, {**os.environ, "WORKBENCH_HOME": str(cfg.home)})


from workbench import cli_calls, cli_chat, cli_documents, cli_legacy, cli_prices, cli_usage  # noqa: E402,F401,I001
from workbench import cli_datasets  # noqa: E402,F401
from workbench import cli_models  # noqa: E402,F401
from workbench import cli_forecast  # noqa: E402,F401
from workbench import cli_sql  # noqa: E402,F401
from workbench import cli_backup  # noqa: E402,F401
from workbench import cli_admin  # noqa: E402,F401
