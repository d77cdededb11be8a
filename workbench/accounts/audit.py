"""The audit log: every administrative change, who made it and when, for the organisation's admins.

Service functions call `record` on the connection of their own write, so a change and its record
commit together or not at all. Model stage changes keep their own audit (model_stage_transitions,
with the metrics they were decided on); `events` shows both in one list.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import TYPE_CHECKING

import duckdb

from workbench.db import fetch_dicts

if TYPE_CHECKING:  # auth records key changes here
    from workbench.accounts.context import Context

# Keys a detail may never carry, whatever a caller passes: the log is exported and read widely.
SECRET_KEYS = {"password", "password_hash", "key", "key_hash", "api_key", "secret", "token"}

EVENTS_SQL = """
SELECT * EXCLUDE (seq) FROM (
    SELECT a.ts, a.id AS seq, a.actor, a.action, a.target, a.detail::VARCHAR AS detail
    FROM audit_log a WHERE a.org_id = ?
    UNION ALL
    SELECT t.created_at, t.id, coalesce(u.username, '(deleted user)'),
           'model.' || coalesce(t.action, 'stage'), m.name || ' v' || m.version,
           json_object('from', t.from_stage, 'to', t.to_stage, 'reason', t.reason)::VARCHAR
    FROM model_stage_transitions t JOIN model_artifacts m ON m.id = t.model_artifact_id
    LEFT JOIN users u ON u.id = t.changed_by WHERE m.org_id = ?
)
WHERE ts >= ? AND (? IS NULL OR action LIKE ? || '%') AND (? IS NULL OR actor = ?)
ORDER BY ts DESC, seq DESC LIMIT ?
"""


def _clean(detail: dict) -> dict:
    return {k: v for k, v in detail.items() if k.lower() not in SECRET_KEYS and v is not None}


def record(
    ctx: Context, con: duckdb.DuckDBPyConnection, action: str, target: str | None = None, **detail
) -> None:
    """Write one audit entry for the acting user, in the caller's transaction."""
    con.execute(
        "INSERT INTO audit_log (org_id, actor_id, actor, action, target, detail) VALUES (?, ?, ?, ?, ?, ?)",
        [ctx.org_id, ctx.user_id, ctx.actor, action, target, json.dumps(_clean(detail), default=str)],
    )


def events(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    *,
    since: date | datetime | None = None,
    action: str | None = None,
    actor: str | None = None,
    limit: int = 1000,
) -> list[dict]:
    """The organisation's audit entries, newest first: administrative changes and model stage
    changes. `action` filters by prefix (e.g. "user." or "key.revoke")."""
    ctx.require("admin:full")
    since = since or datetime(1970, 1, 1)
    action = action or None
    actor = actor or None
    return fetch_dicts(con, EVENTS_SQL, [ctx.org_id, ctx.org_id, since, action, action, actor, actor, limit])


def actions(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[str]:
    """The areas (user, key, org, ...) the organisation's log has entries for, for a filter."""
    ctx.require("admin:full")
    rows = con.execute(
        "SELECT DISTINCT split_part(action, '.', 1) FROM audit_log WHERE org_id = ? ORDER BY 1", [ctx.org_id]
    ).fetchall()
    return [r[0] for r in rows]
