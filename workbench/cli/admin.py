"""CLI commands for administration: the audit log, and disabling or re-enabling a user."""

from __future__ import annotations

import sys
from datetime import datetime, timedelta

import click

from workbench.accounts import audit, users
from workbench.cli.common import acting, as_option, emit, json_option, reading


@click.group()
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
    emit(row, as_json, f"Added {row['username']} ({', '.join(row['roles'])}) to "
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
    emit([{k: r[k] for k in ("username", "email", "organization", "roles", "is_active",
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
    emit(row, as_json, f"{row['username']} is now {', '.join(row['roles'])}.")


@click.command("audit")
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
    emit(rows, as_json, "\n".join(lines) or "No changes recorded in that period.")


def _set_active(username: str, as_user: str, as_json: bool, active: bool) -> None:
    with acting(as_user, write=True) as (ctx, con):
        users.set_active(ctx, con, username, active)
    state = "enabled" if active else "disabled"
    emit({"username": username, "is_active": active}, as_json, f"{username} is {state}.")


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
