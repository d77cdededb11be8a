"""CLI commands for datasets: register a CSV or Parquet file, list them, profile one."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli.common import acting, as_option, emit, json_option, load_settings, reading


def _number(value) -> str:
    return "-" if value is None else f"{value:,.4g}" if isinstance(value, float) else f"{value:,}"


def _column_line(c: dict) -> str:
    line = f"  {c['name']:<28} {c['dtype']:<12} missing {c['missing']:>7,} ({c['missing_share']:.0%})"
    line += f"  distinct {c['distinct']:>7,}"
    if c["numeric"]:
        line += f"  min {_number(c['min'])} mean {_number(c['mean'])} max {_number(c['max'])}"
    return line + ("  ALL MISSING" if c["all_missing"] else "")


@click.group("datasets")
def datasets_group() -> None:
    """Tabular datasets (CSV, Parquet) for churn models and forecasts, and exported QA pairs."""


@datasets_group.command("add")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--name", required=True, help="Name of the dataset, unique in your organisation.")
@as_option
@json_option
def add_command(file, name, as_user, as_json) -> None:
    """Register a CSV or Parquet file as a dataset (the file is copied into the data home)."""
    from workbench.models import tabular

    with acting(as_user, write=True) as (ctx, con):
        row = tabular.register_file(ctx, con, load_settings(), Path(file), name)
    text = f"Registered {row['name']!r}: {row['num_rows']:,} rows, {row['num_columns']} columns."
    emit(row, as_json, f"{text} ({row['uuid']})")


@datasets_group.command("list")
@as_option
@json_option
def list_command(as_user, as_json) -> None:
    """Your organisation's datasets, newest first."""
    from workbench.calls import datasets

    with reading(as_user) as (ctx, con):
        rows = datasets.list_datasets(ctx, con)
    lines = [
        f"{r['name']:<36} {r['file_format'] or '-':<8} {_number(r['num_rows']):>10} rows"
        f"  {r['source_type'] or '-':<10} {r['created_by'] or '-':<10} {r['created_at']:%Y-%m-%d %H:%M}"
        for r in rows
    ]
    empty = "No datasets yet. Register one: workbench datasets add FILE --name N --as USER."
    emit(rows, as_json, "\n".join(lines) or empty)


@datasets_group.command("profile")
@click.argument("name")
@click.option("--target", help="Also show the balance of this column's values (a churn target).")
@as_option
@json_option
def profile_command(name, target, as_user, as_json) -> None:
    """Columns, types, missing values and distinct counts of a dataset; suggested targets, dates, values."""
    from workbench.models import tabular

    with reading(as_user) as (ctx, con):
        result = tabular.profile(ctx, con, name, target=target)
    lines = [f"{result['name']}: {result['rows']:,} rows, {len(result['columns'])} columns"]
    lines += [_column_line(c) for c in result["columns"]]
    if result["target_balance"] is not None:
        lines.append(f"Target {target!r}:")
        balance = result["target_balance"]
        lines += [f"  {b['value']!s:<20} {b['count']:>8,} ({b['share']:.1%})" for b in balance]
    for key, label in (("binary_targets", "Binary targets"), ("date_columns", "Date columns"),
                       ("value_columns", "Value columns")):
        lines.append(f"{label}: {', '.join(result['suggestions'][key]) or '-'}")
    lines += [f"Note: {note}" for note in result["notes"]]
    emit(result, as_json, "\n".join(lines))
