"""The team deployment on one machine (DESIGN.md, the team profile): PostgreSQL, an S3-compatible
object store, the MLflow tracking server (its runs in PostgreSQL, its artifacts in the object
store), several app processes and the HTTP API, behind HAProxy with cookie stickiness, all on
loopback, with their data and logs under the data home's `team/` folder.

    team/
      secret             the PostgreSQL password (0600), made once
      postgres/          PostgreSQL's cluster (databases `workbench` and `mlflow`)
      s3/                the object store's buckets (bucket `workbench`: lancedb/, mlflow/)
      haproxy.cfg        written at each start
      run/<service>.pid  logs/<service>.log

Every process of the deployment runs on the team profile: the relational state in PostgreSQL's
`workbench` database (teamdb.py), vectors in LanceDB on s3://, models in the tracking server.
Uploads, exports and results stay in the data home's folders, which every process of this machine
shares. `ops/move.py` moves an embedded data home in and out.
"""

from __future__ import annotations

import glob
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from workbench.errors import WorkbenchError
from workbench.settings import PROFILE_FILE, Settings, write_profile

TEAM = "team"
BUCKET = "workbench"
S3_KEY = "S3RVER"  # the local object store's fixed credentials (s3rver's); loopback only
PG_USER = "workbench"
DATABASES = ("workbench", "mlflow")
START_S = 60.0  # longest wait for a service to answer


class TeamError(WorkbenchError):
    """The team deployment cannot start or stop as asked."""


@dataclass(frozen=True)
class Team:
    """One machine's team deployment: where each service listens and keeps its data."""

    settings: Settings
    port: int = 8501  # the load balancer: the app, and the API under /v1
    base_port: int = 8610  # PostgreSQL, the object store, MLflow, the API, then the app processes
    apps: int = 2

    @property
    def root(self) -> Path:
        return self.settings.home / TEAM

    @property
    def pg_port(self) -> int:
        return self.base_port

    @property
    def s3_port(self) -> int:
        return self.base_port + 1

    @property
    def mlflow_port(self) -> int:
        return self.base_port + 2

    @property
    def api_port(self) -> int:
        return self.base_port + 3

    def app_ports(self) -> list[int]:
        return [self.base_port + 10 + i for i in range(self.apps)]

    @property
    def s3_endpoint(self) -> str:
        return f"http://127.0.0.1:{self.s3_port}"

    def password(self) -> str:
        """PostgreSQL's password, made on first use and kept in team/secret (owner only)."""
        path = self.root / "secret"
        if not path.exists():
            self.root.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as handle:
                handle.write(secrets.token_urlsafe(24))
        return path.read_text().strip()

    def postgres_url(self, database: str, driver: str = "postgresql") -> str:
        return f"{driver}://{PG_USER}:{self.password()}@127.0.0.1:{self.pg_port}/{database}"

    def environment(self) -> dict[str, str]:
        """The settings that point a workbench process (app, API, CLI) at this deployment."""
        return {
            "WORKBENCH_HOME": str(self.settings.home),
            "WORKBENCH_PROFILE": "team",
            "WORKBENCH_POSTGRES_URL": self.postgres_url("workbench"),
            "WORKBENCH_LANCEDB_URI": f"s3://{BUCKET}/lancedb",
            "WORKBENCH_LAKE_PATH": f"s3://{BUCKET}/lake",
            "MLFLOW_TRACKING_URI": f"http://127.0.0.1:{self.mlflow_port}",
            "WORKBENCH_API_PORT": str(self.api_port),
            "AWS_ACCESS_KEY_ID": S3_KEY,
            "AWS_SECRET_ACCESS_KEY": S3_KEY,
            "AWS_REGION": "us-east-1",
            "AWS_ENDPOINT_URL": self.s3_endpoint,
            "AWS_ALLOW_HTTP": "true",
        }

    def services(self) -> list[str]:
        """In start order; stopped in reverse."""
        return ["postgres", "s3", "mlflow", "api", *(f"app-{i + 1}" for i in range(self.apps)), "haproxy"]


# -- starting ---------------------------------------------------------------------------------


def up(team: Team, *, say: Callable[[str], object] = print, before_apps: Callable[[], object] | None = None,
       ) -> dict[str, str]:
    """Start every service not yet running, each waited for until it answers; `before_apps` runs
    once the stores are up (the demo data, say). From then on, any process pointed at this data
    home uses the deployment (the home's profile.env). Returns the URLs a user needs."""
    start_stores(team, say)
    if not (team.settings.home / PROFILE_FILE).exists() and team.settings.db_path.exists():
        say(f"The embedded database {team.settings.db_path} is left as it is; the deployment starts "
            "empty (`workbench team move-in` copies it in instead).")
    _write_profile(team)
    env = {**os.environ, **team.environment()}
    if before_apps is not None:
        before_apps()
    else:  # the schema, once, before the processes that use it start
        _run([sys.executable, "-m", "workbench", "init"], "The team database's schema", env)
    if not _alive(team, "api"):
        _spawn(team, "api", [sys.executable, "-m", "workbench", "api", "--port", str(team.api_port)], env)
    for i, port in enumerate(team.app_ports()):
        name = f"app-{i + 1}"
        if not _alive(team, name):
            _spawn(team, name, [sys.executable, "-m", "workbench", "serve", "--no-api",
                                "--port", str(port)], env)
    _wait_http(team, "api", f"http://127.0.0.1:{team.api_port}/openapi.json", say)
    for i, port in enumerate(team.app_ports()):
        _wait_http(team, f"app-{i + 1}", f"http://127.0.0.1:{port}/_stcore/health", say)
    _start_haproxy(team, say)
    return {"app": f"http://127.0.0.1:{team.port}", "api": f"http://127.0.0.1:{team.port}/v1",
            "mlflow": f"http://127.0.0.1:{team.mlflow_port}"}


def _postgres_bin(name: str) -> str:
    found = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_version_key)
    if found:
        return found[-1]
    path = shutil.which(name)
    if path is None:
        raise TeamError("PostgreSQL is not installed: `make team-deps` (or `apt-get install postgresql`).")
    return path


def _version_key(path: str) -> int:
    try:
        return int(Path(path).parent.parent.name)
    except ValueError:
        return 0


def _as_postgres(cmd: list[str]) -> list[str]:
    """PostgreSQL refuses to run as root: run its tools as the postgres user then."""
    return ["runuser", "-u", "postgres", "--", *cmd] if os.geteuid() == 0 else cmd


def start_postgres(team: Team, say: Callable[[str], object] = print, options: str = "") -> None:
    """Make PostgreSQL's cluster on first use, start it on loopback, create the databases."""
    for folder in ("run", "logs"):
        (team.root / folder).mkdir(parents=True, exist_ok=True)
    data = team.root / "postgres"
    log = team.root / "logs" / "postgres.log"
    if not (data / "PG_VERSION").exists():
        say("Creating the PostgreSQL cluster...")
        data.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0 and subprocess.run(_as_postgres(["test", "-x", str(data)])).returncode:
            raise TeamError(f"PostgreSQL runs as the postgres user, who cannot reach {data}: let it "
                            "through the folders above (chmod o+x), or use a data home elsewhere.")
        pwfile = data.parent / "run" / "pwfile"
        pwfile.write_text(team.password() + "\n")
        if os.geteuid() == 0:
            shutil.chown(data, "postgres")
            shutil.chown(pwfile, "postgres")
            log.touch()
            shutil.chown(log, "postgres")
        try:
            _run(_as_postgres([_postgres_bin("initdb"), "-D", str(data), "-U", PG_USER,
                               "--auth=scram-sha-256", f"--pwfile={pwfile}", "-E", "UTF8"]),
                 "PostgreSQL's initdb")
        finally:
            pwfile.unlink(missing_ok=True)
    if _port_open(team.pg_port):
        return
    say(f"Starting PostgreSQL on 127.0.0.1:{team.pg_port}...")
    if os.geteuid() == 0 and log.exists():
        shutil.chown(log, "postgres")
    _run(_as_postgres([_postgres_bin("pg_ctl"), "-D", str(data), "-l", str(log), "-w", "-t", "60",
                       "-o", f"-p {team.pg_port} -c listen_addresses=127.0.0.1 -k {data} {options}",
                       "start"]),
         "PostgreSQL")
    _create_databases(team)


def _create_databases(team: Team) -> None:
    import psycopg

    with psycopg.connect(team.postgres_url("postgres"), autocommit=True) as con:
        have = {r[0] for r in con.execute("SELECT datname FROM pg_database").fetchall()}
        for name in DATABASES:
            if name not in have:
                con.execute(f'CREATE DATABASE "{name}"')


def _s3rver() -> str:
    for candidate in (Path(sys.prefix) / "s3rver" / "node_modules" / ".bin" / "s3rver",
                      shutil.which("s3rver")):
        if candidate and Path(candidate).exists():
            return str(candidate)
    raise TeamError("The S3-compatible server (s3rver, from npm) is not installed: `make team-deps`.")


def _start_s3(team: Team, say) -> None:
    if _alive(team, "s3"):
        return
    folder = team.root / "s3"
    folder.mkdir(exist_ok=True)
    say(f"Starting the object store on {team.s3_endpoint}...")
    _spawn(team, "s3", [_s3rver(), "-d", str(folder), "-a", "127.0.0.1", "-p", str(team.s3_port),
                        "--no-vhost-buckets", "--configure-bucket", BUCKET, "--silent"], dict(os.environ))
    _wait_port(team, "s3", team.s3_port)


def _start_mlflow(team: Team, say) -> None:
    if _alive(team, "mlflow"):
        return
    say(f"Starting the MLflow tracking server on 127.0.0.1:{team.mlflow_port}...")
    env = {**os.environ, **team.environment(), "MLFLOW_S3_ENDPOINT_URL": team.s3_endpoint}
    env.pop("MLFLOW_TRACKING_URI")
    _spawn(team, "mlflow", [
        str(Path(sys.executable).parent / "mlflow"), "server",
        "--backend-store-uri", team.postgres_url("mlflow", "postgresql+psycopg"),
        "--artifacts-destination", f"s3://{BUCKET}/mlflow",
        "--host", "127.0.0.1", "--port", str(team.mlflow_port), "--workers", "1",
    ], env)
    _wait_http(team, "mlflow", f"http://127.0.0.1:{team.mlflow_port}/health", say)


HAPROXY = """global
    maxconn 2000
defaults
    mode http
    timeout connect 5s
    timeout client 1h
    timeout server 1h
    timeout tunnel 1h
frontend workbench
    bind 127.0.0.1:{port}
    acl is_api path_beg /v1/ /docs /redoc /openapi.json
    use_backend api if is_api
    default_backend app
backend app
    # Streamlit keeps a session (and its uploads) in one process: a cookie keeps a browser on it
    balance roundrobin
    cookie WORKBENCH_SERVER insert indirect nocache httponly
    option httpchk GET /_stcore/health
{servers}
backend api
    option httpchk GET /openapi.json
    server api 127.0.0.1:{api_port} check
"""


def haproxy_config(team: Team) -> str:
    servers = "\n".join(f"    server app{i + 1} 127.0.0.1:{port} check cookie app{i + 1}"
                        for i, port in enumerate(team.app_ports()))
    return HAPROXY.format(port=team.port, servers=servers, api_port=team.api_port)


def _start_haproxy(team: Team, say) -> None:
    if _alive(team, "haproxy"):
        return
    binary = shutil.which("haproxy") or "/usr/sbin/haproxy"
    if not Path(binary).exists():
        raise TeamError("HAProxy is not installed: `make team-deps` (or `apt-get install haproxy`).")
    config = team.root / "haproxy.cfg"
    config.write_text(haproxy_config(team))
    _run([binary, "-c", "-q", "-f", str(config)], "HAProxy's configuration check")
    if _port_open(team.port):
        raise TeamError(f"Port {team.port} is taken by another program: stop it or pick --port.")
    say(f"Starting HAProxy on 127.0.0.1:{team.port} ({team.apps} app processes)...")
    _spawn(team, "haproxy", [binary, "-db", "-f", str(config)], dict(os.environ))
    _wait_port(team, "haproxy", team.port)


def _write_profile(team: Team) -> None:
    """Point the data home at the deployment (Settings reads its profile.env)."""
    write_profile(team.settings.home / PROFILE_FILE, {k: v for k, v in team.environment().items()
                                                      if k not in ("WORKBENCH_HOME", "WORKBENCH_API_PORT")})


def start_stores(team: Team, say: Callable[[str], object] = print) -> None:
    """PostgreSQL, the object store and MLflow's server: what a move needs, without the apps."""
    team.settings.home.mkdir(parents=True, exist_ok=True)
    for folder in ("run", "logs"):
        (team.root / folder).mkdir(parents=True, exist_ok=True)
    start_postgres(team, say)
    _start_s3(team, say)
    _start_mlflow(team, say)


def team_settings(team: Team) -> Settings:
    """The deployment's settings, as its processes read them."""
    from workbench.settings import from_env

    env = team.environment()
    os.environ.update({k: v for k, v in env.items() if k.startswith("AWS_")})  # LanceDB reads them here
    return from_env({**os.environ, **env})


def move_in(team: Team, say: Callable[[str], object] = print) -> dict:
    """Copy this data home's embedded state into the deployment (ops/move.py)."""
    from workbench.ops import move

    _no_apps(team)
    start_stores(team, say)
    embedded = Settings(home=team.settings.home, profile="embedded",
                        embedding_backend=team.settings.embedding_backend)
    report = move.move_in(embedded, team_settings(team), say)
    _write_profile(team)
    return report


def move_out(team: Team, target: Path, say: Callable[[str], object] = print) -> dict:
    """Copy the deployment into a new embedded data home at `target` (ops/move.py)."""
    from workbench.ops import move

    start_stores(team, say)
    return move.move_out(team_settings(team), Settings(home=target, profile="embedded"), say)


def _no_apps(team: Team) -> None:
    running = [r["service"] for r in status(team) if r["running"] and r["service"] in ("api", "haproxy")
               or r["service"].startswith("app-") and r["running"]]
    if running:
        raise TeamError(f"The deployment's {', '.join(running)} are running: stop them first "
                        "(`workbench team down`), then move in.")


# -- stopping and status ----------------------------------------------------------------------


def down(team: Team, *, say: Callable[[str], object] = print) -> list[str]:
    """Stop every service, the load balancer first and PostgreSQL last; what was stopped."""
    stopped = []
    for name in reversed(team.services()):
        if name == "postgres":
            if stop_postgres(team, say):
                stopped.append(name)
            continue
        pid = _pid(team, name)
        if pid is None:
            continue
        say(f"Stopping {name}...")
        _stop(pid)
        (team.root / "run" / f"{name}.pid").unlink(missing_ok=True)
        stopped.append(name)
    for name in _stale_apps(team):  # app processes of an earlier start with more of them
        _stop(_pid(team, name) or 0)
        (team.root / "run" / f"{name}.pid").unlink(missing_ok=True)
    return stopped


def stop_postgres(team: Team, say: Callable[[str], object] = print) -> bool:
    """Stop PostgreSQL (its sessions ended first); False when it was not running."""
    if not (_port_open(team.pg_port) and (team.root / "postgres" / "postmaster.pid").exists()):
        return False
    say("Stopping PostgreSQL...")
    _run(_as_postgres([_postgres_bin("pg_ctl"), "-D", str(team.root / "postgres"), "-m", "fast", "-w",
                       "stop"]), "PostgreSQL's stop")
    return True


def status(team: Team) -> list[dict]:
    """Each service: whether it runs, its pid and where it listens."""
    ports = {"postgres": team.pg_port, "s3": team.s3_port, "mlflow": team.mlflow_port,
             "api": team.api_port, "haproxy": team.port,
             **{f"app-{i + 1}": p for i, p in enumerate(team.app_ports())}}
    rows = []
    for name in team.services():
        if name == "postgres":
            pid = _postmaster_pid(team)
        else:
            pid = _pid(team, name)
        rows.append({"service": name, "running": pid is not None and _port_open(ports[name]),
                     "pid": pid, "address": f"127.0.0.1:{ports[name]}"})
    return rows


def _postmaster_pid(team: Team) -> int | None:
    try:
        pid = int((team.root / "postgres" / "postmaster.pid").read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None
    return pid if _running(pid) else None


def _stale_apps(team: Team) -> list[str]:
    known = set(team.services())
    return [p.stem for p in (team.root / "run").glob("app-*.pid") if p.stem not in known]


# -- processes --------------------------------------------------------------------------------


def _spawn(team: Team, name: str, cmd: list[str], env: dict[str, str]) -> int:
    log = open(team.root / "logs" / f"{name}.log", "ab")  # noqa: SIM115 - the child keeps it
    with log:
        proc = subprocess.Popen(cmd, env=env, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                start_new_session=True, cwd=team.root)
    (team.root / "run" / f"{name}.pid").write_text(str(proc.pid))
    return proc.pid


def _pid(team: Team, name: str) -> int | None:
    try:
        pid = int((team.root / "run" / f"{name}.pid").read_text())
    except (OSError, ValueError):
        return None
    return pid if _running(pid) else None


def _alive(team: Team, name: str) -> bool:
    return _pid(team, name) is not None


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except (ProcessLookupError, PermissionError):
        return False
    try:  # a zombie (ended, not yet reaped by its parent) is not running
        return Path(f"/proc/{pid}/stat").read_text().split(") ")[-1][:1] != "Z"
    except OSError:
        return True


def _stop(pid: int, wait_s: float = 15.0) -> None:
    """SIGTERM to the process's group (it started its own session), then SIGKILL after `wait_s`."""
    if pid <= 0:
        return
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pid, sig)
        except (ProcessLookupError, PermissionError):
            return
        deadline = time.monotonic() + wait_s
        while time.monotonic() < deadline:
            if not _running(pid):
                return
            time.sleep(0.1)


def _run(cmd: list[str], what: str, env: dict[str, str] | None = None) -> None:
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=120, env=env)
    if result.returncode != 0:
        detail = (result.stderr or result.stdout).strip().splitlines()
        raise TeamError(f"{what} failed: {detail[-1] if detail else result.returncode}")


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _wait_port(team: Team, name: str, port: int) -> None:
    deadline = time.monotonic() + START_S
    while not _port_open(port):
        _check_alive(team, name)
        if time.monotonic() > deadline:
            raise TeamError(f"{name} did not start within {START_S:.0f} s: see {_log(team, name)}")
        time.sleep(0.1)


def _wait_http(team: Team, name: str, url: str, say) -> None:
    deadline = time.monotonic() + START_S
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        _check_alive(team, name)
        if time.monotonic() > deadline:
            raise TeamError(f"{name} did not answer within {START_S:.0f} s: see {_log(team, name)}")
        time.sleep(0.2)


def _check_alive(team: Team, name: str) -> None:
    if (team.root / "run" / f"{name}.pid").exists() and not _alive(team, name):
        raise TeamError(f"{name} stopped as it started: see {_log(team, name)}{_log_tail(team, name)}")


def _log(team: Team, name: str) -> Path:
    return team.root / "logs" / f"{name}.log"


def _log_tail(team: Team, name: str, lines: int = 5) -> str:
    """The log's last lines, so that the error says why where the log is gone (a CI run's temp folder)."""
    try:
        tail = _log(team, name).read_text(errors="replace").strip().splitlines()[-lines:]
    except OSError:
        return ""
    return "".join(f"\n  {line}" for line in tail)
