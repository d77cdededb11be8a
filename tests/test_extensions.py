"""DuckDB's PostgreSQL, DuckLake and S3 extensions load from their PyPI wheels, never from the
network (the team profile needs them; DESIGN.md, team profile facts)."""

import duckdb
import pytest

from workbench import db
from workbench.errors import WorkbenchError


def test_the_team_extensions_load_from_their_wheels_with_no_network():
    con = duckdb.connect(config={"autoinstall_known_extensions": False, "autoload_known_extensions": False})
    for name in ("postgres_scanner", "ducklake", "httpfs"):
        db.load_extension(con, name)
    loaded = {name for (name,) in con.execute(
        "SELECT extension_name FROM duckdb_extensions() WHERE loaded").fetchall()}
    assert {"postgres_scanner", "ducklake", "httpfs"} <= loaded
    # DuckLake works on a local catalog with them: a table written and read back
    con.execute("ATTACH 'ducklake::memory:' AS lake")
    con.execute("CREATE TABLE lake.t AS SELECT 1 AS a")
    assert con.execute("SELECT a FROM lake.t").fetchall() == [(1,)]


def test_a_missing_extension_gets_a_clear_message():
    with pytest.raises(WorkbenchError, match="pip install duckdb-extension-spatial"):
        db.load_extension(duckdb.connect(), "spatial")
