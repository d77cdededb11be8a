"""Two real processes: a held database gives a clear message, never a traceback or a half
write; a process that is done lets the other in."""

import subprocess
import sys
import time
from pathlib import Path

import pytest

WORKBENCH = str(Path(sys.executable).parent / "workbench")
HOLDER = """
import sys, time
from workbench import home, settings
store = home.open_store(settings.from_env())
with store.transaction() as con:
    con.execute("UPDATE users SET full_name = 'held' WHERE username = 'mike'")
    print("holding", flush=True)
    sys.stdin.readline() if sys.argv[1] == "until-told" else time.sleep(float(sys.argv[1]))
"""

pytestmark = pytest.mark.embedded_only  # the DuckDB file's own behaviour


def hold(env, seconds: float | str) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds)], env=env,
                            stdout=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "holding"
    return proc


def test_cli_fails_fast_with_the_holder_named(cli_env):
    holder = hold(cli_env, 20)
    try:
        started = time.monotonic()
        result = subprocess.run([WORKBENCH, "user", "list", "--as", "alice"], env=cli_env,
                                capture_output=True, text=True, timeout=60)
        took = time.monotonic() - started
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 1
    assert "in use by" in result.stderr and f"pid {holder.pid}" in result.stderr
    assert "Traceback" not in result.stderr
    assert took < 15  # waits WORKBENCH_LOCK_WAIT_S (1 s here), then gives up


def test_killed_holder_leaves_nothing_half_written(cli_env):
    holder = hold(cli_env, 60)
    holder.kill()
    holder.wait()
    result = subprocess.run([WORKBENCH, "user", "list", "--as", "alice", "--json"], env=cli_env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    assert '"held"' not in result.stdout


def test_cli_waits_for_a_short_holder_then_succeeds(cli_env):
    env = {**cli_env, "WORKBENCH_LOCK_WAIT_S": "60"}
    holder = hold(env, "until-told")
    cli = subprocess.Popen([WORKBENCH, "user", "list", "--as", "alice"], env=env, stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE, text=True)
    first = cli.stderr.readline()  # the CLI says it waits: only then does the holder let go
    holder.communicate("release\n", timeout=60)
    out, rest = cli.communicate(timeout=60)
    assert cli.returncode == 0, first + rest
    assert "waiting" in first and "mike" in out


READER = """
import sys, time
from workbench import home, settings

with home.open_store(settings.from_env(), read_only=True).connect() as con:  # as a reading command
    con.execute("SELECT count(*) FROM users").fetchone()
    print("holding", flush=True)
    sys.stdin.readline() if sys.argv[1] == "until-told" else time.sleep(float(sys.argv[1]))
"""


def test_reading_commands_do_not_block_each_other(cli_env):
    """A long reading command (a big report, say) lets other reading commands run; a writing one
    still waits for it and then names it."""
    reader = subprocess.Popen([sys.executable, "-c", READER, "60"], env=cli_env, stdout=subprocess.PIPE,
                              text=True)
    try:
        assert reader.stdout.readline().strip() == "holding"
        reads = [["user", "list"], ["audit"], ["documents", "list"], ["models", "list"],
                 ["datasets", "list"], ["conversations", "list"], ["calls", "list"], ["usage", "report"],
                 ["prices", "list"], ["sql", "SELECT count(*) AS n FROM users"]]
        results = [subprocess.run([WORKBENCH, *args, "--as", "alice"], env=cli_env, capture_output=True,
                                  text=True, timeout=60) for args in reads]
        write = subprocess.run([WORKBENCH, "user", "set-role", "vera", "analyst", "--as", "alice"],
                               env=cli_env, capture_output=True, text=True, timeout=60)
    finally:
        reader.kill()
        reader.wait()
    assert [(r.args[1], r.returncode, r.stderr) for r in results] == [(r.args[1], 0, "") for r in results]
    assert "mike" in results[0].stdout
    assert write.returncode == 1 and "in use by" in write.stderr and "Traceback" not in write.stderr
