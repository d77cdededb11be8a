"""Two real processes: a held database gives a clear message, never a traceback or a half
write; a process that is done lets the other in."""

import subprocess
import sys
import time
from pathlib import Path

WORKBENCH = str(Path(sys.executable).parent / "workbench")
HOLDER = """
import sys, time
from workbench import home, settings
store = home.open_store(settings.from_env())
with store.transaction() as con:
    con.execute("UPDATE users SET full_name = 'held' WHERE username = 'mike'")
    print("holding", flush=True)
    time.sleep(float(sys.argv[1]))
"""


def hold(env, seconds: float) -> subprocess.Popen:
    proc = subprocess.Popen([sys.executable, "-c", HOLDER, str(seconds)], env=env,
                            stdout=subprocess.PIPE, text=True)
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
    env = {**cli_env, "WORKBENCH_LOCK_WAIT_S": "20"}
    holder = hold(env, 1.5)
    result = subprocess.run([WORKBENCH, "user", "list", "--as", "alice"], env=env,
                            capture_output=True, text=True, timeout=60)
    holder.wait()
    assert result.returncode == 0, result.stderr
    assert "waiting" in result.stderr and "mike" in result.stdout
