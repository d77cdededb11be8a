"""Churn models: scikit-learn pipelines (numeric and categorical preprocessing) for a logistic
regression and a gradient-boosting classifier, a stratified holdout and stratified cross-validation
on the rest, metrics and plots, all logged to MLflow; the better model by cross-validated ROC AUC is
registered as a new staging version. The steps (`workbench_frame`, `fit`, `register_best`) are
composed by `churn.service`, which also scores users with the production version."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from pathlib import Path

import duckdb
import mlflow
import numpy as np
import polars as pl
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedKFold, cross_val_score, train_test_split
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler

from workbench.accounts.context import Context
from workbench.errors import InvalidInput, NotFound
from workbench.models import registry, tabular
from workbench.models.churn import features as churn_features
from workbench.models.churn import report as churn_report
from workbench.settings import Settings

ALGORITHMS = ("logistic_regression", "gradient_boosting")
POSITIVE = {
    "1",
    "1.0",
    "true",
    "yes",
    "y",
    "churned",
    "churn",
    "left",
    "lost",
    "cancelled",
    "canceled",
    "inactive",
    "gone",
    "attrited",
    "lapsed",
}
MIN_ROWS, MIN_PER_CLASS = 40, 10
Progress = Callable[[float, str], None]


def pipeline(algorithm: str, numeric: list[str], categorical: list[str], seed: int = 0) -> Pipeline:
    """Preprocessing (impute; scale numbers, one-hot categories) and the classifier."""
    # a feature may have no value in one cross-validation fold (few users rate answers): kept, as 0,
    # so every fold has the same columns and nothing warns
    numbers = Pipeline([("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                        ("scale", StandardScaler())])
    categories = Pipeline(
        [
            ("impute", SimpleImputer(strategy="constant", fill_value="missing")),
            ("onehot", OneHotEncoder(handle_unknown="ignore", min_frequency=5)),
        ]
    )
    prep = ColumnTransformer([("num", numbers, numeric), ("cat", categories, categorical)])
    if algorithm == "logistic_regression":
        model = LogisticRegression(max_iter=2000, class_weight="balanced")
    elif algorithm == "gradient_boosting":
        model = HistGradientBoostingClassifier(
            max_iter=200, learning_rate=0.08, early_stopping=False, random_state=seed
        )
    else:
        raise InvalidInput(f"Unknown algorithm {algorithm!r}: use one of {', '.join(ALGORITHMS)}.")
    return Pipeline([("prep", prep), ("model", model)])


def prepare(frame: pl.DataFrame, target: str, features: list[str] | None = None) -> tuple:
    """Split a frame into features X (pandas, for scikit-learn and MLflow) and a 0/1 target y,
    with numeric and categorical column lists. Raises InvalidInput on data that cannot train."""
    frame = tabular.typed(frame)[0]  # blanks are missing, numbers held as text are numbers
    classes = tabular.check_binary_target(frame, target)  # the same words as the dataset profile
    frame = frame.filter(pl.col(target).is_not_null())
    nested = [c for c in frame.columns if frame.schema[c].is_nested()]
    if nested:
        raise InvalidInput(
            f"Columns {', '.join(nested)} hold lists or records; churn needs one value per cell."
        )
    frame = frame.with_columns(  # an infinite number is as unknown as a missing one: imputed
        pl.when(pl.col(c).is_infinite()).then(None).otherwise(pl.col(c)).alias(c)
        for c in frame.columns
        if frame.schema[c].is_float()
    )
    features = [c for c in (features or frame.columns) if c != target]
    empty = [c for c in features if frame.get_column(c).null_count() == frame.height]
    features = [c for c in features if c not in empty and not tabular.is_identifier(frame, c)]
    if not features:
        raise InvalidInput("No usable feature columns: every column is empty or an identifier.")
    positive = _positive_class(classes)
    y = (frame.get_column(target) == positive).cast(pl.Int8).to_numpy()
    counts = np.bincount(y, minlength=2)
    if frame.height < MIN_ROWS or counts.min() < MIN_PER_CLASS:
        raise InvalidInput(
            f"Too little data to train and check a churn model: {frame.height} rows, "
            f"{counts[1]} churned and {counts[0]} not; it needs at least {MIN_ROWS} rows and "
            f"{MIN_PER_CLASS} of each class."
        )
    numeric = [c for c in features if _is_number(frame, c)]
    categorical = [c for c in features if c not in numeric]
    # every column, typed as the model sees them: the holdout keeps them all so that the promotion
    # gate can score a champion trained on other columns of the same data
    x = frame.select(
        pl.col(c).cast(pl.Float64) if _is_number(frame, c) else pl.col(c).cast(pl.String)
        for c in frame.columns
        if c != target
    ).to_pandas()
    return x, y, numeric, categorical, {"positive_class": str(positive), "dropped_empty": empty}


def _is_number(frame: pl.DataFrame, column: str) -> bool:
    return frame.schema[column].is_numeric() or frame.schema[column] == pl.Boolean


def fit(
    ctx: Context,
    settings: Settings,
    frame: pl.DataFrame,
    *,
    target: str = churn_features.TARGET,
    source: str = "workbench",
    features: list[str] | None = None,
    algorithms: tuple[str, ...] = ALGORITHMS,
    threshold: float = 0.5,
    holdout: float = 0.25,
    folds: int = 5,
    seed: int = 0,
    horizon_days: int | None = None,
    progress: Progress | None = None,
) -> dict:
    """Train every algorithm on the same split and log each as an MLflow run (metrics, plots, the
    model); the best is the one with the highest cross-validated ROC AUC. Needs no database, so a
    page or the CLI holds the file only to read the data and, after, to register. `horizon_days`:
    the churn definition of a model of the workbench's users, kept so that scoring uses it too."""
    ctx.require("models:train")
    step = progress or (lambda fraction, message: None)
    x, y, numeric, categorical, notes = prepare(frame, target, features)
    x_fit, x_hold, y_fit, y_hold = train_test_split(x, y, test_size=holdout, stratify=y, random_state=seed)
    columns = numeric + categorical
    experiment = registry.experiment_id(settings, ctx.org_id, "churn")
    runs = []
    for k, algorithm in enumerate(algorithms):
        step(k / (len(algorithms) + 1), f"Training {algorithm.replace('_', ' ')}")
        model = pipeline(algorithm, numeric, categorical, seed)
        cv = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
        cv_auc = cross_val_score(model, x_fit[columns], y_fit, cv=cv, scoring="roc_auc")
        model.fit(x_fit[columns], y_fit)
        metrics = churn_report.metrics(y_hold, model.predict_proba(x_hold[columns])[:, 1], threshold)
        metrics |= {"cv_roc_auc_mean": float(cv_auc.mean()), "cv_roc_auc_std": float(cv_auc.std())}
        params = {
            "algorithm": algorithm,
            "target": target,
            "source": source,
            "threshold": threshold,
            "holdout": holdout,
            "folds": folds,
            "rows": len(y),
            "churn_rate": round(float(y.mean()), 4),
            "numeric": numeric,
            "categorical": categorical,
        } | notes | ({"horizon_days": horizon_days} if horizon_days else {})
        run_id, uri = _log_run(settings, experiment, model, params, metrics, x_hold, y_hold, threshold)
        runs.append(
            {"algorithm": algorithm, "run_id": run_id, "model_uri": uri, "metrics": metrics, "params": params}
        )
    best = max(runs, key=lambda r: r["metrics"]["cv_roc_auc_mean"])
    return {"runs": runs, "best": best, "source": source, "steps": len(algorithms) + 1}


def register_best(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    fitted: dict,
    *,
    name: str = "churn",
    progress: Progress | None = None,
) -> dict:
    """Register the best fitted run as a new staging version of `name`."""
    step = progress or (lambda fraction, message: None)
    best = fitted["best"]
    step((fitted["steps"] - 1) / fitted["steps"], "Registering the best model")
    version = registry.register(
        ctx,
        con,
        settings,
        kind="churn",
        name=name,
        run_id=best["run_id"],
        metrics=best["metrics"],
        params=best["params"],
        source=fitted["source"],
        model_uri=best["model_uri"],
    )
    step(1.0, f"Registered {name} version {version['version']} in staging")
    return {
        "name": name,
        "version": version["version"],
        "stage": version["stage"],
        "run_id": best["run_id"],
        "algorithm": best["algorithm"],
        "metrics": best["metrics"],
        "params": best["params"],
        "runs": fitted["runs"],
    }


def workbench_frame(
    ctx: Context, con: duckdb.DuckDBPyConnection, *, cutoff: datetime | None = None, horizon_days: int = 30
) -> tuple[pl.DataFrame, str]:
    """The organisation's users as a training table (ids dropped) and its description; a clear
    error when there is too little history to learn from."""
    ctx.require("models:train")
    latest = churn_features.default_cutoff(con, ctx, horizon_days)
    cutoff = cutoff or latest
    if cutoff > latest:  # the label window must be over, or users still to come back count as churned
        raise InvalidInput(
            f"The {horizon_days} days after {cutoff:%Y-%m-%d} are not over yet in the data (the last "
            f"activity leaves room up to {latest:%Y-%m-%d}): users would count as churned before they had "
            "the chance to come back. Pick an earlier cutoff or a shorter horizon."
        )
    frame, excluded = churn_features.population(ctx, con, cutoff, horizon_days=horizon_days)
    left = int(frame.get_column(churn_features.TARGET).sum()) if frame.height else 0
    if frame.height < MIN_ROWS or min(left, frame.height - left) < MIN_PER_CLASS:
        raise InvalidInput(
            f"Too little history to learn churn: {frame.height} customers were active in the"
            f" {horizon_days} days before {cutoff:%Y-%m-%d} (leaving out {excluded['staff']} staff and"
            f" {excluded['left']} who had already left) and {left} of them had no activity in the"
            f" {horizon_days} days after it; "
            f"training needs at least {MIN_ROWS} users and {MIN_PER_CLASS} who left and stayed. Pick an "
            "earlier cutoff, or train on a registered dataset."
        )
    source = f"workbench users, cutoff {cutoff:%Y-%m-%d}, churn = no activity in {horizon_days} days"
    return frame.drop("user_id", "username"), source


def _log_run(settings, experiment, model, params, metrics, x_hold, y_hold, threshold) -> tuple[str, str]:
    """One MLflow run: parameters, metrics, plots, the holdout (for the promotion gate) and the
    model with its signature, an input example and explicit requirements (no inference: fast)."""
    holdout = x_hold.assign(**{"__target__": y_hold})
    x_hold = x_hold[list(model.feature_names_in_)]
    proba = model.predict_proba(x_hold)[:, 1]
    with (
        registry.tracking(settings),
        mlflow.start_run(experiment_id=experiment, run_name=params["algorithm"]) as run,
        tempfile.TemporaryDirectory() as tmp,
    ):
        mlflow.log_params({k: json.dumps(v) if isinstance(v, list | dict) else v for k, v in params.items()})
        mlflow.log_metrics(metrics)
        folder = Path(tmp)
        data = churn_report.curves(model, x_hold, y_hold, proba, threshold)
        (folder / "curves.json").write_text(json.dumps(data))
        for filename, figure in churn_report.figures(data).items():
            figure.savefig(folder / filename, dpi=90, bbox_inches="tight")
        holdout.to_parquet(folder / "holdout.parquet")
        mlflow.log_artifacts(tmp, artifact_path="evaluation")
        started = time.perf_counter()
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=mlflow.models.infer_signature(x_hold, proba),
            input_example=x_hold.head(3),
            pip_requirements=churn_report.requirements(),
            serialization_format="skops",
            skops_trusted_types=churn_report.trusted_types(model),
        )
        mlflow.log_metric("log_model_seconds", time.perf_counter() - started)
        return run.info.run_id, info.model_uri


def load(settings: Settings, uri: str):
    """A registered churn pipeline (scikit-learn, with predict_proba)."""
    with registry.tracking(settings):
        return mlflow.sklearn.load_model(uri)


def gate_metrics(settings: Settings, challenger: dict, champion: dict) -> tuple[dict, dict]:
    """Both versions' metrics on the challenger's holdout, at the challenger's threshold."""
    import pandas as pd

    with registry.reachable(settings) as client, tempfile.TemporaryDirectory() as tmp:
        holdout = pd.read_parquet(
            client.download_artifacts(challenger["run_id"], "evaluation/holdout.parquet", tmp)
        )
    y = holdout.pop("__target__").to_numpy()
    threshold = float(challenger["params"].get("threshold", 0.5))
    results = []
    for row in (challenger, champion):
        model = load(settings, row["artifact_uri"])
        missing = set(model.feature_names_in_) - set(holdout.columns)
        if missing:
            raise InvalidInput(
                f"Version {row['version']} needs columns the challenger's holdout lacks "
                f"({', '.join(sorted(missing))}): they were trained on different data. "
                "Compare them by hand and force the promotion with a reason."
            )
        x = _as_trained(holdout[model.feature_names_in_], row["params"])
        results.append(churn_report.metrics(y, model.predict_proba(x)[:, 1], threshold))
    return results[0], results[1]


def _positive_class(classes: list):
    """Which of two target values means churned: 1 / True / yes / churned / left / cancelled ...
    A pair that says neither way (e.g. "a" and "b") is refused rather than guessed."""
    for value in classes:
        if str(value).strip().lower() in POSITIVE:
            return value
    raise InvalidInput(
        f"Which target value means churned? Neither {classes[0]!r} nor {classes[1]!r} says so: use 1/0, "
        "true/false, yes/no, or churned, left, lost, cancelled or inactive for the churned rows."
    )


def run_plots(ctx: Context, settings: Settings, run_id: str) -> dict[str, bytes]:
    """The PNG plots logged with one of the organisation's churn runs, by file name (ROC,
    precision-recall, calibration...)."""
    ctx.require("models:read")
    with registry.reachable(settings) as client, tempfile.TemporaryDirectory() as tmp:
        _check_own_run(ctx, client, run_id)
        folder = Path(client.download_artifacts(run_id, "evaluation", tmp))
        return {p.name: p.read_bytes() for p in sorted(folder.glob("*.png"))}


def _as_trained(x, params: dict):
    """The holdout's columns with the types a version learned them with: a version trained before
    datasets were typed took numbers held as text for categories, and fed those numbers it would
    treat every value as unknown (and lose the gate without saying why)."""
    text = [c for c in params.get("categorical", []) if c in x.columns and x[c].dtype.kind in "if"]
    if not text:
        return x
    def as_text(value):
        if value != value:  # NaN: missing, as the blank cell it was read from
            return None
        return str(int(value)) if float(value).is_integer() else str(value)

    x = x.copy()
    for column in text:
        x[column] = x[column].map(as_text)
    return x


def _check_own_run(ctx: Context, client, run_id: str) -> None:
    mine = client.get_experiment_by_name(f"org{int(ctx.org_id)}/churn")
    if mine is None or client.get_run(run_id).info.experiment_id != mine.experiment_id:
        raise NotFound("No such run in your organisation.")


def run_curves(ctx: Context, settings: Settings, run_id: str) -> dict | None:
    """The data of one of the organisation's churn runs' plots (`report.curves`), for interactive
    charts; None for a run logged before it was kept."""
    ctx.require("models:read")
    with registry.reachable(settings) as client, tempfile.TemporaryDirectory() as tmp:
        _check_own_run(ctx, client, run_id)
        if not any(f.path == "evaluation/curves.json" for f in client.list_artifacts(run_id, "evaluation")):
            return None
        return json.loads(Path(client.download_artifacts(run_id, "evaluation/curves.json", tmp)).read_text())


def latest_scores(ctx: Context, con: duckdb.DuckDBPyConnection, name: str = "churn") -> dict | None:
    """The newest scoring run of a model: when, which version, and each user's risk and reasons."""
    ctx.require("models:read")
    rows = con.execute(
        "SELECT r.batch_id::VARCHAR, r.created_at, r.meta FROM analytics_results r"
        " JOIN model_artifacts m ON m.id = r.model_artifact_id"
        " WHERE r.org_id = ? AND r.result_type = 'churn_pred' AND m.name = ?"
        " AND r.batch_id = (SELECT r2.batch_id FROM analytics_results r2"
        "   JOIN model_artifacts m2 ON m2.id = r2.model_artifact_id"
        "   WHERE r2.org_id = ? AND r2.result_type = 'churn_pred' AND m2.name = ?"
        "   ORDER BY r2.created_at DESC, r2.id DESC LIMIT 1)",
        [ctx.org_id, name, ctx.org_id, name],
    ).fetchall()
    if not rows:
        return None
    users = sorted((json.loads(r[2]) for r in rows), key=lambda m: -m["risk"])
    return {
        "batch_id": rows[0][0],
        "scored_at": rows[0][1],
        "version": users[0]["version"],
        "cutoff": users[0]["cutoff"],
        "excluded": users[0].get("excluded"),  # None for scores made before the population rule
        "horizon_days": users[0].get("horizon_days", 30),
        "users": users,
    }
