"""A server's idle connection lingers: one open per page run, not one per block; it gives way to a
process waiting for the file, to a file swap, and closes by itself."""

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from workbench import db, home

pytestmark = pytest.mark.embedded_only  # the DuckDB file's own behaviour

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def wait_until(condition, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.01)
    return condition()


def users(store) -> int:
    with store.connect() as con:
        return con.execute("SELECT count(*) FROM users").fetchone()[0]


def test_back_to_back_units_of_work_open_the_file_once_then_it_closes(demo_copy):
    store = home.open_store(demo_copy, linger_s=0.3)
    counts = [users(store) for _ in range(5)]
    assert len(set(counts)) == 1 and counts[0] > 0
    assert store.opens == 1  # five blocks of a page run, one open
    assert wait_until(lambda: store._conn is None)  # idle past the linger: closed
    users(store)
    assert store.opens == 2


def test_without_linger_every_unit_of_work_opens_the_file(demo_copy):
    store = home.open_store(demo_copy)  # a CLI command
    users(store)
    assert store._conn is None
    users(store)
    assert store.opens == 2


def test_a_waiting_process_makes_the_lingering_connection_close_at_once(demo_copy):
    store = home.open_store(demo_copy, linger_s=60)  # would hold the file a minute
    users(store)
    assert store._conn is not None
    store.waiting_path.touch()  # what a process refused by the lock does while it waits
    users(store)
    assert store._conn is None  # closed as that unit of work ended, not a minute later


def test_a_command_waiting_for_the_file_gets_it_from_a_busy_server(demo_copy, cli_env):
    # the server works in short units without a pause; the command marks that it waits and gets in
    store = home.open_store(demo_copy, linger_s=1.0)
    cli = subprocess.Popen([WORKBENCH, "user", "list", "--as", "alice"],
                           env={**cli_env, "WORKBENCH_LOCK_WAIT_S": "30"},
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    while cli.poll() is None:
        users(store)
    out, err = cli.communicate(timeout=60)
    assert cli.returncode == 0, err
    assert "mike" in out


def test_release_closes_every_lingering_connection_to_the_file(demo_copy):
    one, two = home.open_store(demo_copy, linger_s=60), home.open_store(demo_copy, linger_s=60)
    users(one), users(two)
    db.release(demo_copy.db_path)
    assert one._conn is None and two._conn is None
    with one.connect():  # a unit of work in progress keeps its connection
        db.release(demo_copy.db_path)
        assert one._conn is not None


def test_a_lingering_connection_reads_a_file_swapped_in_by_another_process(demo_copy):
    # a restore in another process swaps the file; this server's idle connection must not keep
    # reading (or writing) the old one for as long as it stays busy
    store = home.open_store(demo_copy, linger_s=60)
    users(store)
    replacement = demo_copy.db_path.with_name("replacement.duckdb")
    shutil.copyfile(demo_copy.db_path, replacement)  # the lingering connection has nothing unwritten
    with duckdb.connect(str(replacement), config={"storage_compatibility_version": db.STORAGE}) as other:
        other.execute("UPDATE users SET full_name = 'restored' WHERE username = 'mike'")
    os.replace(replacement, demo_copy.db_path)
    with store.connect() as con:
        name = con.execute("SELECT full_name FROM users WHERE username = 'mike'").fetchone()[0]
    assert name == "restored" and store.opens == 2
