"""The team deployment on one machine (`workbench team up`): PostgreSQL, the S3-compatible store,
MLflow's tracking server, two app processes and the API behind HAProxy, all real, on loopback, in
a temporary data home. Vectors land in the object store, models in the tracking server (runs in
PostgreSQL, artifacts in the object store), the load balancer keeps a browser on one app process,
and a stop leaves no process behind and loses nothing."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import boto3
import psycopg
import pytest
import requests

from tests.conftest import free_ports
from workbench import teamdb
from workbench.ops import team as team_mod
from workbench.settings import Settings

pytestmark = pytest.mark.slow
WORKBENCH = str(Path(sys.executable).parent / "workbench")


def run(args: list[str], env: dict[str, str], stdin: str | None = None) -> subprocess.CompletedProcess:
    result = subprocess.run([WORKBENCH, *args], env=env, capture_output=True, text=True, timeout=300,
                            input=stdin)
    assert result.returncode == 0, result.stderr + result.stdout
    return result


@pytest.fixture(scope="module")
def deployment():
    # PostgreSQL runs as the postgres user when the tests run as root: a folder it can pass through
    top = Path(tempfile.mkdtemp(prefix="workbench-team-"))
    top.chmod(0o711)
    home_dir = top / "home"
    base = free_ports(16)
    flags = ["--port", str(base + 15), "--base-port", str(base), "--apps", "2"]
    env = {**os.environ, "WORKBENCH_HOME": str(home_dir), "WORKBENCH_EMBEDDING_BACKEND": "hash",
           "WORKBENCH_LOCK_WAIT_S": "20"}
    for name in ("WORKBENCH_LANCEDB_URI", "MLFLOW_TRACKING_URI", "AWS_ENDPOINT_URL", "WORKBENCH_PROFILE",
                 "WORKBENCH_POSTGRES_URL"):
        env.pop(name, None)
    team = team_mod.Team(Settings(home=home_dir), port=base + 15, base_port=base, apps=2)
    try:
        run(["team", "up", "--demo", *flags], env)
        team_env = {**env, **dict(line.removeprefix("export ").split("=", 1) for line in
                                  run(["team", "env", *flags], env).stdout.splitlines())}
        deadline = time.monotonic() + 300  # the demo's background indexing, into the object store
        while json.loads(run(["index", "--status", "--json"], team_env).stdout)["state"] == "running":
            assert time.monotonic() < deadline, "the demo's indexing did not finish"
            time.sleep(1)
        yield team, flags, env, team_env
    finally:
        subprocess.run([WORKBENCH, "team", "down", *flags], env=env, capture_output=True, timeout=120)
        shutil.rmtree(top, ignore_errors=True)


def objects(team: team_mod.Team, prefix: str) -> list[str]:
    s3 = boto3.client("s3", endpoint_url=team.s3_endpoint, aws_access_key_id=team_mod.S3_KEY,
                      aws_secret_access_key=team_mod.S3_KEY, region_name="us-east-1")
    found = s3.list_objects_v2(Bucket=team_mod.BUCKET, Prefix=prefix)
    return [o["Key"] for o in found.get("Contents", [])]


def test_every_service_runs_on_loopback_and_the_vectors_and_the_lake_are_in_the_object_store(deployment):
    team, flags, env, team_env = deployment
    rows = json.loads(run(["team", "status", "--json", *flags], env).stdout)
    assert [r["service"] for r in rows] == ["postgres", "s3", "mlflow", "api", "app-1", "app-2", "haproxy"]
    assert all(r["running"] and r["address"].startswith("127.0.0.1:") for r in rows), rows
    assert team_env["WORKBENCH_LANCEDB_URI"].startswith("s3://")
    assert any(key.startswith("lancedb/") and ".lance/" in key for key in objects(team, "lancedb/"))
    assert not (team.settings.home / "lancedb").exists()  # nothing in the local folder
    # the usage rollups' Parquet files: in the lake, in the object store
    parquet = [key for key in objects(team, "lake/main/usage_daily/") if key.endswith(".parquet")]
    assert parquet
    assert not (team.settings.home / "lake").exists()
    found = run(["search", "roaming abroad", "--as", "anna", "--json"], team_env).stdout
    assert json.loads(found), found  # searched in the object store
    # the database password is the deployment's own, kept for the owner only
    assert (team.root / "secret").stat().st_mode & 0o077 == 0


def test_the_load_balancer_keeps_a_browser_on_one_app_process_and_routes_the_api(deployment):
    team, _flags, _env, team_env = deployment
    url = f"http://127.0.0.1:{team.port}"
    first, second = requests.Session(), requests.Session()
    assert first.get(url + "/_stcore/health", timeout=10).status_code == 200
    assert second.get(url + "/_stcore/health", timeout=10).status_code == 200
    servers = {first.cookies.get("WORKBENCH_SERVER"), second.cookies.get("WORKBENCH_SERVER")}
    assert servers == {"app1", "app2"}  # round robin for new browsers
    for _ in range(4):  # then each stays on its own process: the cookie is not set again
        response = first.get(url + "/_stcore/health", timeout=10)
        assert "WORKBENCH_SERVER" not in response.headers.get("set-cookie", "")
    key = run(["key", "create", "team-test", "--role", "analyst", "--as", "alice", "--json"],
              team_env).stdout
    secret = json.loads(key)["key"]
    models = requests.get(url + "/v1/models", headers={"Authorization": f"Bearer {secret}"}, timeout=30)
    assert models.status_code == 200 and models.json()["data"], models.text
    answer = requests.post(url + "/v1/chat/completions", headers={"Authorization": f"Bearer {secret}"},
                           json={"model": "workbench-documents",
                                 "messages": [{"role": "user", "content": "How does Travel Pass work?"}]},
                           timeout=120)
    assert answer.status_code == 200, answer.text
    assert answer.json()["workbench"]["sources"]


def test_models_go_to_the_tracking_server_with_runs_in_postgresql_and_artifacts_in_the_object_store(
        deployment):
    team, _flags, _env, team_env = deployment
    run(["churn", "train", "--as", "dan"], team_env)
    with psycopg.connect(team.postgres_url("mlflow")) as con:
        names = [r[0] for r in con.execute("SELECT name FROM registered_models ORDER BY name")]
    assert "org1.churn" in names
    assert objects(team, "mlflow/")  # the model's files
    assert not any((team.settings.home / local).exists() for local in ("mlflow.db", "mlartifacts"))
    listed = run(["models", "list", "--as", "dan", "--json"], team_env).stdout
    assert any(m["name"] == "churn" for m in json.loads(listed))


def test_a_stop_leaves_no_process_and_a_start_finds_everything_again(deployment):
    team, flags, env, team_env = deployment
    pids = [r["pid"] for r in team_mod.status(team)]
    stopped = json.loads(run(["team", "down", "--json", *flags], env).stdout)["stopped"]
    assert stopped == ["haproxy", "app-2", "app-1", "api", "mlflow", "s3", "postgres"]
    assert not any(team_mod._running(pid) for pid in pids)
    assert not any(r["running"] for r in team_mod.status(team))
    assert "Nothing was running" in run(["team", "down", *flags], env).stdout
    run(["team", "up", *flags], env)
    assert all(r["running"] for r in team_mod.status(team))
    assert json.loads(run(["search", "roaming abroad", "--as", "anna", "--json"], team_env).stdout)
    listed = json.loads(run(["models", "list", "--as", "dan", "--json"], team_env).stdout)
    assert any(m["name"] == "churn" for m in listed)  # test order: after the training above


def test_a_deployment_moves_out_to_an_embedded_home_and_back_in_with_everything_equal(deployment):
    team, flags, env, team_env = deployment
    top = Path(tempfile.mkdtemp(prefix="workbench-move-"))
    top.chmod(0o711)
    out = top / "embedded"
    try:
        moved = json.loads(run(["team", "move-out", "--to", str(out), "--json", *flags], env).stdout)
        options = Settings(home=team.settings.home).storage_options  # the lake's object store
        assert teamdb.counts_at(team.postgres_url("workbench"), list(moved["rows"]), options) == moved["rows"]
        assert moved["rows"]["llm_calls"] > 50_000 and moved["vectors"]["chunks"] > 100
        assert (out / "workbench.duckdb").exists() and (out / "mlflow.db").exists()
        embedded = {**env, "WORKBENCH_HOME": str(out)}
        # and back: the embedded home into a team deployment of its own (a new, empty one), before
        # any command adds a row (a search is metered)
        base = free_ports(16)
        back_flags = ["--port", str(base + 15), "--base-port", str(base), "--apps", "1"]
        back = team_mod.Team(Settings(home=out, profile="embedded"), port=base + 15, base_port=base, apps=1)
        try:
            again = json.loads(run(["team", "move-in", "--json", *back_flags], embedded).stdout)
            assert again["rows"] == moved["rows"] and again["vectors"] == moved["vectors"]
            assert again["model_runs"] == moved["model_runs"]
            # the embedded home still works on its own, and the deployment it moved into too
            for where in ({**embedded, "WORKBENCH_PROFILE": "embedded"}, {**embedded, **back.environment()}):
                assert json.loads(run(["search", "roaming abroad", "--as", "anna", "--json"], where).stdout)
                listed = json.loads(run(["models", "list", "--as", "dan", "--json"], where).stdout)
                assert [m["versions"] for m in listed if m["name"] == "churn"] == [1]
            # a second move into the same deployment is refused, and changes nothing
            refused = subprocess.run([WORKBENCH, "team", "move-in", *back_flags], env=embedded,
                                     capture_output=True, text=True, timeout=300)
            assert refused.returncode == 1, refused.stdout
            assert "not empty" in refused.stderr or "already" in refused.stderr, refused.stderr
        finally:
            subprocess.run([WORKBENCH, "team", "down", *back_flags], env=embedded, capture_output=True,
                           timeout=120)
    finally:
        shutil.rmtree(top, ignore_errors=True)


def test_two_app_processes_the_api_and_the_cli_write_at_once_and_lose_nothing(deployment):
    """Two browsers (one on each app process), the API and the CLI all write at the same time:
    chat turns with their metered calls, and call imports. Nobody sees a lock error, every write
    is there afterwards, and the usage rollups still add up to the raw calls."""
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, log_in, settle

    team, _flags, _env, team_env = deployment
    url = f"http://127.0.0.1:{team.port}"
    secret = json.loads(run(["key", "create", "writers", "--role", "analyst", "--as", "alice", "--json"],
                            team_env).stdout)["key"]
    question = "Is a phone that arrives damaged replaced free of charge? (asked by {})"
    failures: list[str] = []

    def api_writer() -> None:
        for i in range(4):
            answer = requests.post(url + "/v1/chat/completions", timeout=300,
                                   headers={"Authorization": f"Bearer {secret}"},
                                   json={"model": "workbench-documents", "messages": [
                                       {"role": "user", "content": question.format(f"api-{i}")}]})
            if answer.status_code != 200:
                failures.append(f"api {i}: {answer.status_code} {answer.text}")

    def cli_writer(folder: Path) -> None:
        for i in range(3):
            calls_file = str(folder / f"calls-{i}.csv")
            for args in (["ask", question.format(f"cli-{i}"), "--as", "lou"],
                         ["calls", "import", calls_file, "--project", "Customer care line", "--as", "anna"]):
                done = subprocess.run([WORKBENCH, *args], env=team_env, capture_output=True, text=True,
                                      timeout=300)
                if done.returncode != 0:
                    failures.append(f"cli {args[0]} {i}: {done.stderr}")

    folder = Path(tempfile.mkdtemp(prefix="workbench-writers-"))
    for i in range(3):
        rows = (f'W-{i}-{n},"Agent: Hello.\nCustomer: My parcel {i}-{n} is late."\n' for n in range(5))
        (folder / f"calls-{i}.csv").write_text("call_id,transcript\n" + "".join(rows))
    writers = [threading.Thread(target=api_writer), threading.Thread(target=cli_writer, args=(folder,))]
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            pages = [log_in(browser, url, user) for user in ("anna", "lou")]
            servers = {cookie["value"] for page in pages for cookie in page.context.cookies()
                       if cookie["name"] == "WORKBENCH_SERVER"}
            assert servers == {"app1", "app2"}, servers  # one browser on each app process
            for thread in writers:
                thread.start()
            for page in pages:
                page.get_by_test_id("stSidebarNav").get_by_role("link", name="Chat").click()
                page.get_by_test_id("stChatInputTextArea").wait_for(timeout=30_000)
            for i in range(3):  # the two browsers take turns, each with its answer still coming
                for n, page in enumerate(pages):
                    box = page.get_by_test_id("stChatInputTextArea")
                    box.fill(question.format(f"browser{n}-{i}"))
                    box.press("Enter")
                for page in pages:
                    page.get_by_test_id("stChatMessage").nth(2 * i + 1).wait_for(timeout=180_000)
                    settle(page, 180)
            for page in pages:
                shown = page.inner_text("body")
                assert not page.get_by_test_id("stException").count(), shown
                assert not any(word in shown for word in ("in use by", "locked", "Traceback")), shown
            browser.close()
    finally:
        for thread in writers:
            if thread.is_alive():
                thread.join(timeout=600)
        shutil.rmtree(folder, ignore_errors=True)
    assert not failures, failures
    with psycopg.connect(team.postgres_url("workbench")) as con:
        for who in [f"api-{i}" for i in range(4)] + [f"cli-{i}" for i in range(3)] + \
                [f"browser{n}-{i}" for n in range(2) for i in range(3)]:
            asked = con.execute("SELECT conversation_id, id FROM messages WHERE role = 'user'"
                                " AND content = %s", [question.format(who)]).fetchall()
            assert len(asked) == 1, (who, asked)  # saved once
            answered = con.execute(
                "SELECT count(*), count(DISTINCT l.message_id) FROM messages m JOIN llm_calls l ON"
                " l.message_id = m.id WHERE m.conversation_id = %s AND m.role = 'assistant' AND m.id > %s"
                " AND NOT EXISTS (SELECT 1 FROM messages u WHERE u.conversation_id = m.conversation_id"
                " AND u.role = 'user' AND u.id > %s AND u.id < m.id)", [asked[0][0], asked[0][1], asked[0][1]]
            ).fetchone()
            assert answered[1] == 1, (who, answered)  # its answer, metered
        imported = con.execute("SELECT count(*) FROM calls WHERE external_id LIKE 'W-%'").fetchone()[0]
        spoken = con.execute("SELECT count(*) FROM utterances u JOIN calls c ON c.id = u.call_id"
                             " WHERE c.external_id LIKE 'W-%'").fetchone()[0]
    assert imported == 15 and spoken == 30, (imported, spoken)
    # the rollups every Usage query reads still add up to the raw calls
    checked = subprocess.run([WORKBENCH, "doctor", "--json"], env=team_env, capture_output=True, text=True,
                             timeout=300)
    assert json.loads(checked.stdout)["stale_rollup_days"] == [], checked.stdout
