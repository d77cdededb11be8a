"""Organisations, users, their roles and projects."""

from __future__ import annotations

import re

import duckdb

from workbench.accounts import audit, auth
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotAllowed, NotFound

ROLES = ("admin", "data_scientist", "analyst", "manager", "viewer")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def _check_new_user(con, username: str, email: str, role: str) -> None:
    if not _USERNAME.match(username):
        raise InvalidInput(f"Username {username!r} must be 2-40 characters: lower-case letters, "
                           "digits, '.', '_' or '-'.")
    if not _EMAIL.match(email):
        raise InvalidInput(f"{email!r} is not an email address.")
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}. Roles: {', '.join(ROLES)}.")
    if fetch_one(con, "SELECT 1 FROM users WHERE username = ?", [username]):
        raise InvalidInput(f"The username {username!r} is taken.")
    if fetch_one(con, "SELECT 1 FROM users WHERE lower(email) = lower(?)", [email]):
        raise InvalidInput(f"The email {email!r} is already registered.")


def insert_user(con: duckdb.DuckDBPyConnection, org_id: int, username: str, email: str,
                password_hash: str, role: str, full_name: str | None = None,
                plan: str = "free") -> int:
    """Insert a user with one role; the caller has checked the permission."""
    _check_new_user(con, username, email, role)
    user_id = con.execute(
        "INSERT INTO users (org_id, username, email, password_hash, full_name, plan)"
        " VALUES (?, ?, ?, ?, ?, ?) RETURNING id",
        [org_id, username, email, password_hash, full_name, plan]).fetchone()[0]
    con.execute("INSERT INTO user_roles SELECT ?, id FROM roles WHERE name = ?", [user_id, role])
    return user_id


def add_user(ctx: Context, con: duckdb.DuckDBPyConnection, username: str, email: str,
             password: str, role: str = "viewer", full_name: str | None = None) -> dict:
    """Create a user in the acting admin's organisation."""
    ctx.require("users:manage")
    if role == "admin" and not ctx.can("admin:full"):
        raise NotAllowed("Only an admin may create another admin.")
    username = auth.normalise_username(username)
    with atomic(con):
        user_id = insert_user(con, ctx.org_id, username, email.strip(),
                              auth.hash_password(password), role, full_name)
        audit.record(ctx, con, "user.add", username, email=email.strip(), role=role)
    return get_user(ctx, con, user_id=user_id)


def get_user(ctx: Context, con: duckdb.DuckDBPyConnection, *, user_id: int | None = None,
             username: str | None = None) -> dict:
    """One user of the acting user's organisation."""
    ctx.require("users:manage")
    row = fetch_one(con, _USER_SQL + " WHERE u.org_id = ? AND (u.id = ? OR u.username = ?)"
                    " GROUP BY ALL", [ctx.org_id, user_id, username])
    if row is None:
        raise NotFound(f"No user {username or user_id!r} in {ctx.org_name}.")
    return row


_USER_SQL = (
    "SELECT u.uuid::VARCHAR AS uuid, u.username, u.email, u.full_name, o.name AS organization,"
    " list(r.name ORDER BY r.name) FILTER (WHERE r.name IS NOT NULL) AS roles, u.plan,"
    " u.is_active, u.last_login, u.created_at"
    " FROM users u JOIN organizations o ON o.id = u.org_id"
    " LEFT JOIN user_roles ur ON ur.user_id = u.id LEFT JOIN roles r ON r.id = ur.role_id"
)


def list_users(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Users of the acting user's organisation with their roles."""
    ctx.require("users:manage")
    return fetch_dicts(con, _USER_SQL + " WHERE u.org_id = ? GROUP BY ALL ORDER BY u.username",
                       [ctx.org_id])


def user_id_in_org(ctx: Context, con, username: str) -> int:
    row = fetch_one(con, "SELECT id FROM users WHERE username = ? AND org_id = ?",
                    [auth.normalise_username(username), ctx.org_id])
    if row is None:
        raise NotFound(f"No user {username!r} in {ctx.org_name}.")
    return row["id"]


def set_role(ctx: Context, con: duckdb.DuckDBPyConnection, username: str, role: str) -> dict:
    """Replace a user's roles with one role."""
    ctx.require("users:manage")
    if role not in ROLES:
        raise InvalidInput(f"Unknown role {role!r}. Roles: {', '.join(ROLES)}.")
    if role == "admin" and not ctx.can("admin:full"):
        raise NotAllowed("Only an admin may grant the admin role.")
    user_id = user_id_in_org(ctx, con, username)
    if user_id == ctx.user_id and role != "admin" and "admin" in ctx.roles:
        raise InvalidInput("You cannot remove your own admin role; ask another admin.")
    before = get_user(ctx, con, user_id=user_id)["roles"]
    with atomic(con):
        con.execute("DELETE FROM user_roles WHERE user_id = ?", [user_id])
        con.execute("INSERT INTO user_roles SELECT ?, id FROM roles WHERE name = ?", [user_id, role])
        if before != [role]:
            audit.record(ctx, con, "user.role", username, before=before, after=[role])
    return get_user(ctx, con, user_id=user_id)


def set_active(ctx: Context, con: duckdb.DuckDBPyConnection, username: str, active: bool) -> None:
    """Disable or re-enable a user (a reversible alternative to deleting)."""
    ctx.require("users:manage")
    user_id = user_id_in_org(ctx, con, username)
    if user_id == ctx.user_id and not active:
        raise InvalidInput("You cannot disable yourself.")
    was = con.execute("SELECT is_active FROM users WHERE id = ?", [user_id]).fetchone()[0]
    if was == active:
        return
    with atomic(con):
        con.execute("UPDATE users SET is_active = ?, updated_at = current_localtimestamp()"
                    " WHERE id = ?", [active, user_id])
        audit.record(ctx, con, "user.enable" if active else "user.disable", username)


def reset_password(ctx: Context, con: duckdb.DuckDBPyConnection, username: str,
                   password: str) -> None:
    """An admin sets another user's password and lifts any login lock; that user's open sessions
    end at their next click. One's own password is changed with `change_password`."""
    ctx.require("users:manage")
    user_id = user_id_in_org(ctx, con, username)
    if user_id == ctx.user_id:
        raise InvalidInput("To change your own password, use My account: it asks for the current one.")
    with atomic(con):
        _set_password(con, user_id, password)
        audit.record(ctx, con, "user.password", username, by="admin reset")


def change_password(ctx: Context, con: duckdb.DuckDBPyConnection, current: str, new: str) -> Context:
    """Change the acting user's own password, given the current one. Returns the context for the
    session that made the change; the user's other sessions end at their next click."""
    stored = con.execute("SELECT password_hash FROM users WHERE id = ?", [ctx.user_id]).fetchone()
    if stored is None or not auth.verify_password(current or "", stored[0]):
        raise InvalidInput("The current password is not right, so the password was not changed.")
    with atomic(con):
        _set_password(con, ctx.user_id, new)
        audit.record(ctx, con, "user.password", ctx.username, by="self")
    return auth.context_for(con, ctx.username)


def _set_password(con: duckdb.DuckDBPyConnection, user_id: int, password: str) -> None:
    con.execute("UPDATE users SET password_hash = ?, failed_logins = 0, locked_until = NULL,"
                " updated_at = current_localtimestamp() WHERE id = ?",
                [auth.hash_password(password), user_id])


