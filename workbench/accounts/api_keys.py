"""Organisation API keys: shown once at creation, stored as a hash, revocable; every change audited.

A key acts as the user who created it, with a role chosen at creation: a request may do what both
the role and the creator may do now, so a key never holds more than its creator, a creator's lost
right is the key's too, and a disabled or deleted creator (or organisation) stops the key at once.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import replace
from datetime import datetime

import duckdb

from workbench.accounts import audit, auth, users
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import AuthFailed, InvalidInput, NotAllowed, NotFound

API_KEY_PREFIX = "wbk_"
# the users' roles, and one for an LLM application that only reports its calls (usage:ingest)
KEY_ROLES = (*users.ROLES, "reporter")
INVALID_KEY = "Invalid or revoked API key."
LAST_USED_EVERY_S = 60  # last use is written at most once a minute a key: a read stays a read


def _key_hash(key: str) -> str:
    # API keys are 256-bit random secrets, so a fast hash is safe; argon2 is for low-entropy input.
    return hashlib.sha256(key.encode()).hexdigest()


def role_permissions(con: duckdb.DuckDBPyConnection, role: str) -> frozenset[str]:
    rows = con.execute("SELECT p.name FROM role_permissions rp JOIN roles r ON r.id = rp.role_id"
                       " JOIN permissions p ON p.id = rp.permission_id WHERE r.name = ?", [role]).fetchall()
    return frozenset(r[0] for r in rows)


def create_api_key(ctx: Context, con: duckdb.DuckDBPyConnection, name: str, role: str = "viewer") -> dict:
    """Create an organisation API key acting as `ctx`'s user with `role` (never more than the
    user may do). The returned `key` is shown once and never stored."""
    ctx.require("keys:manage")
    if not name.strip():
        raise InvalidInput("Give the API key a name, e.g. 'support-bot'.")
    if role not in KEY_ROLES:
        raise InvalidInput(f"Unknown role {role!r} for a key. Roles: {', '.join(KEY_ROLES)}.")
    beyond = sorted(p for p in role_permissions(con, role) if not ctx.can(p))
    if beyond:
        raise NotAllowed(f"A key with the role {role} could do what you may not ({', '.join(beyond)}):"
                         " choose a role within your own.")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with atomic(con):
        row = fetch_one(con, "INSERT INTO api_keys (org_id, name, key_prefix, key_hash, created_by, role)"
                             " VALUES (?, ?, ?, ?, ?, ?) RETURNING uuid::VARCHAR AS uuid",
                        [ctx.org_id, name.strip(), key[:10], _key_hash(key), ctx.user_id, role])
        audit.record(ctx, con, "key.create", f"{name.strip()} ({key[:10]}…)", role=role)
    return {"uuid": row["uuid"], "name": name.strip(), "key": key, "prefix": key[:10], "role": role}


def list_api_keys(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's API keys (never the secret)."""
    ctx.require("keys:manage")
    return fetch_dicts(con, "SELECT k.uuid::VARCHAR AS uuid, k.name, k.key_prefix AS prefix, k.role,"
                            " u.username AS created_by, k.created_at, k.last_used_at, k.revoked_at"
                            " FROM api_keys k LEFT JOIN users u ON u.id = k.created_by"
                            " WHERE k.org_id = ? ORDER BY k.created_at, k.id", [ctx.org_id])


def revoke_api_key(ctx: Context, con: duckdb.DuckDBPyConnection, key_uuid: str) -> None:
    """Revoke a key of the acting user's organisation."""
    ctx.require("keys:manage")
    row = fetch_one(con, "SELECT id, name, key_prefix, revoked_at FROM api_keys"
                         " WHERE uuid::VARCHAR = ? AND org_id = ?", [key_uuid, ctx.org_id])
    if row is None:  # one answer for an unknown key and another organisation's
        raise NotFound(f"No API key {key_uuid}.")
    if row["revoked_at"] is not None:
        return
    with atomic(con):
        con.execute("UPDATE api_keys SET revoked_at = current_localtimestamp() WHERE id = ?",
                    [row["id"]])
        audit.record(ctx, con, "key.revoke", f"{row['name']} ({row['key_prefix']}…)")


def verify_api_key(con: duckdb.DuckDBPyConnection, key: str) -> Context:
    """The context a live key acts with: its creator as they are now, limited to the key's role.
    Records its use (at most once a minute). Raises AuthFailed for an unknown or revoked key, a
    creator who is disabled or deleted and an organisation that is disabled, all in one message."""
    row = fetch_one(con, "SELECT k.id, k.key_prefix, k.role, k.last_used_at, u.username"
                         " FROM api_keys k JOIN users u ON u.id = k.created_by AND u.org_id = k.org_id"
                         " WHERE k.key_hash = ? AND k.revoked_at IS NULL", [_key_hash(key or "")])
    if row is None:
        raise AuthFailed(INVALID_KEY)
    try:
        creator = auth.context_for(con, row["username"])
    except (AuthFailed, NotFound):
        raise AuthFailed(INVALID_KEY) from None
    allowed = frozenset(p for p in role_permissions(con, row["role"] or "viewer") if creator.can(p))
    used = row["last_used_at"]
    if used is None or (datetime.now() - used).total_seconds() > LAST_USED_EVERY_S:
        try:
            con.execute("UPDATE api_keys SET last_used_at = current_localtimestamp() WHERE id = ?",
                        [row["id"]])
        except duckdb.TransactionException:
            pass  # another request of the key is recording its use at this moment
    return replace(creator, roles=frozenset({row["role"]}), permissions=allowed,
                   via=f"key {row['key_prefix']}")
