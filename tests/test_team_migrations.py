"""A team database made by an older release is brought up to this release's schema by `workbench
init` (`teamdb.create`): its rows kept, the result the same as a new database's, all in one
PostgreSQL transaction. A migration that would lose data, or a database made by a newer release,
is refused with nothing changed. Runs on the team profile's suite (WORKBENCH_TEST_PROFILE=team)."""

from __future__ import annotations

import shutil
import uuid
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import PROFILE
from workbench import db, teamdb

pytestmark = pytest.mark.skipif(PROFILE != "team", reason="the team database (WORKBENCH_TEST_PROFILE=team)")


def lake_in(tmp_path: Path) -> str:  # where a new database's lake keeps its files
    return str(tmp_path / "lake")


def empty_database(postgres) -> str:
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return postgres.url(name)


def migrations(folder: Path, last: str, extra: str | None = None) -> Path:
    """The release's migrations up to `last`, and an `extra` one after them."""
    folder.mkdir()
    for path in sorted(db.SQL_DIR.glob("[0-9][0-9][0-9]_*.sql")):
        if path.stem.split("_", 1)[0] <= last:
            shutil.copy(path, folder)
    if extra:
        (folder / "999_extra.sql").write_text(extra)
    return folder


def schema(url: str) -> dict:
    with psycopg.connect(url) as con:
        return {
            "columns": sorted(con.execute(
                "SELECT table_name, column_name, data_type, column_default, is_nullable"
                " FROM information_schema.columns WHERE table_schema = 'public'").fetchall()),
            "indexes": sorted(r[0] for r in con.execute(
                "SELECT indexdef FROM pg_indexes WHERE schemaname = 'public'")),
            "views": sorted(r[0] for r in con.execute(
                "SELECT table_name FROM information_schema.views WHERE table_schema = 'public'")),
            "sequences": sorted(r[0] for r in con.execute(
                "SELECT sequence_name FROM information_schema.sequences WHERE sequence_schema = 'public'")),
            "roles": sorted(con.execute(
                "SELECT r.name, p.name FROM roles r JOIN role_permissions rp ON rp.role_id = r.id"
                " JOIN permissions p ON p.id = rp.permission_id").fetchall()),
        }


def test_an_older_team_database_is_brought_up_to_this_release_keeping_its_rows(postgres, tmp_path):
    url = empty_database(postgres)
    assert teamdb.create(url, migrations(tmp_path / "old", "014"), lake_path=lake_in(tmp_path))[-1] == "014"
    with psycopg.connect(url) as con:  # a key made before the API's roles (015): it reads only
        org = con.execute("INSERT INTO organizations (name, slug) VALUES (%s, %s) RETURNING id",
                          ["Old", "old"]).fetchone()
        con.execute("INSERT INTO api_keys (org_id, name, key_prefix, key_hash) VALUES (%s, 'k', 'wb_', 'h')",
                    org)
    assert teamdb.create(url, lake_path=lake_in(tmp_path)) == ["015", "016"]
    with psycopg.connect(url) as con:
        assert con.execute("SELECT role FROM api_keys").fetchall() == [("viewer",)]
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == ("016",)
    fresh = empty_database(postgres)
    teamdb.create(fresh, lake_path=lake_in(tmp_path))
    assert schema(url) == schema(fresh)  # the same columns, defaults, indexes, views, role rights
    assert teamdb.create(url, lake_path=lake_in(tmp_path)) == []  # nothing left to do


def test_a_migration_that_adds_a_table_a_column_an_index_and_a_view_is_applied(postgres, tmp_path):
    url = empty_database(postgres)
    teamdb.create(url, lake_path=lake_in(tmp_path))
    extra = (
        "CREATE SEQUENCE notes_id_seq;"
        "CREATE TABLE notes (id INTEGER PRIMARY KEY DEFAULT nextval('notes_id_seq'), body JSON,"
        " score DOUBLE, created_at TIMESTAMP NOT NULL DEFAULT current_localtimestamp());"
        "CREATE INDEX idx_notes_score ON notes (score);"
        "ALTER TABLE projects ADD COLUMN colour VARCHAR DEFAULT 'blue';"
        "ALTER TABLE projects ADD COLUMN settings JSON;"
        "CREATE VIEW project_colours AS SELECT name, colour FROM projects;"
        "INSERT INTO notes (body, score) VALUES ('{\"a\": 1}', 0.5);"
    )
    sql = migrations(tmp_path / "new", "999", extra)
    assert teamdb.create(url, sql, lake_path=lake_in(tmp_path)) == ["999"]
    with psycopg.connect(url) as con:
        assert con.execute("SELECT body, score FROM notes").fetchall() == [('{"a": 1}', 0.5)]
        assert con.execute("SELECT count(*) FROM project_colours").fetchone() == (0,)
        checks = con.execute("SELECT conrelid::regclass::text FROM pg_constraint WHERE contype = 'c'"
                             " AND pg_get_constraintdef(oid) LIKE '%json%'").fetchall()
        assert {("notes",), ("projects",)} <= set(checks)  # JSON stays text that must parse
        with pytest.raises(psycopg.errors.DataError, match="json"):
            con.execute("INSERT INTO notes (body) VALUES ('not json')")
    fresh = empty_database(postgres)
    teamdb.create(fresh, sql, lake_path=lake_in(tmp_path))
    assert schema(url) == schema(fresh)


@pytest.mark.parametrize("extra", [
    "ALTER TABLE usage_daily DROP COLUMN cached_tokens;",
    "ALTER TABLE usage_daily ALTER COLUMN calls TYPE VARCHAR;",
    "DROP TABLE saved_queries;",
    "DELETE FROM usage_daily WHERE day < DATE '2000-01-01';",  # a lake table it does not make
    "SELECT * FROM no_such_table;",
    # fine on the migrations' own rows, refused by the team database's: two organisations, one name
    "ALTER TABLE roles ADD COLUMN colour VARCHAR; INSERT INTO roles (name) VALUES ('new');"
    " UPDATE organizations SET name = 'same';",
])
def test_a_migration_that_would_lose_data_or_fails_changes_nothing(postgres, tmp_path, extra):
    url = empty_database(postgres)
    teamdb.create(url, lake_path=lake_in(tmp_path))
    with psycopg.connect(url) as con:
        con.execute("INSERT INTO organizations (name, slug) VALUES ('One', 'one'), ('Two', 'two')")
    before = schema(url)
    with pytest.raises(db.MigrationError, match="999_extra.sql"):
        teamdb.create(url, migrations(tmp_path / "new", "999", extra), lake_path=lake_in(tmp_path))
    assert schema(url) == before
    with psycopg.connect(url) as con:
        assert con.execute("SELECT max(version) FROM schema_migrations").fetchone() == ("016",)


def lake_of(url: str) -> duckdb.DuckDBPyConnection:
    con = duckdb.connect(":memory:")
    teamdb._attach(con, url)
    teamdb._attach_lake(con, url)
    return con


def test_the_rollups_a_migration_adds_to_the_lake_are_filled_from_the_lakes_rows(postgres, tmp_path):
    url = empty_database(postgres)
    assert teamdb.create(url, migrations(tmp_path / "old", "015"), lake_path=lake_in(tmp_path))[-1] == "015"
    lake = lake_of(url)  # the release before wrote usage_daily only
    lake.execute(f"INSERT INTO {teamdb.LAKE}.usage_daily SELECT DATE '2026-11-01' + (i % 10)::INTEGER,"
                 " 1 + i % 2, i % 3, i % 7, 'openai', 'gpt-4.1', 'chat', 2, 1, 0, 10, 5, 0, 0, 15, 0.5,"
                 " 0, 0, 100, 1 FROM range(90) t(i)")
    sums = "sum(calls), sum(cost_usd) FROM {} GROUP BY ALL ORDER BY ALL"
    by_model = f"SELECT day, org_id, provider, model, {sums}"
    by_people = f"SELECT day, org_id, project_id, user_id, {sums}"
    want = [lake.execute(sql.format(f"{teamdb.LAKE}.usage_daily")).fetchall()
            for sql in (by_model, by_people)]
    lake.close()
    teamdb.release_all()
    assert teamdb.create(url, lake_path=lake_in(tmp_path)) == ["016"]
    lake = lake_of(url)
    assert lake.execute(by_model.format(f"{teamdb.LAKE}.usage_model_daily")).fetchall() == want[0]
    assert lake.execute(by_people.format(f"{teamdb.LAKE}.usage_project_user_daily")).fetchall() == want[1]
    assert len(want[0]) == 10 and len(want[1]) == 90  # the days' and the people's keys
    lake.execute(f"DROP TABLE {teamdb.LAKE}.usage_model_daily")  # as if the lake's part had failed
    lake.close()
    teamdb.release_all()
    assert teamdb.create(url, lake_path=lake_in(tmp_path)) == []  # the next init makes and fills it
    lake = lake_of(url)
    assert lake.execute(by_model.format(f"{teamdb.LAKE}.usage_model_daily")).fetchall() == want[0]
    lake.close()
    with psycopg.connect(url) as con:  # in the lake only, and their merges are counted from nothing
        for table in ("usage_model_daily", "usage_project_user_daily"):
            assert con.execute(f"SELECT to_regclass('public.{table}')").fetchone() == (None,)
            assert con.execute("SELECT compacted_rows FROM usage_rollup_state WHERE table_name = %s",
                               [table]).fetchone() == (0,)


def test_a_database_made_by_a_newer_release_is_refused(postgres, tmp_path):
    url = empty_database(postgres)
    teamdb.create(url, migrations(tmp_path / "newer", "999", "CREATE TABLE later (id INTEGER);"),
                  lake_path=lake_in(tmp_path))
    with pytest.raises(db.MigrationError, match="newer release"):
        teamdb.create(url, lake_path=lake_in(tmp_path))
