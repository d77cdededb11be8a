"""SQL: one reading query over the organisation's data, in the SQL console's sandbox and by its
rules (a single SELECT, the organisation's rows only, the views the key's role may read, no files,
URLs or extensions, limits on rows, time and length), and the views with their columns."""

from __future__ import annotations

import base64

from fastapi import APIRouter, Request
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, Field

from workbench.api import keys
from workbench.sql_console import console

router = APIRouter(prefix="/v1", tags=["sql"])


class SqlQuery(BaseModel):
    query: str = Field(..., examples=["SELECT intent, count(*) AS calls FROM calls GROUP BY intent"])
    limit: int = Field(console.MAX_ROWS, ge=1, le=console.MAX_ROWS, description="Most rows returned.")


def _jsonable(rows: list[dict]) -> list[dict]:
    """Values as JSON: decimals as numbers, times as ISO text, intervals in seconds, blobs in base64
    (what is not a finite number, NaN or infinity, becomes null)."""
    return jsonable_encoder(rows, custom_encoder={bytes: lambda b: base64.b64encode(b).decode()})


@router.post("/sql", summary="Run one reading query (SELECT) over the organisation's data")
def run_query(body: SqlQuery, request: Request, ctx: keys.Acting) -> dict:
    """As the SQL console and `workbench sql`: rows as objects by column name, `truncated` when
    there were more than `limit`."""
    result = console.run(ctx, request.app.state.wb.store, body.query, max_rows=body.limit)
    return {"columns": result.columns, "rows": _jsonable(result.rows), "truncated": result.truncated,
            "tables": result.tables, "seconds": round(result.seconds, 3)}


@router.get("/sql/tables", summary="The views the key may query, with their columns")
def tables(request: Request, ctx: keys.Acting) -> dict:
    with request.app.state.wb.store.connect() as con:
        views = console.schema(ctx, con)
    return {"tables": {name: [{"name": c, "type": t} for c, t in columns] for name, columns in views.items()}}
