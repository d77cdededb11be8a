"""Settings come from the environment and every one is documented in the README."""

import re
from pathlib import Path

import pytest

from workbench import settings

README = (Path(__file__).resolve().parent.parent / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    table = README.split("## Settings", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"^\| `([A-Z_]+)` \|", table, re.MULTILINE))
    variables = {var for var, _help in settings.ENV.values()}
    assert variables == documented


def test_every_field_has_an_environment_variable():
    from dataclasses import fields
    from_profile_file = {"storage_options"}  # the object store's keys: the home's profile.env only
    assert {f.name for f in fields(settings.Settings)} - from_profile_file == set(settings.ENV)


def test_defaults_live_under_the_home(tmp_path):
    cfg = settings.from_env({"WORKBENCH_HOME": str(tmp_path)})
    assert cfg.db_path == tmp_path / "workbench.duckdb"
    assert cfg.lancedb_uri == str(tmp_path / "lancedb")
    assert cfg.mlflow_tracking_uri == f"sqlite:///{tmp_path / 'mlflow.db'}"
    assert cfg.llm_provider == "extractive" and cfg.upload_max_mb == 50


def test_environment_overrides(tmp_path):
    cfg = settings.from_env({"WORKBENCH_HOME": str(tmp_path), "WORKBENCH_UPLOAD_MAX_MB": "7",
                             "WORKBENCH_LOCK_WAIT_S": "0.5", "OPENAI_API_KEY": "sk-test",
                             "MLFLOW_TRACKING_URI": "http://127.0.0.1:5000"})
    assert cfg.upload_max_mb == 7 and cfg.lock_wait_s == 0.5
    assert cfg.llm_api_key == "sk-test" and "sk-test" not in repr(cfg)
    assert cfg.mlflow_tracking_uri == "http://127.0.0.1:5000"


def test_settings_are_frozen(tmp_path):
    cfg = settings.from_env({"WORKBENCH_HOME": str(tmp_path)})
    with pytest.raises(AttributeError):
        cfg.home = tmp_path / "x"


@pytest.mark.parametrize("env, message", [
    ({"WORKBENCH_UPLOAD_MAX_MB": "lots"}, "WORKBENCH_UPLOAD_MAX_MB must be a number"),
    ({"WORKBENCH_LLM_PROVIDER": "magic"}, "must be 'extractive' or 'openai'"),
    ({"WORKBENCH_DB_LINGER_S": "5"}, "WORKBENCH_DB_LINGER_S must be between 0 and 1"),
])
def test_bad_values_are_named(env, message):
    with pytest.raises(ValueError, match=message):
        settings.from_env(env)
