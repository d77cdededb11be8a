"""Copy an MLflow store into another (a data home's SQLite store into a team's tracking server, and
back): every experiment's runs with their parameters, metrics, tags and artifacts, and every
registered model's versions (same numbers), tags and aliases. The workbench's rows name versions as
`models:/<name>/<version>`, which stay true; run ids change, and the map is returned."""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

import mlflow
from mlflow.entities import Metric, Param
from mlflow.exceptions import MlflowException

from workbench.models.registry import artifact_location, reachable, tracking
from workbench.settings import Settings

_SYSTEM_TAGS = ("mlflow.log-model.history",)


def copy_store(source: Settings, target: Settings) -> dict[str, str]:
    """Copy every run and registered model of `source`'s MLflow store into `target`'s, which must
    hold no registered model; old run id -> new run id."""
    os.environ["MLFLOW_SUPPRESS_PRINTING_URL_TO_STDOUT"] = "true"  # no "View run at" line per run
    runs: dict[str, str] = {}
    with reachable(source) as src, reachable(target) as dst, tempfile.TemporaryDirectory() as tmp:
        if dst.search_registered_models(max_results=1):
            raise MlflowException("The target MLflow store already holds models; nothing was copied.")
        for experiment in src.search_experiments():
            if experiment.name == "Default":
                continue
            found = dst.get_experiment_by_name(experiment.name)
            new_experiment = found.experiment_id if found else dst.create_experiment(
                experiment.name, tags=experiment.tags, artifact_location=artifact_location(target))
            for run in _all_runs(src, experiment.experiment_id):
                runs[run.info.run_id] = _copy_run(src, dst, run, new_experiment, Path(tmp))
        for model in src.search_registered_models():
            _copy_model(source, target, src, dst, model.name, runs, Path(tmp))
    return runs


def _all_runs(client, experiment_id: str) -> list:
    found, token = [], None
    while True:
        page = client.search_runs([experiment_id], max_results=500, page_token=token)
        found += list(page)
        token = page.token
        if not token:
            return found


def _copy_run(src, dst, run, experiment_id: str, tmp: Path) -> str:
    tags = {k: v for k, v in run.data.tags.items() if k not in _SYSTEM_TAGS}
    new = dst.create_run(experiment_id, start_time=run.info.start_time, tags=tags,
                         run_name=run.info.run_name)
    metrics = [Metric(k, v, run.info.start_time or 0, 0) for k, v in run.data.metrics.items()]
    params = [Param(k, v) for k, v in run.data.params.items()]
    dst.log_batch(new.info.run_id, metrics=metrics, params=params)
    folder = tmp / f"run-{run.info.run_id}"
    folder.mkdir()
    if src.list_artifacts(run.info.run_id):
        local = src.download_artifacts(run.info.run_id, "", str(folder))
        dst.log_artifacts(new.info.run_id, local)
    dst.set_terminated(new.info.run_id, run.info.status, end_time=run.info.end_time)
    return new.info.run_id


def _copy_model(source, target, src, dst, name: str, runs: dict[str, str], tmp: Path) -> None:
    model = src.get_registered_model(name)
    dst.create_registered_model(name, tags=model.tags, description=model.description)
    versions = sorted(src.search_model_versions(f"name = '{name}'"), key=lambda v: int(v.version))
    number = 0
    for version in versions:
        while number + 1 < int(version.version):  # a deleted version: keep the numbers
            gap = dst.create_model_version(name, "models:/none", tags={"placeholder": "true"})
            dst.delete_model_version(name, gap.version)
            number += 1
        folder = tmp / f"model-{name}-{version.version}"
        with tracking(source):
            local = mlflow.artifacts.download_artifacts(f"models:/{name}/{version.version}",
                                                        dst_path=str(folder))
        run_id = runs.get(version.run_id or "")
        if run_id is None:
            raise MlflowException(f"Version {version.version} of {name} has no run; nothing more was copied.")
        dst.log_artifacts(run_id, local, f"registered/{version.version}")
        storage = f"{dst.get_run(run_id).info.artifact_uri}/registered/{version.version}"
        made = dst.create_model_version(name, storage, run_id=run_id, tags=version.tags,
                                        description=version.description)
        number = int(made.version)
    for alias, version in src.get_registered_model(name).aliases.items():
        dst.set_registered_model_alias(name, alias, str(version))
