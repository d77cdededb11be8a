"""`workbench team`: start, stop and inspect the team deployment on this machine (ops/team.py)."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

import click

from workbench.cli.common import emit, json_option, load_settings
from workbench.ops import team as team_mod


def _team(port: int, base_port: int, apps: int) -> team_mod.Team:
    return team_mod.Team(load_settings(), port=port, base_port=base_port, apps=apps)


def _options(command):
    command = click.option("--apps", default=2, show_default=True, type=click.IntRange(1, 16),
                           help="App processes behind the load balancer.")(command)
    command = click.option("--base-port", default=8610, show_default=True,
                           help="First internal port (PostgreSQL, object store, MLflow, API, apps).")(command)
    return click.option("--port", default=8501, show_default=True,
                        help="The load balancer's port: the app, and the API under /v1.")(command)


@click.group("team")
def team_group() -> None:
    """The team deployment: PostgreSQL, an object store, MLflow's server, app processes and the API
    behind HAProxy, on loopback, with their data under the data home."""


@team_group.command("up")
@_options
@click.option("--demo", is_flag=True, help="Load the demo data first when the data home is empty.")
@json_option
def up_command(port, base_port, apps, demo, as_json) -> None:
    """Start every service that is not running (safe to repeat)."""
    team = _team(port, base_port, apps)
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo

    def load_demo() -> None:  # in its own process, with the deployment's settings: all goes there
        say("Loading the demo data (when the deployment is empty)...")
        subprocess.run([sys.executable, "-m", "workbench", "demo", "--if-empty", "--background"],
                       env={**os.environ, **team.environment()}, check=True)

    urls = team_mod.up(team, say=say, before_apps=load_demo if demo else None)
    emit(urls, as_json, "\n".join([
        f"Workbench (load balanced over {apps} app processes): {urls['app']}",
        f"HTTP API: {urls['api']}   MLflow: {urls['mlflow']}",
        "Point a command at this deployment: eval \"$(workbench team env)\"; stop it: workbench team down",
    ]))


@team_group.command("down")
@_options
@json_option
def down_command(port, base_port, apps, as_json) -> None:
    """Stop every service of the deployment (its data stays)."""
    stopped = team_mod.down(_team(port, base_port, apps),
                            say=(lambda line: None) if as_json else click.echo)
    emit({"stopped": stopped}, as_json, f"Stopped {len(stopped)} service(s)." if stopped
         else "Nothing was running.")


@team_group.command("status")
@_options
@json_option
def status_command(port, base_port, apps, as_json) -> None:
    """Which services run, and where."""
    rows = team_mod.status(_team(port, base_port, apps))
    emit(rows, as_json, "\n".join(
        f"{r['service']:<9} {'running' if r['running'] else 'stopped':<8} {r['address']:<16} "
        f"{r['pid'] or ''}" for r in rows))


@team_group.command("move-in")
@_options
@json_option
def move_in_command(port, base_port, apps, as_json) -> None:
    """Copy this data home's embedded database, vectors and models into the team deployment (which
    must be empty; its stores are started, its apps must be stopped). The embedded files stay."""
    team = _team(port, base_port, apps)
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    report = team_mod.move_in(team, say=say)
    emit(report, as_json, _moved(report, "into the team deployment"))


@team_group.command("move-out")
@_options
@click.option("--to", "target", required=True, type=click.Path(file_okay=False),
              help="A new (or empty) folder for the embedded data home.")
@json_option
def move_out_command(port, base_port, apps, target, as_json) -> None:
    """Copy the team deployment into a new embedded data home (database file, vectors folder,
    MLflow's SQLite store, uploads and exports). The deployment is left as it is."""
    team = _team(port, base_port, apps)
    say = (lambda line: click.echo(line, err=True)) if as_json else click.echo
    report = team_mod.move_out(team, Path(target), say=say)
    emit(report, as_json, _moved(report, f"into {target} (WORKBENCH_HOME={target} workbench serve)"))


def _moved(report: dict, where: str) -> str:
    rows = sum(report["rows"].values())
    vectors = sum(report["vectors"].values())
    return (f"Copied {rows:,} rows in {len(report['rows'])} tables, {vectors:,} vectors and "
            f"{report['model_runs']} model runs {where}; counts checked.")


@team_group.command("env")
@_options
def env_command(port, base_port, apps) -> None:
    """The settings that point a command at the deployment: eval "$(workbench team env)"."""
    for name, value in _team(port, base_port, apps).environment().items():
        click.echo(f"export {name}={shlex.quote(value)}")
