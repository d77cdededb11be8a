"""The `workbench` command: another face of the same service functions the pages call.

Commands that touch tenant data take `--as USERNAME` and run with that user's permissions and
organisation. Errors print one line on stderr and exit non-zero.
"""

from __future__ import annotations

import ctypes
import os
import signal
import subprocess
import sys
from pathlib import Path

import click

from workbench import home
from workbench.accounts import auth, organisations, users
from workbench.cli import admin as _admin
from workbench.cli import api as _api
from workbench.cli import backup as _backup
from workbench.cli import calls as _calls
from workbench.cli import chat as _chat
from workbench.cli import datasets as _datasets
from workbench.cli import demo as _demo
from workbench.cli import documents as _documents
from workbench.cli import forecast as _forecast
from workbench.cli import indexing as _indexing
from workbench.cli import legacy as _legacy
from workbench.cli import models as _models
from workbench.cli import prices as _prices
from workbench.cli import projects as _projects
from workbench.cli import sql as _sql
from workbench.cli import team as _team
from workbench.cli import usage as _usage
from workbench.cli.common import emit, json_option, load_settings, open_store
from workbench.errors import WorkbenchError


class Commands(click.Group):
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


@click.group(cls=Commands)
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
    cfg = load_settings()
    told: list[str] = []
    applied = home.init(cfg, say=told.append if as_json else click.echo)
    result = {"home": str(cfg.home), "database": str(cfg.db_path), "migrations_applied": applied}
    if told:
        result["storage"] = told[0]
    if org:
        if not (admin_user and email and password_stdin):
            raise click.UsageError("--org needs --admin, --email and --password-stdin.")
        password = sys.stdin.readline().rstrip("\n")
        with open_store().transaction() as con:
            org_id = organisations.create_organization(con, org)
            users.insert_user(con, org_id, admin_user, email, auth.hash_password(password),
                              "admin")
        result["organization"] = org
        result["admin"] = admin_user
    emit(result, as_json, f"Data home {cfg.home}: {len(applied)} migration(s) applied."
          + (f" Created {org} with admin {admin_user}." if org else ""))


@main.command()
@click.option("--port", default=8501, show_default=True)
@click.option("--address", default="127.0.0.1", show_default=True)
@click.option("--api/--no-api", default=True, show_default=True,
              help="Also serve the HTTP API (WORKBENCH_API_ADDRESS and WORKBENCH_API_PORT).")
def serve(port, address, api) -> None:
    """Start the Streamlit app (headless) on the data home, and the HTTP API beside it."""
    cfg = load_settings()
    home.init(cfg, say=click.echo)
    app = Path(__file__).resolve().parent.parent.parent / "app.py"
    cmd = [sys.executable, "-m", "streamlit", "run", str(app), "--server.headless", "true",
           "--server.address", address, "--server.port", str(port),
           "--browser.gatherUsageStats", "false", "--client.toolbarMode", "viewer",
           # no file watcher: it unloads changed modules in the middle of other sessions' runs
           "--server.fileWatcherType", "none",
           # no full garbage collection after every page run: with the model and MLflow loaded it
           # cost more than the page itself (0.3-0.5 s of CPU a run; Python's own collector stays on)
           "--runner.postScriptGC", "false",
           "--server.maxUploadSize", str(cfg.upload_max_mb)]
    env = {**os.environ, "WORKBENCH_HOME": str(cfg.home)}
    if api:  # its own process: it says where it listens, and stops when the app stops
        subprocess.Popen([sys.executable, "-m", "workbench", "api"], env=env, preexec_fn=_die_with_parent)
    click.echo(f"Workbench on http://{address}:{port} (data home {cfg.home})")
    sys.stdout.flush()
    # become Streamlit (no child process): a stop signal to this pid then stops the app itself
    os.execve(sys.executable, cmd, env)


def _die_with_parent() -> None:
    """In the API's process before it starts: end it when its parent (the app) ends (Linux)."""
    try:
        ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


# Each command group lives in its own module; they import cli.common, never this module.
for _command in (
    _admin.user,
    _api.api_command,
    _api.key_group,
    _admin.audit_command,
    _backup.backup_command,
    _backup.restore_command,
    _calls.calls_group,
    _chat.ask_command,
    _chat.conversations_group,
    _datasets.datasets_group,
    _demo.demo,
    _documents.ingest_command,
    _documents.search_command,
    _documents.index_repo_command,
    _documents.doctor_command,
    _team.team_group,
    _documents.documents_group,
    _forecast.forecast_group,
    _indexing.index_command,
    _legacy.import_legacy_command,
    _models.churn_group,
    _models.models_group,
    _models.mlflow_ui_command,
    _prices.prices_group,
    _projects.project_group,
    _sql.sql_command,
    _usage.usage_group,
):
    main.add_command(_command)
