"""CLI commands for LLM usage: import usage logs, report tokens, cost and latency."""

from __future__ import annotations

import click

from workbench.cli.common import acting, as_option, emit, json_option, reading


@click.group("usage")
def usage_group() -> None:
    """Token, cost and latency of LLM calls."""


@usage_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@as_option
@click.option("--timezone", metavar="TZ", help="Zone of timestamps written without one (Europe/Berlin, UTC).")
@json_option
def import_command(file, as_user, timezone, as_json) -> None:
    """Import a usage log of LLM calls (CSV, JSONL, JSON or Parquet) as an admin: all or nothing,
    rows whose id was imported before are skipped, costs come from the price catalogue."""
    import sys
    from pathlib import Path

    from workbench.cli.calls import echo_report
    from workbench.errors import ImportReport
    from workbench.usage import imports as usage_import

    path = Path(file)
    try:
        usage_import.check_size(path.name, path.stat().st_size)
        with acting(as_user) as (ctx, con):
            result = usage_import.import_usage(ctx, con, path.name, path.read_bytes(), timezone=timezone)
    except ImportReport as report:
        problems = [{"row": row, "problem": text} for row, text in report.problems]
        if as_json:
            emit({"file": report.filename, "imported": 0, "problems": problems}, True, "")
        else:
            echo_report(report)
        sys.exit(1)
    lines = [
        f"{result['file']}: {result['rows']:,} calls imported, {result['skipped_existing']:,} already"
        f" imported, {result['unpriced']:,} unpriced, in {result['seconds']} s."
    ]
    lines += [f"  note: {note}" for note in result["notes"]]
    emit(result, as_json, "\n".join(lines))


@usage_group.command("report")
@click.option(
    "--period", default="30d", show_default=True, metavar="Nd", help="The last N days, today included."
)
@click.option(
    "--by",
    "by",
    default="model",
    show_default=True,
    type=click.Choice(["provider", "model", "operation", "project", "user"]),
)
@as_option
@json_option
def report_command(period, by, as_user, as_json) -> None:
    """Tokens, cost and latency of the last N days by one dimension: the Usage page's numbers."""
    from workbench.errors import InvalidInput
    from workbench.usage import queries as usage

    if not (period.endswith("d") and period[:-1].isdigit() and int(period[:-1]) > 0):
        raise InvalidInput(f"--period {period!r}: write the number of days, e.g. 30d.")
    with reading(as_user) as (ctx, con):
        result = usage.report(ctx, con, days=int(period[:-1]), by=by)
    t = result["totals"]
    lines = [
        f"{result['organization']}, {result['from']} to {result['to']}: {t['calls']:,} calls,"
        f" {t['tokens']:,} tokens, {_usd(t['cost'])}"
        + (f" (+ {t['unpriced_calls']:,} unpriced calls)" if t["unpriced_calls"] else "")
        + f", p95 latency {t['p95_latency_ms'] or '-'} ms, {t['active_users']} active users.",
        f"{by:<40} {'calls':>9} {'tokens':>13} {'cost USD':>11} {'unpriced':>9}",
    ]
    lines += [
        f"{str(r[by]):<40} {r['calls']:>9,} {r['total_tokens']:>13,} {_usd(r['cost_usd'], 11)}"
        f" {r['unpriced_calls']:>9,}"
        for r in result["rows"]
    ]
    emit(result, as_json, "\n".join(lines))


def _usd(value, width: int = 0) -> str:
    """Dollars, or 'unpriced' when no call of the group has a price (never $0)."""
    text = "unpriced" if value is None else f"${value:,.2f}"
    return f"{text:>{width}}"
