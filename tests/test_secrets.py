"""Secrets stay secret: a user's password (set, reset, mistyped), an organisation API key, the LLM
endpoint's key and a password in the MLflow store's URI go through real flows (login, chat against an
OpenAI-compatible server, exports, a churn training run, the CLI, the pages), and then everything those
flows left behind is searched for them: the log records at DEBUG, error messages, CLI output,
downloads, every row of the database and every file of the data home (DuckDB, MLflow, artifacts)."""

from __future__ import annotations

import dataclasses
import hashlib
import io
import json
import logging
import subprocess

import polars as pl
import pytest
from streamlit.runtime.memory_media_file_storage import MemoryMediaFileStorage
from streamlit.testing.v1 import AppTest

from tests import fake_openai as fake_openai_module
from tests.conftest import ROOT, ctx_of
from tests.fake_openai import fake_openai_fixture  # noqa: F401 - the `fake_openai` fixture
from tests.test_cli import WORKBENCH
from tests.test_inert_html import shown as page_text  # every element the page sent, as text
from tests.test_pages import APP, app  # noqa: F401 - the `app` fixture
from workbench import home
from workbench.accounts import api_keys, auth, users
from workbench.calls import datasets
from workbench.chat import ask as chat
from workbench.chat import conversations
from workbench.chat.providers import ProviderError, Request
from workbench.chat.providers.openai import OpenAICompatible
from workbench.errors import WorkbenchError
from workbench.models import promotion, registry, tabular
from workbench.models.churn import service as churn_service
from workbench.search.embed import HashEmbedder
from workbench.usage import queries as usage

PASSWORD = "Plain-Pw-4c1d9e7b-sam"
RESET = "Reset-Pw-8a2f6b3c-sam"
MISTYPED = "Wrong-Pw-0b3c5d7e-sam"
CLI_PASSWORD = "Cli-Pw-5d7e1a9f-zed"
LLM_KEY = "sk-llm-9f8e7d6c5b4a3210-secret"
MLFLOW_PASSWORD = "Mlflow-Pw-1a2b3c4d"
OFFLINE_MLFLOW = f"http://admin:{MLFLOW_PASSWORD}@127.0.0.1:9/"
QUESTION = "Is a phone that arrives damaged replaced free of charge?"
OPENAI = ("--provider", "openai", "--model", "gpt-4o-mini")


def leaks(secrets: list[str], **places) -> list[str]:
    """Which secret shows up where: places are text or bytes."""
    found = []
    for where, content in places.items():
        data = content if isinstance(content, bytes) else str(content).encode("utf-8", "replace")
        found += [f"{secret!r} in {where}" for secret in secrets if secret.encode() in data]
    return found


def database_text(store) -> str:
    """Every value of every table, as text (DuckDB compresses its file: the bytes alone prove little)."""
    out = []
    with store.connect() as con:
        tables = [r[0] for r in con.execute(  # the workbench's own (main: DuckDB's, public: PostgreSQL's)
            "SELECT table_name FROM duckdb_tables() WHERE database_name = current_database()"
            " AND schema_name IN ('main', 'public')").fetchall()]
        for table in tables:
            columns = [r[0] for r in con.execute(
                "SELECT column_name FROM duckdb_columns() WHERE database_name = current_database()"
                " AND schema_name IN ('main', 'public') AND table_name = ?", [table]).fetchall()]
            listed = ", ".join(f'CAST("{c}" AS VARCHAR)' for c in columns)
            out += [f"{table}: {row}" for row in con.execute(f'SELECT {listed} FROM "{table}"').fetchall()]
    return "\n".join(out)


def files_of(folder) -> dict[str, bytes]:
    """Every file under the data home, with Parquet also read back as text."""
    found = {}
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        data = path.read_bytes()
        found[str(path.relative_to(folder))] = data
        if data[:4] == b"PAR1":
            try:
                found[f"{path.name} (read)"] = pl.read_parquet(io.BytesIO(data)).write_csv().encode()
            except Exception:  # noqa: BLE001 - a LanceDB or MLflow file that is not plain Parquet
                pass
    return found


@pytest.fixture
def world(demo_copy, fake_openai):
    """The demo with sam (a data scientist whose password was set, reset and mistyped) and an API key."""
    store = home.open_store(demo_copy)
    alice = ctx_of(store, "alice")
    with store.connect() as con:
        users.add_user(alice, con, "sam", "sam@northwind.example", PASSWORD, "data_scientist",
                       full_name="Sam Secret")
        users.reset_password(alice, con, "sam", RESET)
        key = api_keys.create_api_key(alice, con, "support-bot")["key"]
    remote = dataclasses.replace(demo_copy, llm_provider="openai", llm_base_url=fake_openai.url,
                                 llm_model="gpt-4o-mini", llm_api_key=LLM_KEY)
    return remote, store, key, fake_openai


def test_no_secret_reaches_logs_errors_exports_the_database_or_mlflow(world, caplog, monkeypatch):
    cfg, store, api_key, fake = world
    secrets = [PASSWORD, RESET, MISTYPED, api_key, LLM_KEY, MLFLOW_PASSWORD]
    caplog.set_level(logging.DEBUG)  # every logger, every level
    messages, exports = [], {}

    with store.connect() as con:  # logins and keys, right and wrong
        sam = auth.login(con, "sam", RESET)
        for username, password in [("sam", MISTYPED), ("sam", PASSWORD), ("nobody", MISTYPED)]:
            with pytest.raises(WorkbenchError) as failed:
                auth.login(con, username, password)
            messages.append(str(failed.value))
        assert api_keys.verify_api_key(con, api_key).org_name == "Northwind Mobile"
        with pytest.raises(WorkbenchError) as refused:
            api_keys.verify_api_key(con, api_key[:-1] + ("A" if api_key[-1] != "A" else "B"))
        messages.append(str(refused.value))
        exports["api key list"] = json.dumps(api_keys.list_api_keys(ctx_of(store, "alice"), con), default=str)

    wb = home.Workbench(cfg)  # the chat against an OpenAI-compatible server with the key
    assert isinstance(wb.embedder, HashEmbedder)  # the test settings' embedder
    answer = chat.ask(sam, wb, QUESTION)
    assert answer.content and fake.authorizations[-1] == f"Bearer {LLM_KEY}"  # the key was used
    # a refused key, and a careless server that echoes the key in its error text
    monkeypatch.setitem(fake_openai_module.ERRORS, "server_error",
                        (500, f"Upstream refused the key {LLM_KEY}.", "server_error", None))
    for mode in ("unauthorized", "server_error"):
        fake.mode = mode
        refused_answer = chat.ask(sam, wb, QUESTION, conversation_uuid=answer.conversation_uuid)
        messages.append(refused_answer.content)
        with pytest.raises(ProviderError) as provider_error:
            OpenAICompatible(cfg.llm_base_url, LLM_KEY, "gpt-4o-mini", max_retries=0).generate(
                Request(QUESTION, [], "Answer from the passages.", QUESTION))
        messages.append(str(provider_error.value))
    assert "Upstream refused the key ***" in messages[-1]
    fake.mode = "ok"

    with store.connect() as con:  # exports
        exports["conversation.md"] = conversations.export(sam, con, answer.conversation_uuid)
        exports["conversation.json"] = conversations.export(sam, con, answer.conversation_uuid, "json")
        listed = pl.DataFrame(users.list_users(ctx_of(store, "alice"), con), infer_schema_length=None)
        exports["users.csv"] = listed.drop("uuid").with_columns(pl.col("roles").list.join(", ")).write_csv()
        exports["qa.csv"] = datasets.export_qa(ctx_of(store, "anna"), con, cfg, "Customer care line")["data"]
        last_30_days = usage.Filters(*usage.period("Last 30 days"))
        exports["usage calls.csv"] = usage.calls(ctx_of(store, "alice"), con, last_30_days).write_csv()

    with store.connect() as con:  # a churn training run, logged to MLflow with these settings
        dataset = tabular.register_file(sam, con, cfg, ROOT / "data" / "samples" / "churn-customers.csv",
                                        "customers")
    trained = churn_service.train(sam, wb, dataset=dataset["uuid"], target="churned",
                                  algorithms=("logistic_regression",))
    assert trained["version"] >= 1
    with registry.reachable(cfg) as client:
        run = client.get_run(trained["run_id"])
    exports["mlflow run"] = json.dumps({"params": run.data.params, "tags": run.data.tags,
                                        "metrics": run.data.metrics})
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    with store.connect() as con, pytest.raises(WorkbenchError) as unreachable:
        offline = dataclasses.replace(cfg, mlflow_tracking_uri=OFFLINE_MLFLOW)
        promotion.promote(ctx_of(store, "alice"), con, offline, "churn", trained["version"], force=True,
                         reason="server down")
    messages.append(str(unreachable.value))
    assert "admin:***@127.0.0.1" in messages[-1]

    store_text = database_text(store)
    with store.connect() as con:
        con.execute("CHECKPOINT")
        stored_hash = con.execute("SELECT password_hash FROM users WHERE username = 'sam'").fetchone()[0]
        key_row = con.execute("SELECT key_hash, key_prefix FROM api_keys").fetchall()
    assert stored_hash.startswith("$argon2id$") and auth.verify_password(RESET, stored_hash)
    assert (hashlib.sha256(api_key.encode()).hexdigest(), api_key[:10]) in key_row
    found = leaks(
        secrets,
        logs="\n".join(r.getMessage() + (r.exc_text or "") for r in caplog.records) + caplog.text,
        messages="\n".join(messages),
        database=store_text,
        **{f"export {name}": data for name, data in exports.items()},
        **{f"file {name}": data for name, data in files_of(cfg.home).items()},
    )
    assert not found, found
    assert len(caplog.records) > 0 and "Max retries" in messages[-1]  # the search did look somewhere


def test_the_cli_prints_no_secret(world, cli_env, tmp_path):
    cfg, _store, api_key, fake = world
    env = {**cli_env, "WORKBENCH_LLM_API_KEY": LLM_KEY, "WORKBENCH_LLM_BASE_URL": fake.url,
           "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "0", "MLFLOW_HTTP_REQUEST_TIMEOUT": "2"}

    def cli(*args, stdin=None, extra=None):
        done = subprocess.run([WORKBENCH, *args], env={**env, **(extra or {})}, input=stdin,
                              capture_output=True, text=True, timeout=180)
        return done.returncode, done.stdout + done.stderr

    runs = {
        "user add": cli("user", "add", "zed", "--email", "zed@northwind.example", "--role", "analyst",
                        "--password-stdin", "--as", "alice", "--json", stdin=CLI_PASSWORD + "\n"),
        "user list": cli("user", "list", "--as", "alice", "--json"),
        "ask": cli("ask", QUESTION, "--as", "zed", *OPENAI, "--json"),
    }
    assert runs["user add"][0] == 0 and runs["ask"][0] == 0, runs
    assert fake.authorizations[-1] == f"Bearer {LLM_KEY}"
    fake.mode = "unauthorized"
    runs["ask refused"] = cli("ask", QUESTION, "--as", "zed", *OPENAI)
    fake.mode = "ok"
    runs["datasets add"] = cli("datasets", "add", str(ROOT / "data" / "samples" / "churn-customers.csv"),
                               "--name", "customers", "--as", "dan")
    runs["churn train offline"] = cli("churn", "train", "--dataset", "customers", "--target", "churned",
                                      "--as", "dan", extra={"MLFLOW_TRACKING_URI": OFFLINE_MLFLOW})
    assert runs["churn train offline"][0] == 1 and "admin:***@" in runs["churn train offline"][1], runs
    fresh = {**env, "WORKBENCH_HOME": str(tmp_path / "fresh")}
    runs["init"] = cli("init", "--org", "Fresh Org", "--admin", "root", "--email", "root@fresh.example",
                       "--password-stdin", stdin=PASSWORD + "\n", extra=fresh)
    assert runs["init"][0] == 0, runs["init"]
    found = leaks([PASSWORD, CLI_PASSWORD, LLM_KEY, MLFLOW_PASSWORD, api_key],
                  **{name: output for name, (_code, output) in runs.items()})
    assert not found, found
    store = home.open_store(cfg)
    assert not leaks([CLI_PASSWORD, LLM_KEY], database=database_text(store))
    fresh_home = tmp_path / "fresh"
    fresh_cfg = dataclasses.replace(cfg, home=fresh_home, db_path=fresh_home / "workbench.duckdb")
    assert not leaks([PASSWORD], database=database_text(home.open_store(fresh_cfg)))


@pytest.fixture
def downloads(monkeypatch):
    """The bytes of every download button the pages render."""
    captured: dict[str, bytes] = {}
    original = MemoryMediaFileStorage.load_and_get_id

    def spy(self, path_or_data, mimetype, kind, filename=None):
        if isinstance(path_or_data, bytes):
            captured[filename or mimetype] = path_or_data
        return original(self, path_or_data, mimetype, kind, filename)

    monkeypatch.setattr(MemoryMediaFileStorage, "load_and_get_id", spy)
    return captured




def test_the_pages_show_no_password_and_the_users_csv_holds_none(app, downloads):  # noqa: F811
    store = app
    with store.connect() as con:
        users.add_user(ctx_of(store, "alice"), con, "sam", "sam@northwind.example", PASSWORD, "analyst")
    at = AppTest.from_file(APP, default_timeout=30).run()
    seen = []
    for password in (MISTYPED, PASSWORD):
        at.text_input[0].input("sam")
        at.text_input[1].input(password)
        at.button[0].click().run()
        assert not at.exception
        seen.append("\n".join(e.value for e in at.error))
    assert seen[0] == "Wrong username or password." and "ctx" in at.session_state
    seen.append(str(at.session_state["ctx"]))
    at.switch_page("pages/account/my_account.py").run()
    at.text_input[0].input(PASSWORD)  # the current one
    at.text_input[1].input(RESET)
    at.text_input[2].input(RESET)
    at.button[0].click().run()
    assert not at.exception and at.success, at.error
    seen.append(page_text(at))
    # the admin logs in through the form too (pages/admin/users.py builds its frame from the first 100 rows'
    # types: until that is fixed, a last_login first seen after row 100 breaks it)
    admin = AppTest.from_file(APP, default_timeout=30).run()
    admin.text_input[0].input("alice")
    admin.text_input[1].input("workbench-demo")
    admin.button[0].click().run()
    admin.switch_page("pages/admin/users.py").run()
    assert not admin.exception
    seen.append(page_text(admin))
    users_csv = next(data for name, data in downloads.items() if name.endswith("users.csv"))
    assert b"sam@northwind.example" in users_csv and b"password" not in users_csv.lower()
    found = leaks([PASSWORD, MISTYPED, RESET], pages="\n".join(seen),
                  **{f"download {name}": data for name, data in downloads.items()})
    assert not found, found
