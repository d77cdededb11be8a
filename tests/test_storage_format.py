"""Database files are written in DuckDB 1.5's storage format, which DuckDB 2 reads and writes too,
so the team profile (DuckDB 1.5.5 for its extension wheels) can open any data home; a file DuckDB 2
wrote in its own format is rewritten once, every row kept."""

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from workbench import db, home
from workbench.errors import WorkbenchError

pytestmark = pytest.mark.embedded_only  # the DuckDB file's own behaviour

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def storage(cfg) -> str:
    with home.open_store(cfg).connect() as con:
        return db.storage_of(con)


def test_a_new_home_is_written_in_the_format_both_versions_read(settings):
    home.init(settings)
    assert storage(settings) == f"{db.STORAGE}+"
    assert home.upgrade_storage(settings) is None  # nothing to do


@pytest.mark.skipif(int(duckdb.__version__.split(".")[0]) < 2, reason="only DuckDB 2 writes its own format")
def test_a_home_in_duckdb_2s_format_is_rewritten_once_with_every_row(demo_copy, cli_env):
    path = demo_copy.db_path
    original = path.with_name("original.duckdb")
    shutil.move(path, original)
    with duckdb.connect(":memory:") as con:  # what the previous release wrote: DuckDB 2's format
        con.execute(f"ATTACH '{original}' AS src (READ_ONLY)")
        con.execute(f"ATTACH '{path}' AS dst")
        con.execute("COPY FROM DATABASE src TO dst")
        assert con.execute("SELECT tags FROM duckdb_databases() WHERE database_name = 'dst'"
                           ).fetchone()[0]["storage_version"] == "v2.0.0+"
        before = db._contents(con, "dst")
    assert before[0] and sum(n for _t, n in before[0]) > 1000

    earlier = path.with_name(f"{path.name}.v2.0.0-format")
    earlier.write_bytes(b"an earlier rewrite's old file")  # is never overwritten
    told: list[str] = []
    home.init(demo_copy, say=told.append)  # what `workbench init` and `workbench serve` run
    [said] = told
    assert "rewritten" in said and "v2.0.0+" in said
    assert storage(demo_copy) == f"{db.STORAGE}+"
    assert earlier.read_bytes() == b"an earlier rewrite's old file"
    kept = next(p for p in path.parent.glob(f"{path.name}.v2.0.0-format-*"))
    assert kept.is_file() and str(kept) in said
    with duckdb.connect(":memory:") as con:
        con.execute(f"ATTACH '{path}' AS now (READ_ONLY)")
        assert db._contents(con, "now") == before  # every table's rows and every sequence
    assert home.upgrade_storage(demo_copy) is None  # once
    # the home works: its sequences go on after the last id, a command reads it
    with home.open_store(demo_copy).connect() as con:
        last = con.execute("SELECT max(id) FROM users").fetchone()[0]
        assert con.execute("SELECT nextval('users_id_seq')").fetchone()[0] > last
    result = subprocess.run([WORKBENCH, "user", "list", "--as", "alice"], env=cli_env,
                            capture_output=True, text=True, timeout=120)
    assert result.returncode == 0 and "mike" in result.stdout, result.stderr
    assert not path.with_name(f".{path.name}.rewriting").exists()


def test_a_file_from_a_newer_duckdb_gets_a_clear_message(settings, monkeypatch):
    home.init(settings)

    def newer(*args, **kwargs):
        raise duckdb.IOException(
            "IO Error: Trying to read a database file with version number 999, but we can only read "
            "versions between 64 and 68.\nThe database file was created with an newer version of DuckDB.")

    monkeypatch.setattr(db.duckdb, "connect", newer)
    with pytest.raises(WorkbenchError, match="written by a newer DuckDB") as caught:
        with home.open_store(settings).connect():
            pass
    assert "IO Error" not in str(caught.value) and "workbench init" in str(caught.value)
