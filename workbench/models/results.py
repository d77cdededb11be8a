"""Analytics results: what a scoring run writes. One batch is a row per scored item (a user's churn
risk, a forecast day) and a `viz_image` row for its chart, whose PNG lies under the data home's
results folder; the rows go in one transaction and the chart file goes with them when they fail."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterable

import duckdb

from workbench import home
from workbench.accounts.context import Context
from workbench.db import atomic
from workbench.settings import Settings


def save_batch(
    ctx: Context,
    con: duckdb.DuckDBPyConnection,
    settings: Settings,
    *,
    result_type: str,
    metas: Iterable[str],
    model_artifact_id: int,
    chart_png: bytes,
    chart_prefix: str,
    chart_meta: dict,
) -> dict:
    """Write one scoring batch: a `result_type` row per JSON text in `metas` and a `viz_image` row
    for the chart, saved as `<chart_prefix>-<batch>.png`. Returns {batch_id, chart (its path)}."""
    ctx.require("models:train")
    batch = str(uuid.uuid4())
    folder = home.results_dir(settings, ctx.org_id)
    folder.mkdir(parents=True, exist_ok=True)
    chart = folder / f"{chart_prefix}-{batch}.png"
    chart.write_bytes(chart_png)
    try:
        with atomic(con):
            con.execute(  # the rows in one statement: a scoring run writes thousands of forecast days
                "INSERT INTO analytics_results (org_id, user_id, result_type, meta, model_artifact_id,"
                " batch_id) SELECT ?, ?, ?, unnest(?::VARCHAR[]), ?, ?",
                [ctx.org_id, ctx.user_id, result_type, list(metas), model_artifact_id, batch],
            )
            con.execute(
                "INSERT INTO analytics_results (org_id, user_id, result_type, artifact_path, meta,"
                " model_artifact_id, batch_id) VALUES (?, ?, 'viz_image', ?, ?, ?, ?)",
                [ctx.org_id, ctx.user_id, str(chart), json.dumps(chart_meta), model_artifact_id, batch],
            )
    except BaseException:
        chart.unlink(missing_ok=True)  # no chart without its rows
        raise
    return {"batch_id": batch, "chart": str(chart)}

