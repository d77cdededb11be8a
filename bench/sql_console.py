"""The SQL console's bounds at ten million llm_calls: hostile queries and everyday ones, against
the sandbox as it was before (HEAD's workbench/sandbox.py) in the same run.

    .venv/bin/python bench/sql_console.py                 # builds (or reuses) the 10M home
    .venv/bin/python bench/sql_console.py --home DIR --calls 1000000 --only new

The data home (the demo plus N llm_calls through `workbench demo --scale`'s bulk path) is built
once under $TMPDIR and reused. Each query runs in a fresh process acting as `dan` (a data
scientist of the organisation holding ~99% of the calls), so that each peak is the query's own:

- seconds: the call's wall time, from the text to the rows (or the error);
- rss MB: the peak resident memory of that process; box MB: of the box process where there is one
  (its VmHWM, polled every 5 ms: a fork's ru_maxrss would count the parent's pages);
- held s: how long the process had the database file open (polling /proc/self/fd every 2 ms);
- other opener: whether another process could open the database file 1.5 s into the call (a
  `workbench` admin command would), for the calls that last that long;
- then: the first line of the result or of the error.

The old sandbox runs under an 8 GB address-space limit and a 90 s timeout, so that its worst
cases (the issue: 20,000 UNION ALLs ran out of 8 GB) end. The new one's snapshots are deleted
before its first query (cold), and a copy left running in the background is waited for and
timed as `copy after`.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUERIES = [
    ("count, cold", "select count(*) from llm_calls"),
    ("count, again", "select count(*) from llm_calls"),
    ("comment", "SELECT 1 -- llm_calls"),
    ("group by", "select model, count(*) AS n, sum(cost_usd) AS cost from llm_calls group by 1 order by 3"),
    ("star, cold", "select * from llm_calls limit 20"),
    ("star, again", "select * from llm_calls limit 20"),
    ("slow (time limit)", "select count(*) from llm_calls, range(100000)"),
    ("3 GB value", "SELECT length(repeat(repeat('ab', 500000), 3000))"),
    ("2 GB string_agg", "SELECT length(string_agg(repeat('x', 1000000), '')) FROM range(2000)"),
    ("20,000 UNION ALL", "SELECT 1" + " UNION ALL SELECT 1" * 20_000),
]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--home", type=Path, default=Path(tempfile.gettempdir()) / "workbench-sql-bench")
    parser.add_argument("--calls", type=int, default=10_000_000)
    parser.add_argument("--only", choices=["old", "new"], help="run one implementation")
    parser.add_argument("--one", nargs=3, metavar=("IMPL", "OLD_MODULE", "INDEX"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        return measure_one(args.home, *args.one)
    build_home(args.home, args.calls)
    old_module = Path(tempfile.mkdtemp()) / "old_sandbox.py"
    old_module.write_text(subprocess.run(["git", "show", "HEAD:workbench/sandbox.py"], cwd=ROOT,
                                         capture_output=True, text=True, check=True).stdout)
    print(f"{platform.node()}: {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}, "
          f"python {platform.python_version()}, duckdb {duckdb_version()}")
    print(f"{'query':<18} {'impl':<4} {'seconds':>8} {'rss MB':>7} {'box MB':>7} {'held s':>7} "
          f"{'other opener':>12} {'copy after':>10}  then")
    for impl in ("old", "new"):
        if args.only and impl != args.only:
            continue
        shutil.rmtree(args.home / "cache" / "sandbox", ignore_errors=True)
        for index, (label, _sql) in enumerate(QUERIES):
            row = run_one(args.home, impl, old_module, index)
            print(f"{label:<18} {impl:<4} {row['seconds']:>8.2f} {row['rss_mb']:>7.0f} {row['box_mb']:>7.0f} "
                  f"{row['held_s']:>7.2f} {row['opener']:>12} {row['copy_after']:>10}  {row['then'][:70]}",
                  flush=True)


def duckdb_version() -> str:
    import duckdb

    return duckdb.__version__


def build_home(home_dir: Path, calls: int) -> None:
    """The demo plus `calls` llm_calls, built once and reused."""
    from workbench import home
    from workbench.ops import demo
    from workbench.ops.demo import people, usage
    from workbench.settings import Settings

    cfg = Settings(home=home_dir)
    if cfg.db_path.exists():
        with home.open_store(cfg).connect() as con:
            if con.execute("SELECT count(*) FROM llm_calls").fetchone()[0] >= calls:
                return
        shutil.rmtree(home_dir)
    started = time.perf_counter()
    home.init(cfg)
    store = home.open_store(cfg)
    demo.load(cfg, store)
    with store.transaction() as con:
        usage.write_scale(con, calls, seed=7, fading_usernames=people.FADING)
    with store.connect() as con:
        con.execute("CHECKPOINT")
    print(f"built {home_dir} with {calls:,} more llm_calls in {time.perf_counter() - started:.0f} s")
    time.sleep(1.5)  # let the file settle, as a data home does between writes


def run_one(home_dir: Path, impl: str, old_module: Path, index: int) -> dict:
    cmd = [sys.executable, __file__, "--home", str(home_dir), "--one", impl, str(old_module), str(index)]
    limit = 8 * 2**30 if impl == "old" else resource.RLIM_INFINITY

    def cap():  # the old sandbox's worst cases end at 8 GB instead of taking the machine
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

    started = time.perf_counter()
    try:
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=90, preexec_fn=cap, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return _failed(time.perf_counter() - started, "killed after 90 s")
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode or not lines:
        tail = (done.stderr.strip().splitlines() or [f"exit {done.returncode}"])[-1]
        return _failed(time.perf_counter() - started, f"process died (exit {done.returncode}): {tail}")
    return json.loads(lines[-1])


def _failed(seconds: float, why: str) -> dict:
    return {"seconds": seconds, "rss_mb": float("nan"), "box_mb": float("nan"), "held_s": float("nan"),
            "opener": "-", "copy_after": "-", "then": why}


def measure_one(home_dir: Path, impl: str, old_module: str, index: str) -> None:
    """In a process of its own: one query through one implementation, measured."""
    from workbench import home
    from workbench.accounts import auth
    from workbench.settings import Settings

    cfg = Settings(home=home_dir)
    store = home.open_store(cfg)
    with store.connect() as con:
        ctx = auth.context_for(con, "dan")
    if impl == "old":
        spec = importlib.util.spec_from_file_location("old_sandbox", old_module)
        sandbox = sys.modules["old_sandbox"] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(sandbox)
    else:
        from workbench.sql_console import sandbox

        box_peak = watch_box_memory(sandbox)
    label, sql = QUERIES[int(index)]
    held = HeldFile(cfg.db_path)
    opener: list[str] = []
    probe = threading.Timer(1.5, lambda: opener.append(try_open(cfg.db_path)))
    held.start()
    probe.start()
    began = time.perf_counter()
    try:
        if impl == "old":
            with store.connect() as con:
                result = sandbox.run(ctx, con, sql)
        else:
            result = sandbox.run(ctx, store, sql)
        then = f"{len(result.rows)} rows: {result.rows[0] if result.rows else ''}"
    except Exception as exc:  # the figure is what a user would see
        then = f"{type(exc).__name__}: {exc}"
    seconds = time.perf_counter() - began
    probe.cancel()
    copy_after = "-"
    if impl == "new" and sandbox.copies_running():
        waited = time.perf_counter()
        sandbox.finish_copies()
        copy_after = f"{time.perf_counter() - waited:.1f} s"
    held.stop()
    print(json.dumps({
        "seconds": seconds,
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "box_mb": max(box_peak) if impl == "new" and box_peak else float("nan"),
        "held_s": held.seconds,
        "opener": opener[0] if opener else "-",
        "copy_after": copy_after,
        "then": " ".join(then.split())[:200],
    }))


def watch_box_memory(sandbox) -> list[float]:
    """The box processes' peak resident memory in MB, read from /proc while they run."""
    peaks: list[float] = []
    exchange = sandbox._exchange

    def watched(proc, request, until):
        done = threading.Event()

        def poll():
            while not done.is_set():
                try:
                    status = Path(f"/proc/{proc.pid}/status").read_text()
                except OSError:
                    return
                for line in status.splitlines():
                    if line.startswith("VmHWM:"):
                        peaks.append(int(line.split()[1]) / 1024)
                done.wait(0.005)

        watcher = threading.Thread(target=poll, daemon=True)
        watcher.start()
        try:
            return exchange(proc, request, until)
        finally:
            done.set()
            watcher.join()

    sandbox._exchange = watched
    return peaks


def try_open(db_path: Path) -> str:
    """Whether another process can open the database file now."""
    code = "import duckdb, sys; duckdb.connect(sys.argv[1]).close()"
    done = subprocess.run([sys.executable, "-c", code, str(db_path)], capture_output=True, text=True)
    return "opened" if done.returncode == 0 else "refused"


class HeldFile(threading.Thread):
    """Adds up the time this process has `path` open, from /proc/self/fd."""

    def __init__(self, path: Path) -> None:
        super().__init__(daemon=True)
        self.path, self.seconds, self._ended = str(path), 0.0, threading.Event()

    def run(self) -> None:
        last = time.perf_counter()
        while not self._ended.is_set():
            now = time.perf_counter()
            if self._holding():
                self.seconds += now - last
            last = now
            time.sleep(0.002)

    def stop(self) -> None:
        self._ended.set()
        self.join()

    def _holding(self) -> bool:
        for fd in os.listdir("/proc/self/fd"):
            try:
                if os.readlink(f"/proc/self/fd/{fd}") == self.path:
                    return True
            except OSError:
                continue
        return False


if __name__ == "__main__":
    main()
