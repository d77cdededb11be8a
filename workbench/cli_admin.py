"""CLI commands for administration: the audit log, and disabling or re-enabling a user."""

from __future__ import annotations

from datetime import datetime, timedelta

import click

from workbench import audit, users
from workbench.cli import _emit, acting, as_option, json_option, main, reading, user


@main.command("audit")
@click.option("--days", default=30, show_default=True, type=click.IntRange(min=1), help="How far back.")
@click.option("--action", help="Only actions starting with this, e.g. user. or key.revoke.")
@click.option("--by", "actor", metavar="USERNAME", help="Only changes made by this user.")
@as_option
@json_option
def audit_command(days, action, actor, as_user, as_json) -> None:
    """The organisation's audit log, newest first (admins): users, roles, passwords, keys, the
    business profile, agents, stages, templates, prices, budgets and model stage changes."""
    with reading(as_user) as (ctx, con):
        rows = audit.events(ctx, con, since=datetime.now() - timedelta(days=days), action=action, actor=actor)
    lines = [
        f"{r['ts']:%Y-%m-%d %H:%M:%S}  {r['actor']:<12} {r['action']:<16} {r['target'] or ''}  {r['detail']}"
        for r in rows
    ]
    _emit(rows, as_json, "\n".join(lines) or "No changes recorded in that period.")


def _set_active(username: str, as_user: str, as_json: bool, active: bool) -> None:
    with acting(as_user, write=True) as (ctx, con):
        users.set_active(ctx, con, username, active)
    state = "enabled" if active else "disabled"
    _emit({"username": username, "is_active": active}, as_json, f"{username} is {state}.")


@user.command("disable")
@click.argument("username")
@as_option
@json_option
def user_disable(username, as_user, as_json) -> None:
    """Stop USERNAME from logging in (reversible with `user enable`; nothing is deleted)."""
    _set_active(username, as_user, as_json, False)


@user.command("enable")
@click.argument("username")
@as_option
@json_option
def user_enable(username, as_user, as_json) -> None:
    """Let a disabled USERNAME log in again."""
    _set_active(username, as_user, as_json, True)
