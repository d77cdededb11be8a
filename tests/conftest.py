"""Fixtures: real DuckDB files in temp folders; the demo loaded once per session for read-only
tests. With WORKBENCH_TEST_PROFILE=team, the same fixtures give data homes of the team profile:
each test's relational state in its own PostgreSQL database (copied from a template, 0.1 s), on a
PostgreSQL server each test worker starts on loopback."""

from __future__ import annotations

import os
import random
import shutil
import socket
import tempfile
import uuid
from datetime import datetime
from pathlib import Path

import pytest

from workbench import home, teamdb
from workbench.accounts import auth, context
from workbench.ops import demo, indexing
from workbench.ops import team as team_mod
from workbench.settings import PROFILE_FILE, Settings, write_profile

ROOT = Path(__file__).resolve().parent.parent
DEMO_TODAY = datetime(2026, 11, 20, 12, 0, 0)


PROFILE = os.environ.get("WORKBENCH_TEST_PROFILE", "embedded")
SCHEMA = "workbench_schema"  # the team profile's template: the schema, no organisation


class Postgres:
    """This worker's PostgreSQL server, and the databases its tests get."""

    def __init__(self, team: team_mod.Team) -> None:
        self.team = team

    def url(self, name: str) -> str:
        return self.team.postgres_url(name)

    def database(self, template: str = SCHEMA) -> str:
        """A new database copied from `template`; its URL."""
        import psycopg

        name = f"test_{uuid.uuid4().hex[:12]}"
        teamdb.release(self.url(template))  # a template is copied only with no session on it
        with psycopg.connect(self.url("postgres"), autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        return self.url(name)


def free_ports(size: int) -> int:
    """The first of `size` free loopback ports, below the kernel's range for outgoing connections.

    A port the kernel hands out (bind to 0) can be taken again by any process's next outgoing
    connection before the server that was meant to have it binds it."""
    ranges = Path("/proc/sys/net/ipv4/ip_local_port_range")
    low = int(ranges.read_text().split()[0]) if ranges.exists() else 32768
    rng = random.Random()
    for _ in range(100):
        base = rng.randrange(20000, low - size)
        if all(_free(base + i) for i in range(size)):
            return base
    raise RuntimeError("no block of free ports")


def _free(port: int) -> bool:
    with socket.socket() as s:
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
        return True


@pytest.fixture(scope="session")
def postgres():
    if PROFILE != "team":
        yield None
        return
    import psycopg

    top = Path(tempfile.mkdtemp(prefix="workbench-pg-"))
    top.chmod(0o711)  # PostgreSQL runs as the postgres user when the tests run as root
    team = team_mod.Team(Settings(home=top / "home"), base_port=free_ports(1))
    # no autovacuum: its ANALYZE would take transaction ids, which the SQL console's snapshots read
    # as changes (correct, but a test of the snapshot cache would see a copy too many)
    team_mod.start_postgres(team, say=lambda _line: None, options="-c autovacuum=off")
    server = Postgres(team)
    with psycopg.connect(server.url("postgres"), autocommit=True) as con:
        con.execute(f'CREATE DATABASE "{SCHEMA}"')
    # every test's database is a copy of this one and reads its lake's files: none is deleted while
    # the suite runs (a database with a lake of its own tidies as a deployment does)
    teamdb.create(server.url(SCHEMA), lake_path=str(top / "lake"),
                  lake_options={"expire_older_than": "1 day", "delete_older_than": "1 day"})
    yield server
    teamdb.release_all()
    team_mod.stop_postgres(team, say=lambda _line: None)
    shutil.rmtree(top, ignore_errors=True)


def pytest_collection_modifyitems(config, items):
    """On the team profile, tests of the DuckDB file's own behaviour (its lock, its format, a
    lingering connection, a backup of the file) do not apply: they are marked embedded_only."""
    if PROFILE != "team":
        return
    skip = pytest.mark.skip(reason="about the embedded profile's DuckDB file")
    for item in items:
        if item.get_closest_marker("embedded_only"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _close_team_connections():
    """Each test's PostgreSQL database gets its own pooled connections: close them after it."""
    yield
    if PROFILE == "team":
        teamdb.release_all()


def make_settings(home_dir: Path, postgres: Postgres | None, template: str = SCHEMA, **values) -> Settings:
    """Settings for a data home at `home_dir`: on the team profile, with a database of its own."""
    values = {"lock_wait_s": 1.0, "embedding_backend": "hash", **values}
    if postgres is not None:  # the home says so: any process or Settings pointed at it uses the database
        home_dir.mkdir(parents=True, exist_ok=True)
        write_profile(home_dir / PROFILE_FILE, {"WORKBENCH_PROFILE": "team",
                                                "WORKBENCH_POSTGRES_URL": postgres.database(template)})
    return Settings(home=home_dir, **values)


@pytest.fixture
def settings(tmp_path, postgres) -> Settings:
    return make_settings(tmp_path / "home", postgres)


@pytest.fixture
def store(settings):
    home.init(settings)
    return home.open_store(settings)


@pytest.fixture(scope="session")
def demo_home(tmp_path_factory, postgres) -> Settings:
    """A data home with the demo loaded, built once; copy it before writing to it."""
    cfg = make_settings(tmp_path_factory.mktemp("demo") / "home", postgres)
    home.init(cfg)
    store = home.open_store(cfg)
    demo.load(cfg, store, today=DEMO_TODAY)
    indexing.run(cfg)  # what `workbench demo` does next: documents, calls and QA pairs searchable
    return cfg


@pytest.fixture
def demo_copy(demo_home, tmp_path, postgres) -> Settings:
    """A private, writable copy of the demo data home."""
    return Settings(home=copy_home(demo_home, tmp_path / "home"), lock_wait_s=1.0, embedding_backend="hash")


def copy_home(source: Settings, target: Path) -> Path:
    """Copy a data home's folder to `target`; on the team profile, its database too (the copied
    profile.env would name the source's). Returns `target`, for Settings(home=target, ...)."""
    shutil.copytree(source.home, target)
    if source.profile == "team":  # the same server: its URL with another database
        server, template = source.postgres_url.rsplit("/", 1)
        name = f"test_{uuid.uuid4().hex[:12]}"  # this module may be loaded twice (as conftest too)
        teamdb.release(source.postgres_url)
        import psycopg

        with psycopg.connect(f"{server}/postgres", autocommit=True) as con:
            con.execute(f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
        write_profile(target / PROFILE_FILE, {"WORKBENCH_PROFILE": "team",
                                              "WORKBENCH_POSTGRES_URL": f"{server}/{name}"})
    return target


@pytest.fixture
def demo_store(demo_home):
    return home.open_store(demo_home)


def ctx_of(store, username: str) -> context.Context:
    with store.connect() as con:
        return auth.context_for(con, username)


@pytest.fixture
def cli_env(demo_copy) -> dict[str, str]:
    """Environment for running the real `workbench` command on a copy of the demo."""
    return {**os.environ, "WORKBENCH_HOME": str(demo_copy.home), "WORKBENCH_LOCK_WAIT_S": "1",
            "WORKBENCH_EMBEDDING_BACKEND": "hash"}
