"""The real `workbench` command, run as a subprocess on copies of the demo."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKBENCH = str(Path(sys.executable).parent / "workbench")


def run(env, *args, stdin=None):
    return subprocess.run([WORKBENCH, *args], env=env, input=stdin, capture_output=True,
                          text=True, timeout=120)


COMMANDS = [[], ["init"], ["demo"], ["user"], ["user", "add"], ["user", "list"],
            ["user", "set-role"], ["serve"], ["ingest"], ["search"], ["index-repo"], ["doctor"],
            ["documents", "list"], ["documents", "delete"], ["usage", "import"], ["usage", "report"],
            ["prices", "list"], ["prices", "import"], ["prices", "set"], ["prices", "recompute"],
            ["prices", "unpriced"], ["datasets", "add"], ["datasets", "list"], ["datasets", "profile"],
            ["churn", "train"], ["churn", "score"], ["models", "list"], ["models", "promote"],
            ["models", "archive"], ["models", "rollback"], ["models", "history"], ["sql"], ["mlflow-ui"],
            ["forecast", "train"], ["forecast", "score"], ["backup"], ["restore"], ["audit"],
            ["user", "disable"], ["user", "enable"]]


@pytest.mark.parametrize("command", COMMANDS, ids=lambda c: " ".join(c) or "main")
def test_every_command_has_help(command):
    result = run(os.environ, *command, "--help")
    assert result.returncode == 0 and "Usage:" in result.stdout


def test_user_list_json_lists_username_organisation_roles(cli_env):
    result = run(cli_env, "user", "list", "--as", "alice", "--json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert {r["organization"] for r in rows} == {"Northwind Mobile"}
    assert {"username", "organization", "roles"} <= set(rows[0])
    assert next(r for r in rows if r["username"] == "mike")["roles"] == ["manager"]


def test_user_add_and_set_role(cli_env):
    added = run(cli_env, "user", "add", "zoe", "--email", "zoe@northwind.example", "--role",
                "analyst", "--password-stdin", "--as", "alice", "--json",
                stdin="a-long-password\n")
    assert added.returncode == 0, added.stderr
    assert json.loads(added.stdout)["roles"] == ["analyst"]
    changed = run(cli_env, "user", "set-role", "zoe", "manager", "--as", "alice")
    assert changed.returncode == 0 and "manager" in changed.stdout
    disabled = run(cli_env, "user", "disable", "zoe", "--as", "alice")
    assert disabled.returncode == 0 and "zoe is disabled" in disabled.stdout
    refused = run(cli_env, "audit", "--as", "mike")
    assert refused.returncode == 1 and "admin:full" in refused.stderr
    log = json.loads(run(cli_env, "audit", "--as", "alice", "--json").stdout)
    assert [(e["action"], e["target"]) for e in log] == [("user.disable", "zoe"), ("user.role", "zoe"),
                                                          ("user.add", "zoe")]
    listed = json.loads(run(cli_env, "user", "list", "--as", "alice", "--json").stdout)
    assert next(r for r in listed if r["username"] == "zoe")["roles"] == ["manager"]


@pytest.mark.parametrize("args, message", [
    (["user", "list", "--as", "nobody"], "No user named 'nobody'"),
    (["user", "list", "--as", "anna"], "users:manage"),
    (["user", "set-role", "anna", "wizard", "--as", "alice"], "Unknown role 'wizard'"),
    (["user", "set-role", "amir", "viewer", "--as", "alice"], "No user 'amir' in Northwind"),
])
def test_bad_input_is_one_line_and_changes_nothing(cli_env, args, message):
    before = run(cli_env, "user", "list", "--as", "hannah", "--json").stdout
    result = run(cli_env, *args)
    assert result.returncode == 1
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert run(cli_env, "user", "list", "--as", "hannah", "--json").stdout == before


def test_missing_data_home_says_what_to_do(tmp_path):
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "nowhere")}
    result = run(env, "user", "list", "--as", "alice")
    assert result.returncode == 1 and "workbench init" in result.stderr
    assert not (tmp_path / "nowhere").exists()


def test_init_then_first_admin_then_demo_refuses(tmp_path):
    env = {**os.environ, "WORKBENCH_HOME": str(tmp_path / "home")}
    first = run(env, "init", "--json")
    assert first.returncode == 0 and json.loads(first.stdout)["migrations_applied"]
    again = run(env, "init", "--json")
    assert json.loads(again.stdout)["migrations_applied"] == []
    org = run(env, "init", "--org", "Initech", "--admin", "peter", "--email", "p@initech.test",
              "--password-stdin", stdin="tps-reports-2026\n")
    assert org.returncode == 0, org.stderr
    listed = json.loads(run(env, "user", "list", "--as", "peter", "--json").stdout)
    assert [(r["username"], r["roles"]) for r in listed] == [("peter", ["admin"])]
    demo = run(env, "demo")
    assert demo.returncode == 1 and "empty" in demo.stderr


def test_unreadable_database_is_named(tmp_path):
    (tmp_path / "workbench.duckdb").write_text("not a database")
    result = run({**os.environ, "WORKBENCH_HOME": str(tmp_path)}, "user", "list", "--as", "alice")
    assert result.returncode == 1 and "not a valid DuckDB database" in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_starts_streamlit_without_a_full_collection_after_every_run(tmp_path, monkeypatch):
    # Streamlit's default runs gc.collect() after each page run: with the model and MLflow loaded it
    # cost more CPU than the page (bench/load.py); the repository's config.toml says the same
    import tomllib

    from click.testing import CliRunner

    from workbench.cli import main as cli_main

    started = {}
    monkeypatch.setattr(cli_main.os, "execve", lambda exe, cmd, env: started.update(cmd=cmd, env=env))
    monkeypatch.setenv("WORKBENCH_HOME", str(tmp_path / "home"))
    result = CliRunner().invoke(cli_main.main, ["serve", "--no-api", "--port", "8599"])
    assert result.exit_code == 0, result.output
    cmd = started["cmd"]
    assert cmd[cmd.index("--runner.postScriptGC") + 1] == "false"
    assert cmd[cmd.index("--server.port") + 1] == "8599"
    config_file = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"
    config = tomllib.loads(config_file.read_text())
    assert config["runner"]["postScriptGC"] is False
