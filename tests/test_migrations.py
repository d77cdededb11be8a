"""The migration runner: exact schema, idempotence, rollback, and seed 003's template move."""

import json
import shutil
from pathlib import Path

import duckdb
import pytest

from workbench import db

SNAPSHOT = Path(__file__).parent / "schema_snapshot.json"


def schema(con) -> dict[str, list[str]]:
    rows = con.execute("SELECT table_name, column_name FROM information_schema.columns"
                       " WHERE table_schema = 'main' ORDER BY table_name, ordinal_position"
                       ).fetchall()
    out: dict[str, list[str]] = {}
    for table, column in rows:
        out.setdefault(table, []).append(column)
    return out


def test_blank_database_gets_exactly_the_unified_schema():
    con = duckdb.connect()
    db.migrate(con)
    assert schema(con) == json.loads(SNAPSHOT.read_text())


def test_every_table_of_the_design_mapping_exists():
    con = duckdb.connect()
    db.migrate(con)
    tables = set(schema(con))
    for name in ["organizations", "users", "roles", "permissions", "user_roles",
                 "role_permissions", "api_keys", "projects", "calls", "utterances", "qa_pairs",
                 "datasets", "documents", "document_chunks", "git_repositories", "code_files",
                 "conversations", "messages", "agent_logs", "llm_calls", "agents", "templates",
                 "stages", "prompt_templates", "analytics_results", "model_artifacts",
                 "model_stage_transitions", "usage_stats"]:
        assert name in tables, name
    views = {r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal")
             .fetchall()}
    assert "usage_stats" in views


def test_token_usage_indexes_of_seed_004():
    con = duckdb.connect()
    db.migrate(con)
    indexed = {r[0] for r in con.execute(
        "SELECT expressions FROM duckdb_indexes() WHERE table_name = 'llm_calls'").fetchall()}
    for column in ["user_id", "conversation_id", "message_id", "provider", "operation_type",
                   "created_at"]:
        assert f"[{column}]" in indexed


def test_second_run_does_nothing():
    con = duckdb.connect()
    first = db.migrate(con)
    assert first and db.migrate(con) == []
    assert con.execute("SELECT count(*) FROM schema_migrations").fetchone()[0] == len(first)


def test_failing_migration_rolls_back_completely(tmp_path):
    for path in db.SQL_DIR.glob("*.sql"):
        shutil.copy(path, tmp_path)
    (tmp_path / "900_broken.sql").write_text(
        "CREATE TABLE half_done (id INTEGER);\n"
        "INSERT INTO roles (name) VALUES ('ghost');\n"
        "SELECT * FROM no_such_table;\n")
    con = duckdb.connect()
    with pytest.raises(db.MigrationError, match="900_broken.sql"):
        db.migrate(con, tmp_path)
    assert "half_done" not in schema(con)
    assert con.execute("SELECT count(*) FROM roles WHERE name = 'ghost'").fetchone()[0] == 0
    assert "900" not in {r[0] for r in con.execute("SELECT version FROM schema_migrations")
                         .fetchall()}
    assert "001" in {r[0] for r in con.execute("SELECT version FROM schema_migrations").fetchall()}


def test_prompt_templates_move_into_templates_per_organisation(tmp_path):
    shutil.copy(db.SQL_DIR / "001_core.sql", tmp_path)
    con = duckdb.connect()
    db.migrate(con, tmp_path)
    con.execute("INSERT INTO organizations (name, slug) VALUES ('A', 'a'), ('B', 'b')")
    con.execute("INSERT INTO prompt_templates VALUES"
                " ('legacy-1', 'Pick the next stage for: {message}', 'stage picker',"
                "  ['message'], 'Stage picker', 'stage_selection'),"
                " ('legacy-2', 'Answer politely: {question}', NULL, ['question'], NULL, NULL)")
    applied = db.migrate(con)
    assert "002_cleanup_template_tables.sql" in applied
    rows = con.execute("SELECT o.name, t.name, t.template_type, t.content, t.variables,"
                       " t.legacy_template_id FROM templates t JOIN organizations o"
                       " ON o.id = t.org_id ORDER BY 1, 2").fetchall()
    assert rows == [
        ("A", "Stage picker", "stage_selection", "Pick the next stage for: {message}",
         ["message"], "legacy-1"),
        ("A", "legacy-2", "stage_selection", "Answer politely: {question}", ["question"],
         "legacy-2"),
        ("B", "Stage picker", "stage_selection", "Pick the next stage for: {message}",
         ["message"], "legacy-1"),
        ("B", "legacy-2", "stage_selection", "Answer politely: {question}", ["question"],
         "legacy-2"),
    ]
    assert con.execute("SELECT count(*) FROM prompt_templates").fetchone()[0] == 0
