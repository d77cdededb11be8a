"""CLI commands for churn models and the model registry: train, score, list, promote (through the
gate or forced by an admin with a reason), archive, roll back, history."""

from __future__ import annotations

from datetime import datetime

import click

from workbench import home
from workbench.cli.common import (
    acting,
    as_option,
    context_of,
    emit,
    json_option,
    load_settings,
    reading,
    workbench,
)


@click.group("churn")
def churn_group() -> None:
    """Churn models: train on your users (or a dataset) and score with the production version."""


@churn_group.command("train")
@click.option("--dataset", help="A registered dataset (CSV/Parquet) instead of the workbench's users.")
@click.option("--target", default="churned", show_default=True, help="The dataset's binary target column.")
@click.option("--name", default="churn", show_default=True, help="Registered model name.")
@click.option(
    "--cutoff",
    type=click.DateTime(["%Y-%m-%d"]),
    help="Workbench data: features before this day, churn after it (default: the latest possible).",
)
@click.option("--horizon", default=30, show_default=True, help="Days without activity that count as churn.")
@click.option(
    "--threshold", default=0.5, show_default=True, help="Risk above which a user counts as churning."
)
@as_option
@json_option
def train_command(dataset, target, name, cutoff, horizon, threshold, as_user, as_json) -> None:
    """Train a logistic regression and gradient boosting, log both to MLflow, register the better."""
    from workbench.models import registry
    from workbench.models.churn import service

    def progress(fraction: float, message: str) -> None:
        if not as_json:
            click.echo(f"[{fraction:4.0%}] {message}", err=True)

    registry.check_name(name)  # before anything is opened
    result = service.train(  # the file is held to read the data and to register, not while training
        context_of(as_user),
        workbench(),
        dataset=dataset,
        target=target,
        cutoff=cutoff,
        horizon_days=horizon,
        name=name,
        threshold=threshold,
        progress=progress,
    )
    lines = [f"{'algorithm':<22} {'ROC AUC':>8} {'PR AUC':>7} {'Brier':>6} {'CV ROC AUC':>15}  MLflow run"]
    for run in result["runs"]:  # both algorithms side by side, the registered one marked
        m, name_of = run["metrics"], run["algorithm"].replace("_", " ")
        mark = " *" if run["run_id"] == result["run_id"] else ""
        cv = f"{m['cv_roc_auc_mean']:.3f} ± {m['cv_roc_auc_std']:.3f}"
        lines.append(f"{name_of + mark:<22} {m['roc_auc']:>8.3f} {m['pr_auc']:>7.3f} {m['brier']:>6.3f}"
                     f" {cv:>15}  {run['run_id']}")
    lines.append(f"* registered: {result['name']} version {result['version']}, in staging (the better"
                 " cross-validated ROC AUC). Higher ROC AUC and PR AUC are better, lower Brier is.")
    emit(result, as_json, "\n".join(lines))


@churn_group.command("score")
@click.option("--name", default="churn", show_default=True, help="Registered model name.")
@click.option(
    "--cutoff", type=click.DateTime(["%Y-%m-%d"]), help="Score activity before this day (default now)."
)
@as_option
@json_option
def score_command(name, cutoff, as_user, as_json) -> None:
    """Score your organisation's active users with the production version (analytics_results)."""
    from workbench.models.churn import service

    result = service.score(context_of(as_user), workbench(), name=name, cutoff=cutoff or datetime.now())
    emit(
        result,
        as_json,
        f"Scored {result['scored']:,} active customers with {name} version {result['version']}: "
        f"{result['at_risk']:,} at risk. Not scored: {result['excluded']['left']:,} who have already left"
        f" (no activity in the last {result['horizon_days']} days), {result['excluded']['staff']:,} staff.",
    )


@click.group("models")
def models_group() -> None:
    """The model registry: versions, stages (staging, production, archived) and their history."""


@models_group.command("list")
@click.argument("name", required=False)
@as_option
@json_option
def list_command(name, as_user, as_json) -> None:
    """Your organisation's models, or the versions of one."""
    from workbench.models import registry

    with reading(as_user) as (ctx, con):
        rows = registry.versions(ctx, con, name) if name else registry.list_models(ctx, con)
    if name:
        lines = [
            f"v{r['version']:<4} {r['stage']:<11} {r['params'].get('algorithm', r['kind']):<20} "
            + "  ".join(
                f"{k} {r['metrics'][k]:.3f}" for k in ("roc_auc", "pr_auc", "mase") if k in r["metrics"]
            )
            + f"  by {r['created_by']} {r['created_at']:%Y-%m-%d %H:%M}"
            for r in rows
        ]
    else:
        lines = [
            f"{r['name']:<28} {r['kind'] or '-':<9} {r['versions']} versions, production "
            f"{'v' + str(r['production']) if r['production'] else 'none'}, latest v{r['latest']}"
            for r in rows
        ]
    emit(rows, as_json, "\n".join(lines) or "No models yet. Train one: workbench churn train --as USER.")


@models_group.command("promote")
@click.argument("name")
@click.argument("version")
@click.option("--metric", help="Gate metric (default roc_auc for churn, mase for forecasts).")
@click.option("--threshold", type=float, help="The challenger must also reach this value.")
@click.option("--min-improvement", type=float, help="Better than production by at least this much.")
@click.option("--force", is_flag=True, help="Skip the gate (admins only; needs --reason).")
@click.option("--reason", default="", help="Why; required with --force.")
@as_option
@json_option
def promote_command(
    name, version, metric, threshold, min_improvement, force, reason, as_user, as_json
) -> None:
    """Promote a version to production; the current production version is archived."""
    from workbench.models import promotion

    settings, checked = load_settings(), None
    if not force:  # the gate scores both versions reading only; the file is held to write after
        with acting(as_user) as (ctx, con):
            checked = promotion.check_promotion(
                ctx,
                con,
                settings,
                name,
                version,
                metric=metric,
                threshold=threshold,
                min_improvement=min_improvement,
            )
    with acting(as_user, write=True) as (ctx, con):
        row = promotion.promote(ctx, con, settings, name, version, reason=reason, force=force,
                                checked=checked)
    gate = row["gate"]
    how = (
        "forced"
        if gate.get("forced")
        else (
            f"gate passed on {gate['metric']}: {gate['challenger']:.4f}"
            + (f" vs production {gate['production']:.4f}" if gate.get("production") is not None else "")
        )
    )
    emit(row, as_json, f"{name} version {row['version']} is in production ({how}).")


@models_group.command("archive")
@click.argument("name")
@click.argument("version")
@click.option("--reason", required=True, help="Why the version is archived.")
@as_option
@json_option
def archive_command(name, version, reason, as_user, as_json) -> None:
    """Archive a version."""
    from workbench.models import registry

    with acting(as_user, write=True) as (ctx, con):
        row = registry.archive(ctx, con, load_settings(), name, version, reason)
    emit(row, as_json, f"{name} version {row['version']} is archived.")


@models_group.command("rollback")
@click.argument("name")
@click.option("--reason", required=True, help="Why the model is rolled back.")
@as_option
@json_option
def rollback_command(name, reason, as_user, as_json) -> None:
    """Restore the previous production version; the current one is archived."""
    from workbench.models import registry

    with acting(as_user, write=True) as (ctx, con):
        row = registry.rollback(ctx, con, load_settings(), name, reason)
    emit(row, as_json, f"{name} version {row['version']} is back in production.")


@models_group.command("history")
@click.argument("name", required=False)
@as_option
@json_option
def history_command(name, as_user, as_json) -> None:
    """Every stage transition: who, when, from, to, why."""
    from workbench.models import registry

    with reading(as_user) as (ctx, con):
        rows = registry.history(ctx, con, name)
    lines = [
        f"{r['at']:%Y-%m-%d %H:%M}  {r['name']} v{r['version']}: {r['from_stage'] or '-'} -> {r['to_stage']}"
        f" ({r['action']}) by {r['changed_by']}: {r['reason']}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "No transitions yet.")


@click.command("mlflow-ui")
def mlflow_ui_command() -> None:
    """Serve MLflow's own UI on the workbench's store, at WORKBENCH_MLFLOW_UI_URL."""
    import os
    import sys
    from urllib.parse import urlparse

    settings = load_settings()
    where = urlparse(settings.mlflow_ui_url)
    artifacts = home.artifacts_dir(settings)
    artifacts.mkdir(parents=True, exist_ok=True)
    cmd = [
        sys.executable,
        "-m",
        "mlflow",
        "ui",
        "--backend-store-uri",
        settings.mlflow_tracking_uri,
        "--default-artifact-root",
        artifacts.as_uri(),
        "--host",
        where.hostname or "127.0.0.1",
        "--port",
        str(where.port or 5000),
    ]
    from workbench.models.registry import shown_uri

    click.echo(f"MLflow UI on {settings.mlflow_ui_url} (store {shown_uri(settings.mlflow_tracking_uri)})")
    sys.stdout.flush()
    os.execv(sys.executable, cmd)  # become MLflow: a stop signal to this pid stops it
