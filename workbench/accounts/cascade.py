"""The links between tables, declared once: they drive cascading deletes and the orphan check.

DuckDB enforces FOREIGN KEYs but cannot delete a parent and its children in one transaction, nor
cascade. So the schema declares FOREIGN KEYs only towards rows never deleted (roles, permissions)
and every other link lives here: the service deletes children first, in one transaction, and
`orphans` proves nothing was left pointing at a missing row.
"""

from __future__ import annotations

from dataclasses import dataclass

import duckdb

from workbench.db import atomic


@dataclass(frozen=True)
class Link:
    child: str
    column: str
    parent: str
    on_delete: str  # "cascade": delete the child rows; "set_null": keep them, clear the link


LINKS = (
    Link("users", "org_id", "organizations", "cascade"),
    Link("api_keys", "org_id", "organizations", "cascade"),
    Link("projects", "org_id", "organizations", "cascade"),
    Link("datasets", "org_id", "organizations", "cascade"),
    Link("agents", "org_id", "organizations", "cascade"),
    Link("templates", "org_id", "organizations", "cascade"),
    Link("stages", "org_id", "organizations", "cascade"),
    Link("conversations", "org_id", "organizations", "cascade"),
    Link("documents", "org_id", "organizations", "cascade"),
    Link("git_repositories", "org_id", "organizations", "cascade"),
    Link("llm_calls", "org_id", "organizations", "cascade"),
    Link("analytics_results", "org_id", "organizations", "cascade"),
    Link("saved_queries", "org_id", "organizations", "cascade"),
    Link("model_artifacts", "org_id", "organizations", "cascade"),
    Link("audit_log", "org_id", "organizations", "cascade"),
    # seed 004: deleting a user deletes their conversations and documents and role links
    Link("user_roles", "user_id", "users", "cascade"),
    Link("projects", "owner_id", "users", "cascade"),
    Link("conversations", "user_id", "users", "cascade"),
    Link("documents", "uploaded_by_id", "users", "cascade"),
    Link("llm_calls", "user_id", "users", "cascade"),
    Link("analytics_results", "user_id", "users", "cascade"),
    Link("messages", "user_id", "users", "set_null"),
    Link("organizations", "owner_user_id", "users", "set_null"),
    Link("api_keys", "created_by", "users", "set_null"),
    Link("qa_pairs", "created_by", "users", "set_null"),
    Link("datasets", "created_by", "users", "set_null"),
    Link("git_repositories", "created_by", "users", "set_null"),
    Link("model_artifacts", "created_by", "users", "set_null"),
    Link("saved_queries", "user_id", "users", "cascade"),
    Link("model_stage_transitions", "changed_by", "users", "set_null"),
    Link("audit_log", "actor_id", "users", "set_null"),
    # seed 000: a project groups calls, utterances, QA pairs, datasets, documents
    Link("calls", "project_id", "projects", "cascade"),
    Link("intents", "project_id", "projects", "cascade"),
    Link("utterances", "project_id", "projects", "cascade"),
    Link("qa_pairs", "project_id", "projects", "cascade"),
    Link("datasets", "project_id", "projects", "cascade"),
    Link("documents", "project_id", "projects", "cascade"),
    Link("conversations", "project_id", "projects", "set_null"),
    Link("llm_calls", "project_id", "projects", "set_null"),
    Link("utterances", "call_id", "calls", "cascade"),
    Link("qa_pairs", "call_id", "calls", "set_null"),
    # seeds 001-004: conversations, messages, agent logs, metering links
    Link("messages", "conversation_id", "conversations", "cascade"),
    Link("documents", "conversation_id", "conversations", "cascade"),  # seed 002: chat uploads
    Link("llm_calls", "conversation_id", "conversations", "set_null"),
    Link("agent_logs", "message_id", "messages", "cascade"),
    Link("llm_calls", "message_id", "messages", "set_null"),
    Link("llm_calls", "agent_log_id", "agent_logs", "set_null"),
    # issue 6: the rollups follow their llm_calls rows (they SUM, so cleared keys may repeat;
    # a deleted conversation's calls leave the conversation rollup, as they leave the conversation)
    Link("usage_daily", "org_id", "organizations", "cascade"),
    Link("usage_daily", "user_id", "users", "cascade"),
    Link("usage_daily", "project_id", "projects", "set_null"),
    Link("usage_latency_daily", "org_id", "organizations", "cascade"),
    Link("usage_latency_daily", "user_id", "users", "cascade"),
    Link("usage_latency_daily", "project_id", "projects", "set_null"),
    Link("usage_model_daily", "org_id", "organizations", "cascade"),
    Link("usage_project_user_daily", "org_id", "organizations", "cascade"),
    Link("usage_project_user_daily", "user_id", "users", "cascade"),
    Link("usage_project_user_daily", "project_id", "projects", "set_null"),
    Link("usage_latency_model_daily", "org_id", "organizations", "cascade"),
    Link("usage_conversation_daily", "org_id", "organizations", "cascade"),
    Link("usage_conversation_daily", "user_id", "users", "cascade"),
    Link("usage_conversation_daily", "project_id", "projects", "set_null"),
    Link("usage_conversation_daily", "conversation_id", "conversations", "cascade"),
    Link("budgets", "org_id", "organizations", "cascade"),
    Link("model_prices", "org_id", "organizations", "cascade"),
    Link("budgets", "user_id", "users", "cascade"),
    Link("budgets", "project_id", "projects", "cascade"),
    Link("budgets", "created_by", "users", "set_null"),
    Link("document_chunks", "document_id", "documents", "cascade"),
    Link("code_files", "repo_id", "git_repositories", "cascade"),
    Link("document_chunks", "code_file_id", "code_files", "cascade"),
    # seed 003
    Link("stages", "agent_id", "agents", "set_null"),
    Link("conversations", "agent_id", "agents", "set_null"),
    Link("conversations", "stage_id", "stages", "set_null"),
    Link("stages", "stage_selection_template_id", "templates", "cascade"),
    Link("stages", "data_extraction_template_id", "templates", "cascade"),
    Link("stages", "response_generation_template_id", "templates", "cascade"),
    Link("model_stage_transitions", "model_artifact_id", "model_artifacts", "cascade"),
    Link("analytics_results", "model_artifact_id", "model_artifacts", "set_null"),
)


def delete_cascade(
    con: duckdb.DuckDBPyConnection, table: str, where: str, params: list | None = None
) -> dict[str, int]:
    """Delete rows of `table` matching `where` and everything that hangs off them, children
    first, all in one transaction. Returns the number of rows deleted per table. Rollups are the
    caller's: a delete of users' llm_calls rebuilds the rollups without users (documents.delete_user)."""
    counts: dict[str, int] = {}
    with atomic(con):
        _delete(con, table, where, list(params or []), counts)
    return counts


def _delete(con, table: str, where: str, params: list, counts: dict[str, int]) -> None:
    ids = f"SELECT id FROM {table} WHERE {where}"
    for link in LINKS:
        if link.parent != table:
            continue
        child_where = f"{link.column} IN ({ids})"
        if link.on_delete == "cascade":
            _delete(con, link.child, child_where, params, counts)
        else:
            con.execute(f"UPDATE {link.child} SET {link.column} = NULL WHERE {child_where}", params)
    deleted = con.execute(f"DELETE FROM {table} WHERE {where}", params).fetchone()[0]
    counts[table] = counts.get(table, 0) + deleted


def orphans(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    """Rows whose link points at a missing parent, per 'child.column'. Empty means consistent."""
    found = {}
    for link in LINKS:
        n = con.execute(
            f"SELECT count(*) FROM {link.child} c WHERE c.{link.column} IS NOT NULL AND NOT EXISTS"
            f" (SELECT 1 FROM {link.parent} p WHERE p.id = c.{link.column})"
        ).fetchone()[0]
        if n:
            found[f"{link.child}.{link.column}"] = n
    return found
