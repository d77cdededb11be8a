"""Import a legacy SQLite database in seed 000's or seed 004's schema into the acting admin's
organisation: detect the schema by its tables and columns, read and check every row, then write
everything in one DuckDB transaction. Legacy ids map to the workbench's keys and are recorded in
`legacy_ids`, so running the import again changes nothing."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

from workbench.accounts.context import Context
from workbench.db import atomic
from workbench.errors import InvalidInput
from workbench.ops.legacy import seed000 as legacy_seed000
from workbench.ops.legacy import seed004 as legacy_seed004
from workbench.ops.legacy.writer import Writer

if TYPE_CHECKING:
    from workbench.home import Workbench

SEEDS: tuple[ModuleType, ...] = (legacy_seed000, legacy_seed004)
SHOWN_PROBLEMS = 10


class LegacyImportError(InvalidInput):
    """A legacy database whose rows cannot be imported: every problem found, by table and row."""

    def __init__(self, filename: str, problems: list[str]) -> None:
        self.filename, self.problems = filename, problems
        shown = "; ".join(problems[:SHOWN_PROBLEMS])
        more = f" (and {len(problems) - SHOWN_PROBLEMS} more)" if len(problems) > SHOWN_PROBLEMS else ""
        super().__init__(f"{filename}: nothing imported. {shown}{more}")


def import_legacy(ctx: Context, wb: Workbench, path: Path | str) -> dict:
    """Import the SQLite database at `path` into the acting admin's organisation in `wb`, all or
    nothing (its rows in one transaction of `wb.store`, its documents' files under the data home;
    nothing is embedded here). Returns the schema found, counts per legacy table (read, created,
    skipped) and notes."""
    ctx.require("admin:full")
    path, settings = Path(path), wb.settings
    seed, rows = read(path)
    data, problems = seed.prepare(rows, path.parent, settings)
    if problems:
        raise LegacyImportError(path.name, problems)
    files: list[Path] = []  # document files written; removed again if the transaction fails
    try:
        with wb.store.connect() as con, atomic(con):
            writer = Writer(con, ctx, settings, seed.SOURCE, files)
            seed.write(writer, data)
            writer.finish()
    except BaseException:
        for file in files:
            file.unlink(missing_ok=True)
        raise
    return {
        "file": path.name,
        "schema": seed.NAME,
        "organization": ctx.org_name,
        "tables": writer.counts,
        "notes": writer.notes,
    }


def read(path: Path) -> tuple[ModuleType, dict[str, list[dict]]]:
    """The seed whose schema the file is in, and the rows of its tables (read-only)."""
    if not path.is_file():
        raise InvalidInput(f"No file {path}.")
    con = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        seed = detect(path.name, _columns(con))
        return seed, {table: _rows(con, table, list(columns)) for table, columns in seed.TABLES.items()}
    except sqlite3.DatabaseError as exc:
        raise InvalidInput(
            f"{path.name} is not a readable SQLite database ({exc}); expected one "
            "in seed 000's or seed 004's schema. Nothing was imported."
        ) from None
    finally:
        con.close()


def _columns(con: sqlite3.Connection) -> dict[str, set[str]]:
    tables = [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")]
    return {t: {r[0] for r in con.execute("SELECT name FROM pragma_table_info(?)", [t])} for t in tables}


def _rows(con: sqlite3.Connection, table: str, columns: list[str]) -> list[dict]:
    # table and column names come from the seed modules, never from the file
    listed = ", ".join(f'"{c}"' for c in columns)
    cur = con.execute(f'SELECT {listed} FROM "{table}" ORDER BY "{columns[0]}"')
    return [dict(row) for row in cur]


def detect(filename: str, present: dict[str, set[str]]) -> ModuleType:
    """The seed whose tables and columns are all present; InvalidInput saying what each lacks."""
    lacking = {seed.NAME: missing(seed.TABLES, present) for seed in SEEDS}
    for seed in SEEDS:
        if not lacking[seed.NAME]:
            return seed
    if not present:
        raise InvalidInput(
            f"{filename} has no tables; expected a legacy database in seed 000's "
            "or seed 004's schema. Nothing was imported."
        )
    said = "; ".join(
        f"{name} ({', '.join(seed.TABLES)}) lacks {_some(gaps)}"
        for seed, (name, gaps) in zip(SEEDS, lacking.items(), strict=True)
    )
    raise InvalidInput(
        f"{filename} is in neither legacy schema the importer knows: {said}. Nothing was imported."
    )


def missing(tables: dict[str, dict], present: dict[str, set[str]]) -> list[str]:
    """The tables, and columns of present tables, that a schema needs and the file lacks."""
    gaps = []
    for table, columns in tables.items():
        if table not in present:
            gaps.append(table)
        else:
            gaps += [f"{table}.{c}" for c in columns if c not in present[table]]
    return gaps


def _some(names: list[str], shown: int = 8) -> str:
    return ", ".join(names[:shown]) + (f" and {len(names) - shown} more" if len(names) > shown else "")
