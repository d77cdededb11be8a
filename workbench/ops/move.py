"""Move a data home between the profiles: an embedded home (DuckDB file, LanceDB folder, MLflow's
SQLite store) into a team deployment (PostgreSQL, LanceDB on s3://, the tracking server), and a
team deployment out into a new embedded home. Rows, vectors and registered models are copied, never
moved: the source is left as it was. Each part's counts are compared after the copy; when a part
fails, what was copied into the target is taken away again and the error says which part."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from itertools import product
from pathlib import Path

from workbench import home, teamdb
from workbench.errors import WorkbenchError
from workbench.models import registry_copy
from workbench.models.registry import reachable
from workbench.ops.backup import PATH_COLUMNS, path_prefixes
from workbench.settings import Settings

Say = Callable[[str], object]
FOLDERS = ("uploads", "exports", "results")  # the home's files the rows point at


def move_in(embedded: Settings, team: Settings, say: Say = print) -> dict:
    """Copy the embedded home `embedded` into the (empty) team deployment `team`, whose files live
    in the same data home folder."""
    if not embedded.db_path.exists():
        raise WorkbenchError(f"No embedded database at {embedded.db_path}: nothing to move.")
    source_vectors, target_vectors = home.open_vectors(embedded), home.open_vectors(team)
    if target_vectors.table_names():
        raise WorkbenchError(f"The team's vector store ({team.lancedb_uri}) is not empty; nothing was moved.")
    _check_empty_registry(team)
    report: dict = {}
    try:
        say("Copying the registered models...")
        runs = registry_copy.copy_store(embedded, team)
        report["model_runs"] = len(runs)
        say("Copying the vectors...")
        report["vectors"] = source_vectors.copy_to(target_vectors)
        say("Copying the database's rows...")
        report["rows"] = teamdb.move_in(embedded.db_path, team.postgres_url, team.storage_options,
                                       team.lake_path)
        with home.open_store(team).transaction() as con:
            _remap_runs(con, runs)
    except BaseException:
        _undo_team(team)
        raise
    return report


def move_out(team: Settings, embedded: Settings, say: Say = print) -> dict:
    """Copy the team deployment `team` into a new embedded data home `embedded` (its folder new or
    empty): the database file, the vectors folder, MLflow's SQLite store and the home's files."""
    target = embedded.home
    if target.exists() and any(target.iterdir()):
        raise WorkbenchError(f"{target} is not empty; nothing was moved. Choose a new folder.")
    target.mkdir(parents=True, exist_ok=True)
    report: dict = {}
    try:
        say("Copying the database's rows...")
        report["rows"] = teamdb.move_out(team.postgres_url, embedded.db_path, team.storage_options)
        say("Copying the vectors...")
        report["vectors"] = home.open_vectors(team).copy_to(home.open_vectors(embedded))
        say("Copying the registered models...")
        runs = registry_copy.copy_store(team, embedded)
        report["model_runs"] = len(runs)
        report["files"] = _copy_files(team.home, target)
        with home.open_store(embedded).transaction() as con:
            _remap_runs(con, runs)
            for (table, column), (old, new) in product(PATH_COLUMNS, path_prefixes(team.home, target)):
                con.execute(f"UPDATE {table} SET {column} = ? || substr({column}, ?)"
                            f" WHERE starts_with({column}, ?)", [new, len(old) + 1, old])
        home.init(embedded)  # the folders a home has
    except BaseException:
        shutil.rmtree(target, ignore_errors=True)
        raise
    return report


def _check_empty_registry(settings: Settings) -> None:
    with reachable(settings) as client:
        if client.search_registered_models(max_results=1):
            raise WorkbenchError(f"The team's MLflow store ({settings.mlflow_tracking_uri}) already holds "
                                 "models; nothing was moved.")


def _remap_runs(con, runs: dict[str, str]) -> None:
    """The copied rows name the copied runs."""
    for old, new in runs.items():
        con.execute("UPDATE model_artifacts SET mlflow_run_id = ? WHERE mlflow_run_id = ?", [new, old])


def _copy_files(source: Path, target: Path) -> int:
    copied = 0
    for name in FOLDERS:
        if (source / name).is_dir():
            shutil.copytree(source / name, target / name, dirs_exist_ok=True)
            copied += sum(1 for p in (target / name).rglob("*") if p.is_file())
    return copied


def _undo_team(team: Settings) -> None:
    """Take away what a failed move-in copied: the vectors, the registered models, the rows."""
    vectors = home.open_vectors(team)
    for name in vectors.table_names():
        vectors.drop(name)
    try:
        with reachable(team) as client:
            for model in client.search_registered_models():
                client.delete_registered_model(model.name)
    except WorkbenchError:
        pass
    teamdb.reset(team.postgres_url, team.storage_options, team.lake_path)
