"""The churn jobs the app, the CLI and the notebooks run: train (on the organisation's users or a
registered dataset) and score the active users with the production version. Each holds the
database only to read and to write, never while a model fits or predicts, so the app and other
commands keep working meanwhile (DESIGN.md, who holds the database)."""

from __future__ import annotations

import io
import json
from datetime import datetime

import polars as pl

from workbench.accounts.context import Context
from workbench.db import Store
from workbench.errors import InvalidInput
from workbench.home import Workbench
from workbench.models import registry, results, tabular
from workbench.models.churn import features as churn_features
from workbench.models.churn import report as churn_report
from workbench.models.churn import training


def train(
    ctx: Context,
    wb: Workbench,
    *,
    dataset: str | None = None,
    frame: pl.DataFrame | None = None,
    source: str = "a table",
    target: str = churn_features.TARGET,
    cutoff: datetime | None = None,
    horizon_days: int = 30,
    name: str = "churn",
    progress: training.Progress | None = None,
    **options,
) -> dict:
    """Train every algorithm and register the best as a new staging version of `name` in the data
    home `wb`: on the registered `dataset`'s `target` column, on a `frame` already in memory (a
    notebook, a benchmark; `source` says what it is), or else on the organisation's users (features
    before `cutoff`, churned = no activity in the `horizon_days` after it). `options` go to
    `training.fit` (algorithms, threshold, features...). Needs models:train."""
    registry.check_name(name)
    settings, horizon = wb.settings, None
    if frame is None:
        with wb.store.connect() as con:  # read the data, then let the file go while fitting
            if dataset:
                frame, source = tabular.load_frame(ctx, con, dataset, settings=settings), f"dataset {dataset}"
            else:
                frame, source = training.workbench_frame(ctx, con, cutoff=cutoff, horizon_days=horizon_days)
                target, horizon = churn_features.TARGET, horizon_days
    fitted = training.fit(ctx, settings, frame, target=target, source=source, progress=progress,
                          horizon_days=horizon, **options)
    with wb.store.transaction() as con:
        return training.register_best(ctx, con, settings, fitted, name=name, progress=progress)


def score(
    ctx: Context,
    wb: Workbench,
    *,
    name: str = "churn",
    cutoff: datetime | None = None,
    horizon_days: int | None = None,
    top_reasons: int = 3,
) -> dict:
    """Score the organisation's customers active in the `horizon_days` (default: the model's own)
    before `cutoff` (default now; `features.population`: not those who have already left, nor
    staff; `excluded` counts them) with the production version of `name` in the data home `wb`:
    each user's risk and the features that raise it most, written to analytics_results (churn_pred
    rows and the risk chart) as one batch. Needs models:train."""
    ctx.require("models:train")
    when = cutoff or datetime.now()
    current, frame, excluded, horizon_days = _users_to_score(ctx, wb.store, name, when, horizon_days)
    # the version read, whatever happens meanwhile
    model = training.load(wb.settings, current["artifact_uri"])
    x = frame.select(model.feature_names_in_.tolist()).to_pandas()
    risk = model.predict_proba(x)[:, 1]
    reasons = churn_report.reasons(model, x, risk, top_reasons, names=churn_features.NAMES)
    about = {"model": name, "version": current["version"], "excluded": excluded, "horizon_days": horizon_days}
    metas = [
        json.dumps({"user_id": int(u), "username": n, "risk": round(float(r), 4), "reasons": why, **about,
                    "cutoff": f"{when:%Y-%m-%d}"})
        for u, n, r, why in zip(frame["user_id"], frame["username"], risk, reasons, strict=True)
    ]
    threshold = float(current["params"].get("threshold", 0.5))
    png = io.BytesIO()
    churn_report.risk_figure(risk, threshold).savefig(png, format="png", dpi=90)
    with wb.store.transaction() as con:
        saved = results.save_batch(ctx, con, wb.settings, result_type="churn_pred", metas=metas,
                                   model_artifact_id=current["id"], chart_png=png.getvalue(),
                                   chart_prefix="churn-risk",
                                   chart_meta=about | {"chart": "distribution of churn risk"})
    return {"batch_id": saved["batch_id"], "model": name, "version": current["version"], "scored": len(metas),
            "chart": saved["chart"], "at_risk": int((risk >= threshold).sum()), "excluded": excluded,
            "horizon_days": horizon_days}


def _users_to_score(ctx: Context, store: Store, name: str, when: datetime, horizon_days: int | None) -> tuple:
    """The production version of `name`, the features of the users it is for (active in the
    `horizon_days` before `when`, not staff: `features.population`) and who was left out."""
    with store.connect() as con:
        current = registry.production_of_kind(ctx, con, name, "churn")
        if not current["source"].startswith("workbench users"):
            raise InvalidInput(
                f"{name} was trained on a dataset ({current['source']}); scoring the workbench's "
                "users needs a model trained on them."
            )
        # the model's own churn definition (30 days for a model trained before it was kept)
        horizon_days = horizon_days or int(current["params"].get("horizon_days", 30))
        frame, excluded = churn_features.population(ctx, con, when, horizon_days=horizon_days, labelled=False)
    if frame.height == 0:
        raise InvalidInput(f"No customer was active in the {horizon_days} days before the cutoff; nobody to"
                           f" score ({excluded['left']} have already left, {excluded['staff']} are staff).")
    return current, frame, excluded, horizon_days
