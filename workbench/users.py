"""Organisations, users, their roles and projects."""

from __future__ import annotations

import re

import duckdb

from workbench import audit, auth, prompts, relations
from workbench.auth import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotAllowed, NotFound

ROLES = ("admin", "data_scientist", "analyst", "manager", "viewer")
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{1,39}$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def slugify(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "org"


def create_organization(con: duckdb.DuckDBPyConnection, name: str, **profile: str | None) -> int:
    """Create a tenant (an operator action: `workbench init` and the demo call it)."""
    name = name.strip()
    if not name:
        raise InvalidInput("An organisation needs a name.")
    if fetch_one(con, "SELECT 1 FROM organizations WHERE name = ?", [name]):
        raise InvalidInput(f"An organisation named {name!r} already exists.")
    allowed = {"business_description", "address", "phone_number", "website"}
    extra = {k: v for k, v in profile.items() if k in allowed}
    cols = ", ".join(["name", "slug", *extra])
    marks = ", ".join("?" * (2 + len(extra)))
    row = con.execute(f"INSERT INTO organizations ({cols}) VALUES ({marks}) RETURNING id",
                      [name, slugify(name), *extra.values()]).fetchone()
    prompts.ensure_defaults(con, row[0])
    return row[0]


PROFILE = ("name", "business_description", "address", "phone_number", "website")


def organization(ctx: Context, con: duckdb.DuckDBPyConnection) -> dict:
    """The acting user's organisation and its business profile (seed 003), with its owner's username."""
    return fetch_one(
        con,
        "SELECT o.uuid::VARCHAR AS uuid, o.name, o.slug, o.business_description, o.address,"
        " o.phone_number, o.website, u.username AS owner, o.created_at FROM organizations o"
        " LEFT JOIN users u ON u.id = o.owner_user_id WHERE o.id = ?",
        [ctx.org_id],
    )


def update_organization(ctx: Context, con: duckdb.DuckDBPyConnection, *, owner: str | None = None,
                        **profile: str | None) -> dict:
    """Edit the business profile (seed 003: name, description, address, phone, website, owner).
    Empty fields are cleared; the name stays required and unique."""
    ctx.require("org:manage")
    if unknown := set(profile) - set(PROFILE):
        raise InvalidInput(f"Unknown profile fields: {', '.join(sorted(unknown))}.")
    before = organization(ctx, con)
    values = {k: (v or "").strip() or None for k, v in profile.items()}
    if "name" in values:
        if not values["name"]:
            raise InvalidInput("An organisation needs a name.")
        taken = "SELECT 1 FROM organizations WHERE name = ? AND id <> ?"
        if fetch_one(con, taken, [values["name"], ctx.org_id]):
            raise InvalidInput(f"An organisation named {values['name']!r} already exists.")
    if owner:
        values["owner_user_id"] = _user_id_in_org(ctx, con, owner)
    changed = {k: v for k, v in values.items() if before.get(k) != v}
    if owner and before["owner"] == owner:
        changed.pop("owner_user_id", None)
    if not changed:
        return before
    with atomic(con):
        con.execute(f"UPDATE organizations SET {', '.join(f'{k} = ?' for k in changed)} WHERE id = ?",
                    [*changed.values(), ctx.org_id])
        fields = {("owner" if k == "owner_user_id" else k): (owner if k == "owner_user_id" else v)
                  for k, v in changed.items()}
        audit.record(ctx, con, "org.profile", before["name"], **fields)
    return organization(ctx, con)


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


def _user_id_in_org(ctx: Context, con, username: str) -> int:
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
    user_id = _user_id_in_org(ctx, con, username)
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
    user_id = _user_id_in_org(ctx, con, username)
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
    user_id = _user_id_in_org(ctx, con, username)
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


def delete_user(ctx: Context, con: duckdb.DuckDBPyConnection, username: str, *, settings=None,
                vectors=None) -> dict[str, int]:
    """Delete a user and what seed 004 cascades (conversations, documents, roles), in one
    transaction; with a vector store and settings, their documents' vectors and files go too."""
    from workbench import documents

    ctx.require("users:manage")
    user_id = _user_id_in_org(ctx, con, username)
    if user_id == ctx.user_id:
        raise InvalidInput("You cannot delete yourself.")
    with atomic(con):
        purged = documents.purge_owned_by(con, settings, vectors, user_id)
        deleted = relations.delete_cascade(con, "users", "id = ?", [user_id])
        audit.record(ctx, con, "user.delete", username, rows=sum(deleted.values()))
    for table, n in purged.items():
        deleted[table] = deleted.get(table, 0) + n
    return deleted


def project_id_of(ctx: Context, con: duckdb.DuckDBPyConnection, project: str | None) -> int | None:
    """The id of a project of the user's organisation, by name or UUID (the user's own first)."""
    if not project:
        return None
    rows = con.execute(
        "SELECT id, owner_id FROM projects WHERE org_id = ? AND (name = ? OR uuid::VARCHAR = ?)"
        " ORDER BY owner_id = ? DESC",
        [ctx.org_id, project, project, ctx.user_id],
    ).fetchall()
    if not rows:
        raise NotFound(f"No project {project!r} in your organisation.")
    return rows[0][0]


def list_projects(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """Projects of the organisation."""
    ctx.require("projects:read")
    return fetch_dicts(con, "SELECT p.uuid::VARCHAR AS uuid, p.name, p.description,"
                            " u.username AS owner, p.created_at FROM projects p"
                            " JOIN users u ON u.id = p.owner_id WHERE p.org_id = ?"
                            " ORDER BY p.name", [ctx.org_id])


def create_project(ctx: Context, con: duckdb.DuckDBPyConnection, name: str,
                   description: str | None = None) -> dict:
    """A project owned by the acting user; names are unique per owner (seed 000)."""
    ctx.require("projects:write")
    name = name.strip()
    if not name:
        raise InvalidInput("A project needs a name.")
    if fetch_one(con, "SELECT 1 FROM projects WHERE owner_id = ? AND name = ?",
                 [ctx.user_id, name]):
        raise InvalidInput(f"You already have a project named {name!r}.")
    return fetch_one(con, "INSERT INTO projects (org_id, owner_id, name, description)"
                          " VALUES (?, ?, ?, ?) RETURNING uuid::VARCHAR AS uuid, name",
                     [ctx.org_id, ctx.user_id, name, description])
