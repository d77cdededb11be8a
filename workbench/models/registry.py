"""The model registry: one MLflow registered model per organisation and model name, the stage
(staging, production, archived) carried by a version tag and the `staging` / `production` aliases
(MLflow's own stages are deprecated), mirrored row by row in `model_artifacts`, every transition
audited in `model_stage_transitions` with who, when, from, to, why and the metrics at that time.

Promotion to production passes a gate: the challenger and the current production version are
evaluated on the same holdout (the challenger's) and compared with `mlflow.validate_evaluation_results`
on one metric; an admin may force it with a written reason. Rollback restores the version that was
production before the current one."""

from __future__ import annotations

import json
import logging
import os
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import unquote, urlsplit

import duckdb
import mlflow
from mlflow.exceptions import MlflowException
from mlflow.tracking import MlflowClient

from workbench import home
from workbench.accounts.context import Context
from workbench.db import atomic, fetch_dicts, fetch_one
from workbench.errors import InvalidInput, NotFound, WorkbenchError
from workbench.settings import Settings

os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")  # no progress bars in logs
logging.getLogger("mlflow").setLevel(logging.WARNING)  # its INFO lines (validation passed...) are noise here

# The gate's default metric per kind of model and whether greater is better.
GATE_METRICS = {"churn": ("roc_auc", True), "forecast": ("mase", False)}
LOWER_IS_BETTER = {"mase", "smape", "mae", "brier", "log_loss"}


class RegistryUnavailable(WorkbenchError):
    """The MLflow store cannot be reached; nothing was changed."""


class RegistryError(WorkbenchError):
    """MLflow refused an operation (not a connection failure); nothing was changed."""


class GateFailed(InvalidInput):
    """The challenger did not pass the promotion gate; nothing was changed."""


NAME = re.compile(r"[a-z0-9][a-z0-9._-]{0,62}")


def check_name(name: str) -> str:
    """A model name: lower-case letters, digits, dot, dash and underscore, 1-63 characters."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise InvalidInput(
            f"{name!r} is not a model name: use 1-63 lower-case letters, digits, '.', '-' or "
            "'_', starting with a letter or digit (e.g. churn, forecast-cost)."
        )
    return name


def check_kind(ctx: Context, con: duckdb.DuckDBPyConnection, name: str, kind: str) -> None:
    """A name keeps one kind of model: a forecast never becomes a version of a churn model."""
    row = fetch_one(
        con,
        "SELECT any_value(kind) AS kind FROM model_artifacts WHERE org_id = ? AND name = ?",
        [ctx.org_id, name],
    )
    if row and row["kind"] and row["kind"] != kind:
        raise InvalidInput(f"{name!r} is already a {row['kind']} model; give the {kind} model another name.")


def registered_name(org_id: int, name: str) -> str:
    """The MLflow registered model of an organisation's model: tenants never share one."""
    return f"org{int(org_id)}.{name}"


@contextmanager
def reachable(settings: Settings) -> Iterator[MlflowClient]:
    """An MLflow client on this data home's store (MLflow's own global URI untouched); any failure
    to reach the store becomes one clear error."""
    try:
        uri = settings.mlflow_tracking_uri
        yield MlflowClient(tracking_uri=uri, registry_uri=uri)
    except MlflowException as exc:
        # MLflow's messages repeat the store's URL, password included: mask it, and leave the
        # original exception unchained so that no traceback carries it either
        uri, cause = settings.mlflow_tracking_uri, redact(_first_line(exc), settings.mlflow_tracking_uri)
        if not _connection_failure(exc):
            raise RegistryError(f"MLflow refused this: {cause}. Nothing was changed.") from None
        raise RegistryUnavailable(
            f"The MLflow store at {shown_uri(uri)} cannot be reached: {cause}. Nothing was changed;"
            " check MLFLOW_TRACKING_URI or start the server, then try again."
        ) from None
    except (OSError, ConnectionError) as exc:
        raise RegistryUnavailable(
            f"The MLflow store at {shown_uri(settings.mlflow_tracking_uri)} cannot be reached"
            f" ({redact(str(exc), settings.mlflow_tracking_uri)}). Nothing was changed; check"
            " MLFLOW_TRACKING_URI or start the server, then try again."
        ) from None


_FLUENT = threading.RLock()


@contextmanager
def tracking(settings: Settings) -> Iterator[MlflowClient]:
    """`reachable`, with MLflow's fluent API (start_run, log_model, load_model) pointed at this data
    home's store for the block. Only logging and loading a model need it: MLflow 3 offers no client
    form of them and reads one process-wide URI (kept in the environment too, where it would leak
    into other homes and child processes), so the block holds a lock and puts the previous URI back."""
    with _FLUENT, reachable(settings) as client:
        before = os.environ.get("MLFLOW_TRACKING_URI")
        try:
            mlflow.set_tracking_uri(settings.mlflow_tracking_uri)
            yield client
        finally:
            mlflow.set_tracking_uri(before)
            if before is None:
                os.environ.pop("MLFLOW_TRACKING_URI", None)


def experiment_id(settings: Settings, org_id: int, kind: str) -> str:
    """The organisation's MLflow experiment for one kind of model, created on first use with its
    artifacts in the data home (a remote server keeps its own artifact store)."""
    name = f"org{int(org_id)}/{kind}"
    with reachable(settings) as client:
        found = client.get_experiment_by_name(name)
        if found is not None:
            return found.experiment_id
        location = artifact_location(settings)
        try:
            return client.create_experiment(name, artifact_location=location, tags={"org_id": str(org_id)})
        except MlflowException as exc:  # another session made it meanwhile (its first training too)
            made = exc.error_code == "RESOURCE_ALREADY_EXISTS"
            found = client.get_experiment_by_name(name) if made else None
            if found is None:
                raise
            return found.experiment_id


def artifact_location(settings: Settings) -> str | None:
    """Where a new experiment keeps its artifacts: the data home for a local store; None for a
    server, which keeps its own."""
    if settings.mlflow_tracking_uri.startswith("sqlite:") or "://" not in settings.mlflow_tracking_uri:
        folder = home.artifacts_dir(settings)
        folder.mkdir(parents=True, exist_ok=True)
        return folder.as_uri()
    return None


def register(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    kind: str,
    name: str,
    run_id: str,
    metrics: dict,
    params: dict | None = None,
    source: str = "",
    model_uri: str | None = None,
) -> dict:
    """Register the model logged by a run as a new version of the organisation's model, in staging.
    `model_uri` is the logged model's URI (`model_info.model_uri` of `log_model`: in MLflow 3 the
    model lives apart from the run's artifacts); `runs:/{run_id}/model` when not given."""
    ctx.require("models:train")
    check_name(name)
    check_kind(ctx, con, name, kind)
    rname = registered_name(ctx.org_id, name)
    with reachable(settings) as client:
        try:
            client.get_registered_model(rname)
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_DOES_NOT_EXIST":
                raise
            client.create_registered_model(rname, tags={"org_id": str(ctx.org_id), "kind": kind})
        storage, model_id = _storage(client, model_uri or f"runs:/{run_id}/model")
        version = client.create_model_version(rname, storage, run_id=run_id, tags={"stage": "staging"},
                                              model_id=model_id)
        try:
            with atomic(con):
                row = fetch_one(
                    con,
                    "INSERT INTO model_artifacts (org_id, name, version, artifact_uri, mlflow_run_id, stage,"
                    " metrics, created_by, kind, registered_name, params, source, updated_at)"
                    " VALUES (?, ?, ?, ?, ?, 'staging', ?, ?, ?, ?, ?, ?, current_localtimestamp())"
                    " RETURNING id",
                    [
                        ctx.org_id,
                        name,
                        str(version.version),
                        f"models:/{rname}/{version.version}",
                        run_id,
                        json.dumps(metrics),
                        ctx.user_id,
                        kind,
                        rname,
                        json.dumps(params or {}),
                        source,
                    ],
                )
                _audit(con, ctx, row["id"], None, "staging", "register", "trained", metrics)
                # inside the transaction: if MLflow refuses the alias, the mirror rows go too
                client.set_registered_model_alias(rname, "staging", str(version.version))
        except BaseException:
            client.delete_model_version(rname, str(version.version))  # no registry version without its mirror
            raise
    return version_of(ctx, con, name, version.version)


def _storage(client: MlflowClient, model_uri: str) -> tuple[str, str | None]:
    """A logged model's storage and id (MLflow's store would look `models:/m-...` up through its
    process-wide URI, not this client's)."""
    if model_uri.startswith("models:/m-"):
        model_id = model_uri.removeprefix("models:/")
        return client.get_logged_model(model_id).artifact_location, model_id
    return model_uri, None


def list_models(ctx: Context, con: duckdb.DuckDBPyConnection) -> list[dict]:
    """The organisation's models: versions, the production and newest versions, last change."""
    ctx.require("models:read")
    return fetch_dicts(
        con,
        "SELECT name, any_value(kind) AS kind, count(*) AS versions,"
        " max(CASE WHEN stage = 'production' THEN version::INTEGER END) AS production,"
        " max(version::INTEGER) AS latest, max(coalesce(updated_at, created_at)) AS changed_at"
        " FROM model_artifacts WHERE org_id = ? GROUP BY name ORDER BY name",
        [ctx.org_id],
    )


def versions(ctx: Context, con: duckdb.DuckDBPyConnection, name: str) -> list[dict]:
    """Every version of one model, newest first, with its stage and metrics."""
    ctx.require("models:read")
    rows = fetch_dicts(
        con,
        "SELECT m.id, m.name, m.version::INTEGER AS version, m.kind, m.stage, m.metrics, m.params, m.source,"
        " m.artifact_uri, m.mlflow_run_id AS run_id, u.username AS created_by, m.created_at"
        " FROM model_artifacts m LEFT JOIN users u ON u.id = m.created_by"
        " WHERE m.org_id = ? AND m.name = ? ORDER BY m.version::INTEGER DESC",
        [ctx.org_id, name],
    )
    for row in rows:
        row["metrics"] = json.loads(row["metrics"] or "{}")
        row["params"] = json.loads(row["params"] or "{}")
    return rows


def version_of(ctx: Context, con: duckdb.DuckDBPyConnection, name: str, version: int | str) -> dict:
    """One version of one of the organisation's models; NotFound otherwise."""
    for row in versions(ctx, con, name):
        if str(row["version"]) == str(version):
            return row
    raise NotFound(f"No version {version} of a model named {name!r} in your organisation.")


def production(ctx: Context, con: duckdb.DuckDBPyConnection, name: str) -> dict | None:
    """The version of a model now in production, if any."""
    return next((v for v in versions(ctx, con, name) if v["stage"] == "production"), None)


def production_of_kind(ctx: Context, con: duckdb.DuckDBPyConnection, name: str, kind: str) -> dict:
    """The production version of a model of this kind, or a clear error saying what is missing."""
    current = production(ctx, con, name)
    if current is None:
        raise InvalidInput(f"{name} has no production version yet: promote one on the Models page first.")
    if current["kind"] != kind:
        raise InvalidInput(f"{name} is a {current['kind']} model, not a {kind} model.")
    return current


def history(ctx: Context, con: duckdb.DuckDBPyConnection, name: str | None = None) -> list[dict]:
    """Every stage transition of the organisation's models (or one model), newest first."""
    ctx.require("models:read")
    return fetch_dicts(
        con,
        "SELECT t.created_at AS at, m.name, m.version::INTEGER AS version, t.from_stage, t.to_stage,"
        " t.action, u.username AS changed_by, t.reason, t.metrics FROM model_stage_transitions t"
        " JOIN model_artifacts m ON m.id = t.model_artifact_id LEFT JOIN users u ON u.id = t.changed_by"
        " WHERE m.org_id = ? AND (? IS NULL OR m.name = ?) ORDER BY t.created_at DESC, t.id DESC",
        [ctx.org_id, name, name],
    )


def archive(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    version: int | str,
    reason: str,
) -> dict:
    """Archive a version (staging or production)."""
    ctx.require("models:promote")
    target = version_of(ctx, con, name, version)
    if target["stage"] == "archived":
        raise InvalidInput(f"Version {target['version']} of {name} is already archived.")
    if not reason.strip():
        raise InvalidInput("Say why the version is archived.")
    move_stage(ctx, con, settings, name, [(target, "archived", "archive")], reason.strip(), target["metrics"])
    return version_of(ctx, con, name, version)


def previous_production(ctx: Context, con: duckdb.DuckDBPyConnection, name: str) -> dict | None:
    """The version that was production before the current one (the last to leave production)."""
    current = production(ctx, con, name)
    row = fetch_one(
        con,
        "SELECT m.version FROM model_stage_transitions t JOIN model_artifacts m ON m.id = t.model_artifact_id"
        " WHERE m.org_id = ? AND m.name = ? AND t.from_stage = 'production' AND m.stage = 'archived'"
        " AND m.version <> ? ORDER BY t.created_at DESC, t.id DESC LIMIT 1",
        [ctx.org_id, name, str(current["version"]) if current else ""],
    )
    return version_of(ctx, con, name, row["version"]) if row else None


def rollback(
    ctx: Context, con: duckdb.DuckDBPyConnection, settings: Settings, name: str, reason: str
) -> dict:
    """Restore the previous production version in one action; the current one becomes archived."""
    ctx.require("models:promote")
    if not reason.strip():
        raise InvalidInput("Say why the model is rolled back.")
    previous = previous_production(ctx, con, name)
    if previous is None:
        raise InvalidInput(f"{name} has no previous production version to roll back to.")
    current = production(ctx, con, name)
    moves = [(current, "archived", "rollback")] if current else []
    moves.append((previous, "production", "rollback"))
    move_stage(ctx, con, settings, name, moves, reason.strip(), previous["metrics"])
    return version_of(ctx, con, name, previous["version"])


def move_stage(
    ctx, con, settings, name: str, moves: list[tuple[dict, str, str]], reason: str, metrics: dict
) -> None:
    """Apply stage moves to the mirror and the audit, then to MLflow, in one transaction: if MLflow
    fails the mirror is rolled back and MLflow's tags and aliases are put back."""
    rname = registered_name(ctx.org_id, name)
    with reachable(settings) as client:
        model = client.get_registered_model(rname)  # fails early, before anything changes
        before_aliases = {alias: str(v) for alias, v in model.aliases.items()}
        before_tags = {str(v["version"]): v["stage"] for v, _, _ in moves}
        try:
            with atomic(con):
                for row, stage, action in moves:
                    con.execute(
                        "UPDATE model_artifacts SET stage = ?, updated_at = current_localtimestamp()"
                        " WHERE id = ?",
                        [stage, row["id"]],
                    )
                    _audit(con, ctx, row["id"], row["stage"], stage, action, reason, metrics)
                _apply_to_mlflow(client, rname, [(str(row["version"]), stage) for row, stage, _ in moves])
        except BaseException:
            # MLflow failed half-way, or the commit failed after MLflow changed: put MLflow back
            _restore_mlflow(client, rname, before_aliases, before_tags)
            raise


def _apply_to_mlflow(client: MlflowClient, rname: str, moves: list[tuple[str, str]]) -> None:
    aliases = client.get_registered_model(rname).aliases
    for version, stage in moves:
        client.set_model_version_tag(rname, version, "stage", stage)
        for alias in ("staging", "production"):
            if str(aliases.get(alias)) == version and alias != stage:
                client.delete_registered_model_alias(rname, alias)
        if stage == "production":
            client.set_registered_model_alias(rname, "production", version)


def _restore_mlflow(client: MlflowClient, rname: str, aliases: dict, tags: dict[str, str]) -> None:
    try:
        for version, stage in tags.items():
            client.set_model_version_tag(rname, version, "stage", stage)
        for alias in ("staging", "production"):
            if alias in aliases:
                client.set_registered_model_alias(rname, alias, aliases[alias])
            elif alias in client.get_registered_model(rname).aliases:
                client.delete_registered_model_alias(rname, alias)
    except MlflowException:
        pass  # the store is gone; the mirror was rolled back and `workbench doctor` reports the drift


def _audit(con, ctx: Context, artifact_id: int, from_stage, to_stage: str, action: str, reason: str, metrics):
    con.execute(
        "INSERT INTO model_stage_transitions (model_artifact_id, from_stage, to_stage, changed_by, reason,"
        " metrics, action) VALUES (?, ?, ?, ?, ?, ?, ?)",
        [artifact_id, from_stage, to_stage, ctx.user_id, reason, json.dumps(metrics, default=float), action],
    )


def _connection_failure(exc: MlflowException) -> bool:
    """Whether MLflow could not reach its store (rather than refusing the request)."""
    text = str(exc)
    return any(
        word in text for word in ("Max retries", "Connection", "connect", "timed out", "unable to open")
    )


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def shown_uri(uri: str) -> str:
    """The MLflow store as named in messages: a SQLite file's path, else the URI without its password."""
    return str(Path(uri[len("sqlite:///") :])) if uri.startswith("sqlite:///") else redact(uri, uri)


def redact(text: str, uri: str) -> str:
    """`text` with the password of `uri` (scheme://user:password@host) masked as ***."""
    try:
        password = urlsplit(uri).password
    except ValueError:
        return text
    if not password:
        return text
    return text.replace(password, "***").replace(unquote(password), "***")
