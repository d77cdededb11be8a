"""Promotion through the gate: a challenger goes to production only when it beats the champion on
its kind's metric, evaluated on the same holdout by the module that trains that kind (churn or
forecast training), and compared with `mlflow.validate_evaluation_results`. It sits above the
registry and the training modules, which both use the registry."""

from __future__ import annotations

from collections.abc import Callable

import duckdb
from mlflow.models import MetricThreshold
from mlflow.models.evaluation import EvaluationResult
from mlflow.models.evaluation.validation import ModelValidationFailedException, validate_evaluation_results

from workbench.accounts.context import Context
from workbench.errors import Conflict, InvalidInput
from workbench.models.registry import (
    GATE_METRICS,
    LOWER_IS_BETTER,
    GateFailed,
    move_stage,
    production,
    version_of,
)
from workbench.settings import Settings


def gate(
    settings: Settings,
    challenger: dict,
    champion: dict | None,
    *,
    metric: str | None = None,
    threshold: float | None = None,
    min_improvement: float | None = None,
) -> dict:
    """Evaluate the challenger and the champion on the challenger's holdout and validate the
    challenger with MLflow's validator: it must reach `threshold` (when given) and be at least as
    good as the champion (better by `min_improvement` when given). Raises GateFailed."""
    metric = metric or GATE_METRICS[challenger["kind"]][0]
    greater = metric not in LOWER_IS_BETTER
    if champion is None:
        mine, theirs = dict(challenger["metrics"]), None
    else:
        mine, theirs = _evaluator(challenger["kind"])(settings, challenger, champion)
    if metric not in mine:
        raise InvalidInput(
            f"The gate metric {metric!r} is not one of this model's: {', '.join(sorted(mine))}."
        )
    if theirs is not None and theirs.get(metric) is None:
        raise InvalidInput(
            f"Production version {champion['version']} has no {metric} on the challenger's data, "
            "so the two cannot be compared: pick another gate metric, or force it with a reason."
        )
    outcome = {
        "metric": metric,
        "challenger": mine.get(metric),
        "production": (theirs or {}).get(metric),
        "threshold": threshold,
        "min_improvement": min_improvement,
    }
    if threshold is None and theirs is None:
        return outcome  # nothing to compare with and no bar: the first production version
    change = {"min_absolute_change": min_improvement} if min_improvement else {"min_relative_change": 0.0}
    rule = MetricThreshold(threshold=threshold, greater_is_better=greater, **(change if theirs else {}))
    try:
        validate_evaluation_results(
            {metric: rule}, EvaluationResult(mine, {}), EvaluationResult(theirs, {}) if theirs else None
        )
    except ModelValidationFailedException as exc:
        raise GateFailed(_gate_message(challenger, outcome, champion)) from exc
    return outcome


def check_promotion(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    version: int | str,
    *,
    metric: str | None = None,
    threshold: float | None = None,
    min_improvement: float | None = None,
) -> dict:
    """Run the gate for promoting a version, reading only: the slow part (scoring or backtesting
    both versions) needs no write lock. Pass the outcome to `promote(checked=...)`."""
    ctx.require("models:promote")
    target = version_of(ctx, con, name, version)
    if target["stage"] == "production":
        raise InvalidInput(f"Version {target['version']} of {name} is already in production.")
    current = production(ctx, con, name)
    outcome = gate(
        settings, target, current, metric=metric, threshold=threshold, min_improvement=min_improvement
    )
    return outcome | {
        "name": name,
        "version": target["version"],
        "production_version": current["version"] if current else None,
    }


def promote(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    name: str,
    version: int | str,
    *,
    reason: str = "",
    metric: str | None = None,
    threshold: float | None = None,
    min_improvement: float | None = None,
    force: bool = False,
    checked: dict | None = None,
) -> dict:
    """Promote a version to production through the gate (or forced by an admin with a reason);
    the previous production version becomes archived. `checked` is the outcome of
    `check_promotion` run just before on a read connection; it holds only if production has not
    changed since."""
    ctx.require("models:promote")
    target = version_of(ctx, con, name, version)
    if target["stage"] == "production":
        raise InvalidInput(f"Version {target['version']} of {name} is already in production.")
    current = production(ctx, con, name)
    if force:
        ctx.require("admin:full")
        if not reason.strip():
            raise InvalidInput("A forced promotion needs a written reason.")
        outcome = {"forced": True, "challenger": target["metrics"]}
    elif checked is not None:
        if (checked.get("name"), checked.get("version")) != (name, target["version"]) or checked.get(
            "production_version"
        ) != (current["version"] if current else None):
            raise Conflict("Production changed while the gate ran; run the promotion again.")
        outcome = {k: v for k, v in checked.items() if k not in ("name", "version")}
    else:
        outcome = gate(
            settings, target, current, metric=metric, threshold=threshold, min_improvement=min_improvement
        )
    moves = [(current, "archived", "promote")] if current else []
    moves.append((target, "production", "force" if force else "promote"))
    move_stage(ctx, con, settings, name, moves, reason.strip() or "passed the gate", outcome)
    return version_of(ctx, con, name, version) | {"gate": outcome}


def _evaluator(kind: str) -> Callable[[Settings, dict, dict], tuple[dict, dict]]:
    """`gate_metrics(settings, challenger, champion)` of the module that trains this kind of model."""
    from workbench.models.churn import training as churn
    from workbench.models.forecast import training as forecast

    return {"churn": churn.gate_metrics, "forecast": forecast.gate_metrics}[kind]


def _gate_message(challenger: dict, outcome: dict, champion: dict | None) -> str:
    better = "higher" if outcome["metric"] not in LOWER_IS_BETTER else "lower"
    parts = [
        f"Version {challenger['version']} of {challenger['name']} did not pass the gate on "
        f"{outcome['metric']} ({better} is better): {outcome['challenger']:.4f}"
    ]
    if champion is not None:
        parts.append(
            f" against {outcome['production']:.4f} for production version {champion['version']}"
            " on the same holdout"
        )
        if outcome["min_improvement"]:
            parts.append(f", needing an improvement of {outcome['min_improvement']}")
    if outcome["threshold"] is not None:
        parts.append(f"; the bar is {outcome['threshold']}")
    return "".join(parts) + ". Nothing was changed; an admin may force it with a written reason."


def better_first(metric: str) -> bool:
    """True when a higher value of `metric` is better (ROC AUC), False when lower is (Brier, MASE,
    and the seasonal-naive baseline's MASE beside a forecast's)."""
    return metric.removeprefix("baseline_") not in LOWER_IS_BETTER


def best_staged(versions: list[dict], metric: str) -> dict | None:
    """The staging version with the best recorded `metric`, the newest on a tie. Each version's
    figure comes from its own holdout or backtest: a hint of which to put through the gate, not the
    gate's verdict (which scores both on the same data)."""
    staged = [v for v in versions if v["stage"] == "staging" and v["metrics"].get(metric) is not None]
    if not staged:
        return None
    sign = 1 if better_first(metric) else -1
    return max(staged, key=lambda v: (sign * v["metrics"][metric], int(v["version"])))


def promotion_hint(versions: list[dict], chosen: int, metric: str, name: str) -> str | None:
    """What to say when another staging version records a better `metric` than the one chosen."""
    best = best_staged(versions, metric)
    picked = next((v for v in versions if int(v["version"]) == int(chosen)), None)
    if best is None or picked is None or int(best["version"]) == int(chosen):
        return None
    mine, theirs = picked["metrics"].get(metric), best["metrics"][metric]
    if mine is not None and (mine == theirs or (mine > theirs) == better_first(metric)):
        return None
    shown = "none" if mine is None else f"{mine:.3f}"
    return (f"v{best['version']} (staging) records a better {name} than v{chosen}: {theirs:.3f} against"
            f" {shown} ({'higher' if better_first(metric) else 'lower'} is better; each on its own held-out"
            f" data). Promote v{best['version']}, or compare them by hand before promoting v{chosen}.")
