"""How long a failed login takes, by what failed: an unknown name, a wrong password on an argon2
account, on a legacy pbkdf2 account (seed 000's hashes, until their first login rehashes them), and
any password on a locked account. Equal times mean the time tells an attacker nothing.

    python bench/login_timing.py [ROUNDS]     # default 15 attempts of each kind

Runs `auth.login` on a fresh database in a temp folder; with `--before REV` it also runs the
`workbench/auth.py` of that git revision (e.g. 2bc46f1) in the same run, for the baseline.
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from workbench import db  # noqa: E402
from workbench.accounts import auth, organisations, users  # noqa: E402
from workbench.errors import AuthFailed  # noqa: E402
from workbench.ops.demo.people import legacy_pbkdf2_hash  # noqa: E402

KINDS = {
    "unknown name": ("nobody", "a wrong guess"),
    "argon2, wrong password": ("argon", "a wrong guess"),
    "legacy pbkdf2, wrong password": ("legacy", "a wrong guess"),
    "locked, right password": ("locked", "locked password"),
}


def world(folder: Path) -> db.Store:
    store = db.Store(folder / "bench.duckdb", create=True)
    with store.connect() as con:
        db.migrate(con)
        org = organisations.create_organization(con, "Acme")
        users.insert_user(con, org, "argon", "a@acme.test", auth.hash_password("argon password"), "analyst")
        users.insert_user(con, org, "legacy", "l@acme.test", legacy_pbkdf2_hash("legacy password", b"s" * 16),
                          "analyst")
        users.insert_user(con, org, "locked", "k@acme.test", auth.hash_password("locked password"), "analyst")
        con.execute("UPDATE users SET locked_until = now()::TIMESTAMP + INTERVAL 1 DAY"
                    " WHERE username = 'locked'")
    return store


def timings(module, store: db.Store, rounds: int) -> dict[str, tuple[float, str]]:
    """Median milliseconds and the message of each kind of failure (max_failures high: no new lock)."""
    out = {}
    with store.connect() as con:
        for kind, (username, password) in KINDS.items():
            seconds, message = [], ""
            for _ in range(rounds):
                started = time.perf_counter()
                try:
                    module.login(con, username, password, max_failures=10**6)
                except AuthFailed as exc:
                    message = str(exc)
                except Exception as exc:  # an older module raises its own copy of the class
                    message = str(exc)
                seconds.append(time.perf_counter() - started)
            out[kind] = (statistics.median(seconds) * 1000, message)
    return out


def module_at(rev: str, folder: Path):
    source = subprocess.run(["git", "show", f"{rev}:workbench/auth.py"], cwd=ROOT, capture_output=True,
                            text=True, check=True).stdout
    path = folder / "auth_before.py"
    path.write_text(source)
    spec = importlib.util.spec_from_file_location("auth_before", path)
    module = importlib.util.module_from_spec(spec)
    sys.modules["auth_before"] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rounds", nargs="?", type=int, default=15)
    parser.add_argument("--before", metavar="REV", help="also time workbench/auth.py of this revision")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        runs = {"now": auth}
        if args.before:
            runs[f"at {args.before}"] = module_at(args.before, folder)
        for label, module in runs.items():
            place = folder / label.replace(" ", "-")
            place.mkdir()
            store = world(place)
            print(f"\n{label}: median of {args.rounds} failed logins")
            for kind, (ms, message) in timings(module, store, args.rounds).items():
                print(f"  {kind:<32} {ms:7.1f} ms  {message!r}")


if __name__ == "__main__":
    main()
