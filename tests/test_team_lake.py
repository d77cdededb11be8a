"""The team profile keeps the usage rollups in a DuckLake (catalog in PostgreSQL, Parquet files
under the lake's path): what a transaction adds to them is applied when it commits, a rollback
leaves none, a conflicting concurrent commit is retried, and a database from the release that kept
them in PostgreSQL has its rows moved in. Runs on the team profile's suite (WORKBENCH_TEST_PROFILE=team)."""

from __future__ import annotations

import threading
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import duckdb
import psycopg
import pytest

from tests.conftest import PROFILE
from workbench import home, teamdb
from workbench.accounts import auth
from workbench.settings import PROFILE_FILE, Settings, write_profile
from workbench.usage import metering, rollup

pytestmark = pytest.mark.skipif(PROFILE != "team", reason="the team database (WORKBENCH_TEST_PROFILE=team)")


def rollup_rows(con, user_id: int) -> int:
    found = con.execute("SELECT coalesce(sum(calls), 0) FROM usage_daily WHERE user_id = ?", [user_id])
    return found.fetchone()[0]


def record(con, ctx, tokens: int = 100) -> int:
    return metering.record(con, metering.Call("openai", "gpt-4.1", "chat", prompt_tokens=tokens),
                           org_id=ctx.org_id, user_id=ctx.user_id, at=datetime(2026, 11, 20, 12))


def test_the_rollups_live_in_the_lake_and_not_in_postgresql(demo_copy):
    with home.open_store(demo_copy).connect() as con:
        where = dict(con.execute("SELECT table_name, database_name FROM duckdb_tables() WHERE table_name IN"
                                 f" ({', '.join('?' * len(rollup.TABLES))})", list(rollup.TABLES)).fetchall())
        assert where == dict.fromkeys(rollup.TABLES, teamdb.LAKE)
        assert set(teamdb.LAKE_TABLES) == set(rollup.TABLES)
        assert rollup.differences(con) == []  # the demo's rollups, copied into the lake
        # the view over them is DuckDB's own, in every process
        assert con.execute("SELECT count(*) FROM usage_stats WHERE total_tokens_used > 0").fetchone()[0] > 0
    with psycopg.connect(demo_copy.postgres_url) as pg:
        assert pg.execute("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'"
                          " AND table_name LIKE 'usage%daily'").fetchone()[0] == 0


def test_a_transactions_rollups_come_with_its_commit_and_go_with_its_rollback(demo_copy):
    store = home.open_store(demo_copy)
    with store.connect() as con:
        mike = auth.context_for(con, "mike")
        before = rollup_rows(con, mike.user_id)
    with pytest.raises(RuntimeError), store.transaction() as con:
        record(con, mike)
        raise RuntimeError("the caller fails after the call was metered")
    with store.connect() as con:
        assert rollup_rows(con, mike.user_id) == before
    with store.transaction() as con:
        for _ in range(3):
            record(con, mike)
    with store.connect() as con:
        assert rollup_rows(con, mike.user_id) == before + 3
        assert rollup.differences(con) == []


class CompactsMidCommit:
    """A cursor whose first lake commit after a transaction's PostgreSQL commit lets a compaction
    (another process's Usage page) delete the rollups' rows first: a real DuckLake conflict."""

    def __init__(self, cursor, store) -> None:
        self._cursor, self._store, self.commits = cursor, store, 0

    def __getattr__(self, name):
        return getattr(self._cursor, name)

    def commit(self):
        self.commits += 1
        if self.commits == 2:  # 1: PostgreSQL's; 2: the lake's first try
            done = threading.Thread(target=self._compact)
            done.start()
            done.join()
        return self._cursor.commit()

    def _compact(self):
        with self._store.connect() as other:
            assert rollup.compact(other, force=True) == len(rollup.TABLES)


def test_a_lake_commit_that_conflicts_with_a_concurrent_compaction_is_retried(demo_copy):
    store = home.open_store(demo_copy)
    with store.connect() as con:
        mike = auth.context_for(con, "mike")
        before = rollup_rows(con, mike.user_id)
        con._cursor = racing = CompactsMidCommit(con._cursor, store)
        record(con, mike, tokens=777)
        assert racing.commits == 3  # PostgreSQL's, the lake's conflicting try, the lake's retry
        con._cursor = racing._cursor
        assert rollup_rows(con, mike.user_id) == before + 1
        assert rollup.differences(con) == []


def test_writers_and_compactions_at_once_lose_no_call(demo_copy):
    store = home.open_store(demo_copy)
    with store.connect() as con:
        mike = auth.context_for(con, "mike")
        before = rollup_rows(con, mike.user_id)
    errors = []

    def write():
        try:
            with store.connect() as con:
                for _ in range(8):
                    record(con, mike)
        except Exception as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    def compact():
        with store.connect() as con:
            for _ in range(4):
                rollup.compact(con, force=True)

    threads = [threading.Thread(target=write) for _ in range(3)] + [threading.Thread(target=compact)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with store.connect() as con:
        assert rollup_rows(con, mike.user_id) == before + 24
        assert rollup.differences(con) == []


def test_an_older_team_databases_rollups_move_from_postgresql_into_the_lake(settings, tmp_path):
    store = home.open_store(settings)
    with store.transaction() as con:
        org = con.execute("INSERT INTO organizations (name, slug) VALUES ('Old', 'old') RETURNING id")
        con.execute("INSERT INTO usage_daily SELECT DATE '2026-11-01' + (i % 30)::INTEGER, ?, NULL, 1,"
                    " 'openai', 'gpt-4.1', 'chat', 1, 0, 0, 10, 5, 0, 0, 15, 0.5, 0, 0, 100, 1"
                    " FROM range(40) t(i)", [org.fetchone()[0]])
    with store.connect() as con:
        made = con.execute("SELECT sql FROM duckdb_tables() WHERE table_name = 'usage_daily'").fetchone()[0]
        rows = con.execute("SELECT * FROM usage_daily ORDER BY ALL").fetchall()
    assert len(rows) == 40
    teamdb.release_all()
    # the release before: the rollup in PostgreSQL's public schema, no lake
    with psycopg.connect(settings.postgres_url) as pg:
        pg.execute("DROP SCHEMA ducklake CASCADE")
        pg.execute(teamdb.translate_table(made))
        with pg.cursor().copy("COPY usage_daily FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
    assert teamdb.create(settings.postgres_url, lake_path=str(tmp_path / "new-lake")) == []
    with home.open_store(settings).connect() as con:
        assert con.execute("SELECT * FROM usage_daily ORDER BY ALL").fetchall() == rows
        assert con.execute("SELECT database_name FROM duckdb_tables() WHERE table_name = 'usage_daily'"
                           ).fetchone()[0] == teamdb.LAKE
    with psycopg.connect(settings.postgres_url) as pg:
        assert pg.execute("SELECT to_regclass('public.usage_daily')").fetchone()[0] is None
    assert any((tmp_path / "new-lake").rglob("*.parquet"))  # 40 rows: past the catalog's inlining


def test_a_deferred_lake_write_names_the_rows_its_subqueries_gave_inside_the_transaction():
    con = duckdb.connect(":memory:")
    con.execute("CREATE TABLE users (id INTEGER, org_id INTEGER)")
    con.execute("INSERT INTO users VALUES (1, 7), (2, 7), (3, 8)")
    sql, params = teamdb._resolved(
        con, "DELETE FROM usage_daily WHERE day >= ? AND user_id IN (SELECT id FROM users WHERE org_id IN"
        " (SELECT ? UNION SELECT 9) ORDER BY id) AND model = ?", ["2026-11-01", 7, "gpt-4.1"])
    assert sql == "DELETE FROM usage_daily WHERE day >= ? AND user_id IN (?, ?) AND model = ?"
    assert params == ["2026-11-01", 1, 2, "gpt-4.1"]
    # none found: IN is false and NOT IN true, as with the subquery
    sql, params = teamdb._resolved(con, "DELETE FROM usage_daily WHERE user_id NOT IN (SELECT id FROM users"
                                   " WHERE org_id = ?)", [5])
    assert params == []
    assert con.execute(sql.replace("DELETE FROM usage_daily", "SELECT count(*) FROM users u").replace(
        "user_id", "u.id")).fetchone()[0] == 3


def lake_files(con) -> set[str]:
    """The Parquet files (data and deletes) the lake's current snapshot reads."""
    found = set()
    for table in teamdb.LAKE_TABLES:
        for data, deletes in con.execute("SELECT data_file, delete_file FROM ducklake_list_files(?, ?)",
                                         [teamdb.LAKE, table]).fetchall():
            found |= {Path(name).name for name in (data, deletes) if name}
    return found


def test_a_merge_of_the_rollups_tidies_the_lake_and_deletes_the_files_no_snapshot_needs(postgres, tmp_path):
    # a database with a lake of its own (the suite's copies share their template's files), whose
    # upkeep keeps no old snapshot and deletes a file as soon as none needs it
    name = f"test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(postgres.url("postgres"), autocommit=True) as pg:
        pg.execute(f'CREATE DATABASE "{name}"')
    home_dir = tmp_path / "home"
    home_dir.mkdir()
    write_profile(home_dir / PROFILE_FILE, {"WORKBENCH_PROFILE": "team",
                                            "WORKBENCH_POSTGRES_URL": postgres.url(name)})
    teamdb.create(postgres.url(name), lake_path=str(tmp_path / "lake"),
                  lake_options={"expire_older_than": "0 seconds", "delete_older_than": "0 seconds"})
    store = home.open_store(Settings(home=home_dir, embedding_backend="hash"))
    with store.transaction() as con:
        org_id = con.execute("INSERT INTO organizations (name, slug) VALUES ('Tidy', 'tidy') RETURNING id"
                             ).fetchone()[0]

    def write(days: int, per_day: int) -> None:
        for day in range(days):
            with store.transaction() as con:  # one transaction a call: single, inlined lake writes
                for i in range(per_day):
                    metering.record(con, metering.Call("openai", "gpt-4.1", "chat", prompt_tokens=10 + i),
                                    org_id=org_id, user_id=1 + i % 3,
                                    at=datetime(2026, 11, 1, 9) + timedelta(days=day, minutes=i))

    on_disk = lambda: {p.name for p in (tmp_path / "lake").rglob("*.parquet")}  # noqa: E731
    write(days=4, per_day=12)
    with store.connect() as con:
        assert rollup.compact(con, force=True) == len(rollup.TABLES)
        # the inlined rows of single writes flushed to files; those the merge replaced are deleted
        # at the next upkeep (the snapshot before the merge is the newest that expired)
        obsolete = on_disk() - lake_files(con)
        assert lake_files(con) <= on_disk() and obsolete
        assert rollup.differences(con) == []
    write(days=2, per_day=12)  # the same days again: their rows are merged
    with store.connect() as con:
        assert rollup.compact(con, force=True) == len(rollup.TABLES)
        assert not obsolete & on_disk()
        assert lake_files(con) <= on_disk()
        assert con.execute(f"SELECT count(*) FROM {teamdb.LAKE}.snapshots()").fetchone()[0] <= 3
        assert rollup.differences(con) == []
        assert con.execute("SELECT sum(calls) FROM usage_daily").fetchone()[0] == 6 * 12
        # a key's rows merged into one
        assert con.execute("SELECT count(*) FROM (SELECT day, user_id, count(*) n FROM usage_daily"
                           " GROUP BY ALL HAVING n > 1)").fetchone()[0] == 0
