"""Organisation API keys: shown once at creation, stored as a hash, revocable; every change audited."""

from __future__ import annotations

import hashlib
import secrets

import duckdb

from workbench.accounts import audit
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import AuthFailed, InvalidInput, NotFound

API_KEY_PREFIX = "wbk_"


def _key_hash(key: str) -> str:
    # API keys are 256-bit random secrets, so a fast hash is safe; argon2 is for low-entropy input.
    return hashlib.sha256(key.encode()).hexdigest()


def create_api_key(ctx: Context, con: duckdb.DuckDBPyConnection, name: str) -> dict:
    """Create an organisation API key. The returned `key` is shown once and never stored."""
    ctx.require("keys:manage")
    if not name.strip():
        raise InvalidInput("Give the API key a name, e.g. 'support-bot'.")
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    with atomic(con):
        row = fetch_one(con, "INSERT INTO api_keys (org_id, name, key_prefix, key_hash, created_by)"
                             " VALUES (?, ?, ?, ?, ?) RETURNING uuid::VARCHAR AS uuid",
                        [ctx.org_id, name.strip(), key[:10], _key_hash(key), ctx.user_id])
        audit.record(ctx, con, "key.create", f"{name.strip()} ({key[:10]}…)")
    return {"uuid": row["uuid"], "name": name.strip(), "key": key, "prefix": key[:10]}


def list_api_keys(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's API keys (never the secret)."""
    ctx.require("keys:manage")
    return fetch_dicts(con, "SELECT uuid::VARCHAR AS uuid, name, key_prefix AS prefix, created_at,"
                            " last_used_at, revoked_at FROM api_keys WHERE org_id = ?"
                            " ORDER BY created_at", [ctx.org_id])


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


def verify_api_key(con: duckdb.DuckDBPyConnection, key: str) -> dict:
    """The organisation a live key belongs to; records its use. Raises AuthFailed otherwise."""
    row = fetch_one(con, "SELECT k.id, k.revoked_at, o.id AS org_id, o.uuid::VARCHAR AS org_uuid,"
                         " o.name AS org_name FROM api_keys k JOIN organizations o"
                         " ON o.id = k.org_id WHERE k.key_hash = ?", [_key_hash(key)])
    if row is None or row["revoked_at"] is not None:
        raise AuthFailed("Invalid or revoked API key.")
    con.execute("UPDATE api_keys SET last_used_at = current_localtimestamp() WHERE id = ?",
                [row["id"]])
    return {"org_id": row["org_id"], "org_uuid": row["org_uuid"], "org_name": row["org_name"]}
