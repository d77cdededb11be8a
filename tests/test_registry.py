"""The model registry on a real MLflow SQLite store in a temp folder: train, register, the gate
rejects a worse challenger, forced promotion with a reason, archive, rollback, audit rows, the
model_artifacts mirror, permissions, tenants and an unreachable store."""

from __future__ import annotations

import dataclasses
import json
import os
from datetime import datetime

import numpy as np
import polars as pl
import pytest
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from tests.conftest import ROOT, ctx_of
from workbench import home
from workbench.errors import Conflict, InvalidInput, NotAllowed, NotFound
from workbench.models import promotion, registry, tabular
from workbench.models.churn import service as churn_service
from workbench.models.churn import training as churn


def customers(n: int = 400, signal: float = 1.0, seed: int = 1) -> pl.DataFrame:
    """A customer table whose churn depends on recency, sessions and plan (scaled by `signal`)."""
    rng = np.random.default_rng(seed)
    recency, sessions = rng.exponential(10, n), rng.poisson(5, n)
    plan = rng.choice(["free", "pro"], n)
    logit = signal * (0.2 * recency - 0.4 * sessions + 0.9 * (plan == "free")) - 0.3
    return pl.DataFrame(
        {
            "customer_id": [f"c{i}" for i in range(n)],
            "recency": recency,
            "sessions": sessions,
            "plan": plan,
            "noise": rng.normal(size=n),
            "churned": rng.random(n) < 1 / (1 + np.exp(-logit)),
        }
    )


def register(wb, ctx, frame: pl.DataFrame, name: str = "customers") -> None:
    """Register a frame as a CSV dataset of the user's organisation."""
    with wb.store.connect() as con:
        tabular.register_file(ctx, con, wb.settings, frame.write_csv().encode(), name, filename=f"{name}.csv")


def train_on(ctx, wb, dataset: str = "customers", **options) -> dict:
    """Churn trained on a registered dataset's `churned` column, as the page and the CLI train."""
    return churn_service.train(ctx, wb, dataset=dataset, target="churned", **options)


@pytest.fixture
def trained(demo_copy):
    """The dataset `customers` registered; v1: a good logistic regression on it, promoted to
    production; v2: a model on noise alone, in staging."""
    wb = home.Workbench(demo_copy)
    dan = ctx_of(wb.store, "dan")
    register(wb, dan, customers())
    good = train_on(dan, wb, algorithms=("logistic_regression",))
    with wb.store.connect() as con:
        promotion.promote(dan, con, demo_copy, "churn", good["version"])
    worse = train_on(dan, wb, features=["noise"], algorithms=("logistic_regression",))
    return demo_copy, wb, good, worse


def state(wb, ctx) -> tuple:
    """What the registry looks like: the mirror, the audit and MLflow's aliases and tags."""
    settings = wb.settings
    with wb.store.connect() as con:
        mirror = [(v["version"], v["stage"]) for v in registry.versions(ctx, con, "churn")]
        audit = len(registry.history(ctx, con, "churn"))
    client = MlflowClient(settings.mlflow_tracking_uri)
    rname = registry.registered_name(ctx.org_id, "churn")
    aliases = {alias: str(v) for alias, v in client.get_registered_model(rname).aliases.items()}
    tags = {int(v.version): v.tags.get("stage") for v in client.search_model_versions(f"name = '{rname}'")}
    return mirror, audit, aliases, tags


def test_training_registers_a_staging_version_mirrored_and_audited(trained):
    settings, wb, good, worse = trained
    dan = ctx_of(wb.store, "dan")
    assert good["metrics"]["roc_auc"] > 0.8 and worse["metrics"]["roc_auc"] < 0.65
    # MLflow's global tracking URI does not leak into the environment (other homes, child processes)
    assert os.environ.get("MLFLOW_TRACKING_URI") != settings.mlflow_tracking_uri
    mirror, audit, aliases, tags = state(wb, dan)
    assert mirror == [(2, "staging"), (1, "production")]
    assert aliases == {"production": "1", "staging": "2"}
    assert tags == {1: "production", 2: "staging"}
    with wb.store.connect() as con:
        v2 = registry.version_of(dan, con, "churn", 2)
        history = registry.history(dan, con, "churn")
    assert (v2["created_by"], v2["source"], v2["run_id"]) == ("dan", "dataset customers", worse["run_id"])
    assert v2["params"]["numeric"] == ["noise"]
    assert [(h["version"], h["from_stage"], h["to_stage"], h["action"]) for h in history] == [
        (2, None, "staging", "register"),
        (1, "staging", "production", "promote"),
        (1, None, "staging", "register"),
    ]
    run = MlflowClient(settings.mlflow_tracking_uri).get_run(good["run_id"])
    assert run.data.metrics["log_model_seconds"] < 2
    assert {"roc_auc", "pr_auc", "brier", "cv_roc_auc_mean"} <= set(run.data.metrics)
    files = {
        f.path
        for f in MlflowClient(settings.mlflow_tracking_uri).list_artifacts(good["run_id"], "evaluation")
    }
    assert {
        "evaluation/calibration.png",
        "evaluation/confusion_matrix.png",
        "evaluation/roc.png",
        "evaluation/permutation_importance.png",
        "evaluation/holdout.parquet",
    } <= files


def test_the_gate_rejects_a_worse_challenger_and_changes_nothing(trained):
    settings, wb, _good, _worse = trained
    dan = ctx_of(wb.store, "dan")
    before = state(wb, dan)
    gate = pytest.raises(registry.GateFailed, match="did not pass the gate on roc_auc")
    with wb.store.connect() as con, gate:
        promotion.promote(dan, con, settings, "churn", 2)
    assert state(wb, dan) == before


def test_a_better_challenger_passes_and_the_old_production_is_archived(trained):
    settings, wb, good, _worse = trained
    dan = ctx_of(wb.store, "dan")
    again = train_on(dan, wb, algorithms=("logistic_regression",))
    with wb.store.connect() as con:
        result = promotion.promote(dan, con, settings, "churn", again["version"])
    # the same data and seed: as good as production on the same holdout, which the gate accepts
    assert result["gate"]["challenger"] == pytest.approx(result["gate"]["production"])
    mirror, _audit, aliases, _tags = state(wb, dan)
    assert mirror == [(3, "production"), (2, "staging"), (1, "archived")] and aliases["production"] == "3"


def test_registry_changes_leave_mlflows_process_wide_uri_alone(trained, monkeypatch):
    """Only logging and loading a model point MLflow's global URI at the home (under a lock); a
    promotion, a rollback or a gate's downloads use their own client, so they never wait on a
    training in another session, nor see another home."""
    import mlflow

    settings, wb, good, worse = trained
    seen = []
    monkeypatch.setattr(mlflow, "set_tracking_uri", lambda uri: seen.append(uri))
    with wb.store.connect() as con:
        registry.archive(ctx_of(wb.store, "dan"), con, settings, "churn", worse["version"], "not better")
    assert seen == []
    assert state(wb, ctx_of(wb.store, "dan"))[2] == {"production": "1"}


def test_a_forced_promotion_needs_an_admin_and_a_reason(trained):
    settings, wb, _good, _worse = trained
    dan, alice = ctx_of(wb.store, "dan"), ctx_of(wb.store, "alice")
    with wb.store.connect() as con:
        with pytest.raises(NotAllowed):
            promotion.promote(dan, con, settings, "churn", 2, force=True, reason="trust me")
        with pytest.raises(InvalidInput, match="written reason"):
            promotion.promote(alice, con, settings, "churn", 2, force=True, reason="  ")
        promotion.promote(alice, con, settings, "churn", 2, force=True, reason="needed for the audit demo")
        last = registry.history(alice, con, "churn")[:2]
    assert [
        (h["version"], h["from_stage"], h["to_stage"], h["action"], h["changed_by"], h["reason"])
        for h in last
    ] == [
        (2, "staging", "production", "force", "alice", "needed for the audit demo"),
        (1, "production", "archived", "promote", "alice", "needed for the audit demo"),
    ]
    assert '"forced": true' in last[0]["metrics"]


def test_rollback_restores_the_previous_production_version(trained):
    settings, wb, _good, _worse = trained
    alice = ctx_of(wb.store, "alice")
    with wb.store.connect() as con:
        with pytest.raises(InvalidInput, match="no previous production"):
            registry.rollback(alice, con, settings, "churn", "bad release")
        promotion.promote(alice, con, settings, "churn", 2, force=True, reason="try it")
        with pytest.raises(InvalidInput, match="already in production"):
            promotion.promote(alice, con, settings, "churn", 2)
        restored = registry.rollback(alice, con, settings, "churn", "v2 flags everybody")
        assert restored["version"] == 1 and restored["stage"] == "production"
        assert registry.history(alice, con, "churn")[0]["action"] == "rollback"
    mirror, _audit, aliases, tags = state(wb, alice)
    assert mirror == [(2, "archived"), (1, "production")]
    assert aliases == {"production": "1"} and tags == {1: "production", 2: "archived"}


def test_archive_takes_a_version_out_of_staging(trained):
    settings, wb, _good, _worse = trained
    dan = ctx_of(wb.store, "dan")
    with wb.store.connect() as con:
        with pytest.raises(InvalidInput, match="why"):
            registry.archive(dan, con, settings, "churn", 2, "")
        registry.archive(dan, con, settings, "churn", 2, "trained on noise")
        with pytest.raises(InvalidInput, match="already archived"):
            registry.archive(dan, con, settings, "churn", 2, "again")
    mirror, _audit, aliases, _tags = state(wb, dan)
    assert mirror == [(2, "archived"), (1, "production")] and "staging" not in aliases


def test_roles_and_tenants(trained):
    settings, wb, _good, _worse = trained
    anna, mike, hannah = ctx_of(wb.store, "anna"), ctx_of(wb.store, "mike"), ctx_of(wb.store, "hannah")
    with pytest.raises(NotAllowed):
        train_on(anna, wb)
    with wb.store.connect() as con:
        assert [v["version"] for v in registry.versions(mike, con, "churn")] == [2, 1]  # models:read
        with pytest.raises(NotAllowed):
            promotion.promote(mike, con, settings, "churn", 2)
        assert registry.list_models(hannah, con) == [] and registry.history(hannah, con) == []
        with pytest.raises(NotFound):
            promotion.promote(hannah, con, settings, "churn", 2, force=True, reason="not mine")


def test_an_unreachable_mlflow_server_changes_nothing(trained, monkeypatch):
    settings, wb, _good, _worse = trained
    alice = ctx_of(wb.store, "alice")
    before = state(wb, alice)
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    offline = dataclasses.replace(settings, mlflow_tracking_uri="http://127.0.0.1:9")
    with wb.store.connect() as con, pytest.raises(registry.RegistryUnavailable, match="Nothing was changed"):
        promotion.promote(alice, con, offline, "churn", 2, force=True, reason="server down")
    assert state(wb, alice) == before


def test_bad_targets_give_a_clear_message(demo_copy):
    wb = home.Workbench(demo_copy)
    dan = ctx_of(wb.store, "dan")
    frame = customers(100)
    for bad, message in [
        (frame.with_columns(churned=pl.lit(True)), r"has only one class \(True\); churn needs two"),
        (frame.with_columns(churned=pl.Series(np.arange(100) % 3)), r"has 3 classes \(0, 1, 2\)"),
        (frame.head(0), "no rows"),
        (frame.select("churned", empty=pl.lit(None, pl.Float64)), "No usable feature"),
        (frame.head(20), "Too little data"),
    ]:
        with pytest.raises(InvalidInput, match=message):
            churn_service.train(dan, wb, frame=bad, target="churned")
    with wb.store.connect() as con:
        assert registry.list_models(dan, con) == []


def test_the_cli_trains_on_a_dataset_promotes_and_rolls_back(cli_env):
    from tests.test_cli import run

    sample = str(ROOT / "data" / "samples" / "churn-customers.csv")
    assert run(cli_env, "datasets", "add", sample, "--name", "customers", "--as", "dan").returncode == 0
    first = run(cli_env, "churn", "train", "--dataset", "customers", "--as", "dan", "--json")
    trained = json.loads(first.stdout)
    assert trained["version"] == 1 and trained["stage"] == "staging" and trained["metrics"]["roc_auc"] > 0.75
    assert {r["algorithm"] for r in trained["runs"]} == {"logistic_regression", "gradient_boosting"}
    text = run(cli_env, "churn", "train", "--dataset", "customers", "--as", "dan").stdout.splitlines()
    assert text[0].split()[:3] == ["algorithm", "ROC", "AUC"] and len(text) == 4  # both, side by side
    names = [line[:22].rstrip() for line in text[1:3]]
    assert {n.rstrip(" *") for n in names} == {"logistic regression", "gradient boosting"}
    assert sum(n.endswith(" *") for n in names) == 1
    assert text[3].startswith("* registered: churn version 2, in staging")
    assert "is in production" in run(cli_env, "models", "promote", "churn", "1", "--as", "dan").stdout
    refused = run(cli_env, "models", "promote", "churn", "2", "--min-improvement", "0.01", "--as", "dan")
    assert refused.returncode != 0 and "did not pass the gate" in refused.stderr
    forced = run(cli_env, "models", "promote", "churn", "2", "--force", "--reason", "hotfix", "--as", "alice")
    assert "forced" in forced.stdout
    back = run(cli_env, "models", "rollback", "churn", "--reason", "x", "--as", "alice")
    assert "version 1 is back" in back.stdout
    history = json.loads(run(cli_env, "models", "history", "churn", "--as", "mike", "--json").stdout)
    assert [h["action"] for h in history][:3] == ["rollback", "rollback", "force"]
    # the demo's own users: Northwind's members churn learnably (the bar: ROC AUC 0.80)
    own = json.loads(run(cli_env, "churn", "train", "--name", "member-churn", "--as", "dan", "--json").stdout)
    assert own["metrics"]["roc_auc"] >= 0.8 and own["version"] == 1
    refused = run(cli_env, "churn", "train", "--as", "diego")  # Helio has a handful of users
    assert refused.returncode != 0 and "Too little history" in refused.stderr


def test_names_kinds_and_unclear_targets_are_refused_before_anything_is_logged(trained):
    settings, wb, _good, _worse = trained
    dan, hannah = ctx_of(wb.store, "dan"), ctx_of(wb.store, "hannah")
    runs = len(
        MlflowClient(settings.mlflow_tracking_uri).search_runs(
            [registry.experiment_id(settings, dan.org_id, "churn")]
        )
    )
    for bad in ["", "Churn", "x'y", "a/b", "churn "]:
        with pytest.raises(InvalidInput, match="not a model name"):
            train_on(dan, wb, name=bad)
    with wb.store.connect() as con:
        with pytest.raises(InvalidInput, match="already a churn model"):
            registry.check_kind(dan, con, "churn", "forecast")
        registry.check_kind(hannah, con, "churn", "forecast")  # another organisation's name is free
    stayed_left = customers().with_columns(
        churned=pl.when(pl.col("churned")).then(pl.lit("b")).otherwise(pl.lit("a"))
    )
    register(wb, dan, stayed_left, "stayed-left")
    with pytest.raises(InvalidInput, match="Which target value means churned"):
        train_on(dan, wb, "stayed-left")
    with pytest.raises(InvalidInput, match="not over yet"):
        churn_service.train(dan, wb, cutoff=datetime.now())
    assert (
        len(
            MlflowClient(settings.mlflow_tracking_uri).search_runs(
                [registry.experiment_id(settings, dan.org_id, "churn")]
            )
        )
        == runs
    )


def test_another_organisations_run_plots_stay_hidden(trained):
    settings, wb, good, _worse = trained
    assert {"roc.png", "calibration.png"} <= set(
        churn.run_plots(ctx_of(wb.store, "dan"), settings, good["run_id"])
    )
    with pytest.raises(NotFound):
        churn.run_plots(ctx_of(wb.store, "hannah"), settings, good["run_id"])
    curves = churn.run_curves(ctx_of(wb.store, "dan"), settings, good["run_id"])  # the page's charts
    assert curves["roc"]["auc"] == pytest.approx(good["metrics"]["roc_auc"])
    assert sum(map(sum, curves["confusion"])) == good["metrics"]["holdout_rows"]
    assert curves["importance"] and {"feature", "importance", "std"} == set(curves["importance"][0])
    with pytest.raises(NotFound):
        churn.run_curves(ctx_of(wb.store, "hannah"), settings, good["run_id"])


def test_mlflow_failing_half_way_leaves_the_registry_as_it_was(trained, monkeypatch):
    settings, wb, _good, _worse = trained
    alice = ctx_of(wb.store, "alice")
    before = state(wb, alice)

    def fail_after_the_first_tag(client, rname, moves):
        client.set_model_version_tag(rname, moves[0][0], "stage", moves[0][1])
        raise MlflowException("INTERNAL_ERROR: disk full")

    monkeypatch.setattr(registry, "_apply_to_mlflow", fail_after_the_first_tag)
    with wb.store.connect() as con, pytest.raises(registry.RegistryError, match="Nothing was changed"):
        promotion.promote(alice, con, settings, "churn", 2, force=True, reason="try")
    assert state(wb, alice) == before
    monkeypatch.undo()

    def refuse(*args, **kwargs):
        raise MlflowException("INTERNAL_ERROR: alias refused")

    monkeypatch.setattr(MlflowClient, "set_registered_model_alias", refuse)
    with pytest.raises(registry.RegistryError):
        train_on(alice, wb, algorithms=("logistic_regression",))
    assert state(wb, alice) == before  # no mirror row, no MLflow version left behind


def test_the_gate_runs_reading_and_holds_only_if_production_did_not_change(trained):
    settings, wb, _good, _worse = trained
    dan, alice = ctx_of(wb.store, "dan"), ctx_of(wb.store, "alice")
    again = train_on(dan, wb, algorithms=("logistic_regression",))
    with wb.store.connect() as con:
        checked = promotion.check_promotion(dan, con, settings, "churn", again["version"])
        promotion.promote(alice, con, settings, "churn", 2, force=True, reason="meanwhile")
        with pytest.raises(Conflict, match="Production changed"):
            promotion.promote(dan, con, settings, "churn", again["version"], checked=checked)


def test_the_best_staged_candidate_and_the_hint_when_another_beats_the_one_chosen():
    """v2 (ROC AUC 0.950) was promoted while v1 (0.974) sat in staging, with no word. The picker now
    starts on the best staged candidate, and choosing another says which one records better, in
    the metric's own direction (lower Brier is better)."""
    versions = [
        {"version": 3, "stage": "production", "metrics": {"roc_auc": 0.990, "brier": 0.05}},
        {"version": 2, "stage": "staging", "metrics": {"roc_auc": 0.950, "brier": 0.08}},
        {"version": 1, "stage": "staging", "metrics": {"roc_auc": 0.974, "brier": 0.11}},
        {"version": 0, "stage": "archived", "metrics": {"roc_auc": 0.999, "brier": 0.01}},
    ]
    assert promotion.best_staged(versions, "roc_auc")["version"] == 1  # production and archived aside
    assert promotion.best_staged(versions, "brier")["version"] == 2
    hint = promotion.promotion_hint(versions, 2, "roc_auc", "ROC AUC")
    assert hint.startswith("v1 (staging) records a better ROC AUC than v2: 0.974 against 0.950 (higher")
    assert promotion.promotion_hint(versions, 1, "roc_auc", "ROC AUC") is None
    assert "lower is better" in promotion.promotion_hint(versions, 1, "brier", "Brier score")
    assert promotion.promotion_hint(versions, 2, "brier", "Brier score") is None
    tie = [{"version": 5, "stage": "staging", "metrics": {"mase": 0.8}},
           {"version": 4, "stage": "staging", "metrics": {"mase": 0.8}}]
    assert promotion.best_staged(tie, "mase")["version"] == 5
    assert promotion.best_staged([versions[0]], "roc_auc") is None
    assert not promotion.better_first("baseline_mase") and promotion.better_first("cv_roc_auc_mean")
