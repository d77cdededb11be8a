"""What a churn model is judged and explained by: holdout metrics at a threshold, the plots logged
with each run (ROC, precision-recall, calibration, confusion matrix, permutation importance), each
user's top reasons, and the explicit requirements the model is logged with."""

from __future__ import annotations

from importlib.metadata import version

import numpy as np
import pandas as pd
import skops.io as skops_io
from matplotlib.figure import Figure  # no pyplot: figures are safe to build in page threads
from sklearn.calibration import calibration_curve
from sklearn.inspection import permutation_importance
from sklearn.metrics import (
    average_precision_score,
    brier_score_loss,
    confusion_matrix,
    log_loss,
    precision_recall_curve,
    roc_auc_score,
    roc_curve,
)

IMPORTANCE_ROWS = 5000  # permutation importance on at most this many holdout rows


def metrics(y: np.ndarray, proba: np.ndarray, threshold: float = 0.5) -> dict[str, float]:
    """ROC AUC, PR AUC, Brier score, log loss and the confusion counts at the threshold."""
    predicted = (proba >= threshold).astype(int)
    tn, fp, fn, tp = confusion_matrix(y, predicted, labels=[0, 1]).ravel()
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return {
        "roc_auc": float(roc_auc_score(y, proba)),
        "pr_auc": float(average_precision_score(y, proba)),
        "brier": float(brier_score_loss(y, proba)),
        "log_loss": float(log_loss(y, np.clip(proba, 1e-6, 1 - 1e-6), labels=[0, 1])),
        "accuracy": float((predicted == y).mean()),
        "precision": float(precision),
        "recall": float(recall),
        "f1": float(2 * precision * recall / (precision + recall)) if precision + recall else 0.0,
        "tp": float(tp),
        "fp": float(fp),
        "tn": float(tn),
        "fn": float(fn),
        "holdout_rows": float(len(y)),
    }


def importance(model, x: pd.DataFrame, y: np.ndarray, seed: int = 0) -> pd.DataFrame:
    """Permutation importance (drop in ROC AUC when a column is shuffled), largest first."""
    if len(x) > IMPORTANCE_ROWS:
        keep = np.random.default_rng(seed).choice(len(x), IMPORTANCE_ROWS, replace=False)
        x, y = x.iloc[keep], y[keep]
    result = permutation_importance(model, x, y, scoring="roc_auc", n_repeats=5, random_state=seed)
    frame = pd.DataFrame(
        {"feature": x.columns, "importance": result.importances_mean, "std": result.importances_std}
    )
    return frame.sort_values("importance", ascending=False, ignore_index=True)


def curves(model, x: pd.DataFrame, y: np.ndarray, proba: np.ndarray, threshold: float) -> dict:
    """What the run's plots show, as JSON-ready data (the page draws it interactively, `figures`
    as the PNGs logged with the run): ROC, precision-recall, calibration, the confusion matrix at
    `threshold` and the permutation importance of the 15 strongest features."""
    fpr, tpr, _ = roc_curve(y, proba)
    precision, recall, _ = precision_recall_curve(y, proba)
    observed, predicted = calibration_curve(y, proba, n_bins=10, strategy="quantile")
    table = importance(model, x, y).head(15)
    return {
        "roc": {"fpr": fpr.round(5).tolist(), "tpr": tpr.round(5).tolist(),
                "auc": float(roc_auc_score(y, proba))},
        "pr": {"recall": recall.round(5).tolist(), "precision": precision.round(5).tolist(),
               "auc": float(average_precision_score(y, proba)), "churn_rate": float(y.mean())},
        "calibration": {"predicted": predicted.round(5).tolist(), "observed": observed.round(5).tolist()},
        "confusion": confusion_matrix(y, (proba >= threshold).astype(int), labels=[0, 1]).tolist(),
        "threshold": float(threshold),
        "importance": [{"feature": str(r.feature), "importance": float(r.importance), "std": float(r.std)}
                       for r in table.itertuples()],
    }


def figures(data: dict) -> dict[str, Figure]:
    """The run's plots (of `curves`' data), by file name."""
    out = {}
    fig, ax = _figure()
    ax.plot(data["roc"]["fpr"], data["roc"]["tpr"], label=f"ROC AUC {data['roc']['auc']:.3f}")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey")
    ax.set(xlabel="false positive rate", ylabel="true positive rate", title="ROC curve (holdout)")
    ax.legend(loc="lower right")
    out["roc.png"] = fig
    fig, ax = _figure()
    pr = data["pr"]
    ax.plot(pr["recall"], pr["precision"], label=f"PR AUC {pr['auc']:.3f}")
    ax.axhline(pr["churn_rate"], linestyle=":", color="grey", label=f"churn rate {pr['churn_rate']:.2f}")
    ax.set(xlabel="recall", ylabel="precision", title="Precision-recall (holdout)")
    ax.legend(loc="upper right")
    out["precision_recall.png"] = fig
    fig, ax = _figure()
    ax.plot(data["calibration"]["predicted"], data["calibration"]["observed"], marker="o", label="model")
    ax.plot([0, 1], [0, 1], linestyle=":", color="grey", label="perfectly calibrated")
    ax.set(xlabel="predicted churn probability", ylabel="observed churn rate", title="Calibration (holdout)")
    ax.legend(loc="upper left")
    out["calibration.png"] = fig
    fig, ax = _figure()
    matrix = np.array(data["confusion"])
    ax.imshow(matrix, cmap="Blues")
    for (i, j), count in np.ndenumerate(matrix):
        dark = count > matrix.max() / 2
        ax.text(j, i, f"{count:,}", ha="center", va="center", color="white" if dark else "black")
    ax.set(xticks=[0, 1], yticks=[0, 1], xticklabels=["stays", "churns"], yticklabels=["stays", "churns"],
           xlabel="predicted", ylabel="actual", title=f"Confusion matrix at {data['threshold']:.2f}")
    out["confusion_matrix.png"] = fig
    fig, ax = _figure()
    table = pd.DataFrame(data["importance"]).iloc[::-1]
    if not table.empty:
        ax.barh(table["feature"], table["importance"], xerr=table["std"])
    ax.set(xlabel="drop in ROC AUC when shuffled", title="Permutation importance (holdout)")
    out["permutation_importance.png"] = fig
    return out


def risk_figure(risk: np.ndarray, threshold: float) -> Figure:
    """How the scored users' risk is spread, with the threshold."""
    fig, ax = _figure()
    ax.hist(risk, bins=20, range=(0, 1))
    ax.axvline(threshold, linestyle=":", color="grey", label=f"threshold {threshold:.2f}")
    ax.set(xlabel="churn risk", ylabel="users", title=f"Churn risk of {len(risk):,} users")
    ax.legend(loc="upper right")
    return fig


def reasons(model, x: pd.DataFrame, risk: np.ndarray, top: int = 3,
            names: dict[str, str] | None = None) -> list[list[str]]:
    """Per row, the features that raise its risk most: how much the risk falls when that feature is
    set to a typical value (the training median for numbers, the most common value otherwise).
    `names`: the features in words, where they have them."""
    names = names or {}
    typical = _typical_values(model, x)
    drops = {}
    for column, value in typical.items():
        changed = x.copy()
        changed[column] = value
        drops[column] = risk - model.predict_proba(changed)[:, 1]
    columns = list(drops)
    matrix = np.column_stack([drops[c] for c in columns])
    out = []
    for i, row in enumerate(matrix):
        order = [k for k in np.argsort(-row)[:top] if row[k] > 0.01]
        out.append(
            [
                f"{names.get(columns[k], columns[k])} {_shown(x.iloc[i][columns[k]])} (typical"
                f" {_shown(typical[columns[k]])}, "
                f"+{row[k]:.0%} risk)"
                for k in order
            ]
        )
    return out


def requirements() -> list[str]:
    """Pinned requirements of a logged churn model: given, so MLflow does not infer them (slow)."""
    packages = ("scikit-learn", "numpy", "pandas", "scipy", "skops")
    return [f"{name}=={version(name)}" for name in packages]


def trusted_types(model) -> list[str]:
    """The types skops must trust to load this pipeline: ours, checked when it was saved."""
    return skops_io.get_untrusted_types(data=skops_io.dumps(model))


def _typical_values(model, x: pd.DataFrame) -> dict:
    prep = model.named_steps["prep"]
    numeric = list(prep.transformers_[0][2])
    medians = prep.named_transformers_["num"].named_steps["impute"].statistics_
    typical = dict(zip(numeric, medians, strict=True))
    for column in x.columns:
        if column not in typical:
            typical[column] = x[column].mode(dropna=True).iloc[0] if x[column].notna().any() else None
    return typical


def _shown(value) -> str:
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return "missing"
    if isinstance(value, float | np.floating):
        return f"{value:,.2f}".rstrip("0").rstrip(".") if abs(value) < 1e6 else f"{value:,.0f}"
    return str(value)


def _figure() -> tuple[Figure, object]:
    fig = Figure(figsize=(5, 4))
    return fig, fig.add_subplot()
