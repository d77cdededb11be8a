"""Wall time of one-shot `workbench` commands, as a user in a terminal feels them.

    python bench/commands.py [DATA_HOME]      # default: a new demo home in a temp folder

Each command runs as a fresh process (import, open, work, exit) three times; the figure is the
median wall time. The demo home is made first with `workbench demo` (not timed here: see the
first-start line, which times `init` + `demo` until the app's data is usable).
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ONE_CALL = ("call_id,role,content,index\nbench-1,agent,Hello how can I help?,0\n"
            "bench-1,customer,My eSIM will not activate.,1\n")

COMMANDS = [
    ("workbench --help", ["--help"]),
    ("user list", ["user", "list", "--as", "alice"]),
    ("search", ["search", "refund policy", "--as", "anna"]),
    ("ask", ["ask", "What is the refund policy?", "--as", "anna"]),
    ("calls import (one call)",
     ["calls", "import", "{one}", "--project", "Customer care line", "--as", "anna"]),
]


def timed(args: list[str], env: dict) -> float:
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "workbench", *args], env=env, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"{' '.join(args)} failed: {done.stderr.strip()[-400:]}")
    return time.perf_counter() - started


def main() -> None:
    home = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="wb-cmd-"))
    env = {**os.environ, "WORKBENCH_HOME": str(home)}
    if not (home / "workbench.duckdb").exists():
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "workbench", "demo"], env=env, check=True, capture_output=True)
        print(f"{'demo (init, load, embed)':<28} {time.perf_counter() - started:7.2f} s  (once)")
    one = home / "one-call.csv"
    one.write_text(ONE_CALL)
    for label, args in COMMANDS:
        args = [a.replace("{one}", str(one)) for a in args]
        runs = [timed(args, env) for _ in range(3)]
        print(f"{label:<28} {statistics.median(runs):7.2f} s  (median of 3; "
              + ", ".join(f"{r:.2f}" for r in runs) + ")")


if __name__ == "__main__":
    main()
