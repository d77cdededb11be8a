"""The model registry: the organisation's models, one model's versions with their stages, metrics
and transitions, promotion through the gate (or forced by an admin with a reason), and scoring with
the production version of a churn or forecast model (as `workbench churn score` and `workbench
forecast score`). GET /v1/models is the chat's list of agents (OpenAI's); the registry's list is
GET /v1/registered-models."""

from __future__ import annotations

import json
from datetime import date, datetime

import numpy as np
from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from workbench.accounts.context import Context
from workbench.api import keys
from workbench.errors import InvalidInput, NotFound
from workbench.models import promotion, registry

router = APIRouter(prefix="/v1", tags=["models"])


def _jsonable(value):
    """Numpy numbers as Python's (the frames' and models' figures); dates as ISO text."""
    return jsonable_encoder(value, custom_encoder={np.generic: lambda v: v.item()})


def _versions(ctx: Context, con, name: str) -> list[dict]:
    rows = registry.versions(ctx, con, registry.check_name(name))
    if not rows:
        raise NotFound(f"No model named {name!r} in your organisation.")
    return rows


@router.get("/registered-models", summary="The organisation's models: versions, production, latest")
def list_models(request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        return {"models": _jsonable(registry.list_models(ctx, con))}


@router.get("/models/{name}/versions", summary="A model's versions (newest first) and stage transitions")
def model_versions(name: str, request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        rows = _versions(ctx, con, name)
        history = registry.history(ctx, con, name)
    for row in history:
        row["metrics"] = json.loads(row["metrics"] or "{}")
    production = next((r["version"] for r in rows if r["stage"] == "production"), None)
    return _jsonable({"name": name, "kind": rows[0]["kind"], "production": production, "versions": rows,
                      "history": history})


class Promotion(BaseModel):
    metric: str | None = Field(None, description="Gate metric (default: roc_auc, or mase for a forecast).")
    threshold: float | None = Field(None, description="The challenger must also reach this value.")
    min_improvement: float | None = Field(None, description="Better than production by at least this much.")
    force: bool = Field(False, description="Skip the gate (admins only; needs a reason).")
    reason: str = Field("", max_length=1000, description="Why; required with force.")


@router.post("/models/{name}/versions/{version}/promote",
             summary="Promote a version to production through the gate; production is archived")
def promote(name: str, version: str, request: Request, ctx: keys.Acting,
            body: Promotion | None = None) -> dict:
    """The challenger and production are evaluated on the same holdout; a challenger that does not
    pass is refused with 400 (`GateFailed`) saying why, and nothing changes."""
    body, wb = body or Promotion(), request.app.state.wb
    registry.check_name(name)
    checked = None
    if not body.force:  # the gate reads only; the file is written after (as the CLI does)
        with wb.store.connect() as con:
            checked = promotion.check_promotion(
                ctx, con, wb.settings, name, version, metric=body.metric, threshold=body.threshold,
                min_improvement=body.min_improvement)
    with wb.store.transaction() as con:
        row = promotion.promote(ctx, con, wb.settings, name, version, reason=body.reason, force=body.force,
                                checked=checked)
    return _jsonable(row)


class Scoring(BaseModel):
    cutoff: date | None = Field(None, description="Churn: score activity before this day (default today).")
    end: date | None = Field(None, description="Forecast: the series up to this day (default: all).")


@router.post("/models/{name}/score", summary="Score with the production version of a churn or forecast model")
def score(name: str, request: Request, ctx: keys.Acting, body: Scoring | None = None) -> dict:
    """Churn: each active customer's risk and reasons; forecast: the next steps of each series. The
    results and the chart are saved (analytics_results) as one batch, as the CLI saves them."""
    from workbench.models.churn import service as churn_service  # the model libraries, when needed
    from workbench.models.forecast import service as forecast_service

    body, wb = body or Scoring(), request.app.state.wb
    with wb.store.connect() as con:
        kind = _versions(ctx, con, name)[0]["kind"]
    if kind == "churn":
        if body.end is not None:
            raise InvalidInput(f"{name} is a churn model: give `cutoff`, not `end`.")
        cutoff = datetime.combine(body.cutoff, datetime.min.time()) if body.cutoff else datetime.now()
        return _without_paths(churn_service.score(ctx, wb, name=name, cutoff=cutoff))
    if kind == "forecast":
        if body.cutoff is not None:
            raise InvalidInput(f"{name} is a forecast model: give `end`, not `cutoff`.")
        return _without_paths(forecast_service.score(ctx, wb, name, end=body.end))
    raise InvalidInput(f"{name} is a {kind} model; only churn and forecast models are scored here.")


def _without_paths(result: dict) -> dict:
    """A scoring result without the server's file paths (the chart is saved with the results: the
    key reads it back from analytics_results, not from the server's disk)."""
    return _jsonable({key: value for key, value in result.items() if key not in ("chart", "path")})
