"""CLI commands for forecasts: train on a workbench metric or a dataset, score with production."""

from __future__ import annotations

import click

from workbench.cli.common import as_option, context_of, emit, json_option, workbench
from workbench.models.forecast import FREQUENCY_NAMES, METHODS


@click.group("forecast")
def forecast_group() -> None:
    """Forecasts of daily usage or a dataset's series at its own frequency, tracked in the MLflow registry."""


@forecast_group.command("train")
@click.option("--metric", type=click.Choice(["tokens", "cost", "calls", "conversations"]),
              help="A daily metric of your organisation's usage.")
@click.option("--by", type=click.Choice(["provider", "model"]), help="One series per provider or model.")
@click.option("--dataset", metavar="NAME", help="A registered dataset instead of a metric.")
@click.option("--date", "date_col", metavar="COL", help="The dataset's date column.")
@click.option("--value", "value_col", metavar="COL", help="The dataset's value column.")
@click.option("--series", "series_col", metavar="COL", help="The dataset's series id column, if several.")
@click.option("--aggregate", type=click.Choice(FREQUENCY_NAMES),
              help="Total the dataset's values per hour, day, week, month, quarter or year first (for "
                   "irregular times).")
@click.option("--aggregate-with", "how", default="sum", show_default=True, type=click.Choice(["sum", "mean"]),
              help="How --aggregate combines the values of a period.")
@click.option("--method", default="auto", show_default=True, type=click.Choice(["auto", *METHODS]),
              help="auto: the method with the lowest MASE in the backtest, of all but arima.")
@click.option("--horizon", type=click.IntRange(1, 1000),
              help="Steps ahead in the series' frequency (default 48 hours, 30 days, 13 weeks, 12 months, "
                   "8 quarters or 5 years).")
@click.option("--name", help="Model name (default forecast-METRIC[-BY] or forecast-DATASET).")
@as_option
@json_option
def train_command(metric, by, dataset, date_col, value_col, series_col, aggregate, how, method, horizon, name,
                  as_user, as_json) -> None:
    """Backtest against seasonal naive, fit, log to MLflow and register a staging version. The
    frequency comes from the dataset's dates (hourly to yearly); irregular dates need --aggregate."""
    from workbench.models.forecast import frequency, service

    if not (metric or dataset):
        raise click.UsageError("Give --metric (a workbench metric) or --dataset with --date and --value.")

    def progress(fraction: float, message: str) -> None:
        click.echo(f"{fraction:4.0%} {message}", err=True)

    # the file is held to read the series and to register, not while fitting
    result = service.train(context_of(as_user), workbench(), metric=metric, by=by,
                           dataset=dataset, date_col=date_col, value_col=value_col, series_col=series_col,
                           aggregate=aggregate, how=how, method=method, horizon=horizon, name=name,
                           progress=progress)
    m, params = result["metrics"], result["params"]
    freq = frequency.named(params["frequency"], params["seasons"])
    seasons = ", ".join(freq.steps(s) for s in freq.seasons) or "none"
    lines = [f"{result['name']} version {result['version']} ({result['stage']}), method {result['method']},"
             f" run {result['run_id']}",
             f"{freq.name} series, seasons {seasons}; {params['series']} series from {params['first_time']}"
             f" to {params['last_time']}" + (f", {params['interpolated']} missing steps interpolated"
                                              if params.get("interpolated") else ""),
             f"backtest over {params['windows']} windows of {freq.steps(params['horizon'])}:"
             f" MASE {_num(m['mase'])} (seasonal naive {_num(m['baseline_mase'])}),"
             f" sMAPE {_num(m['smape'])}% ({_num(m['baseline_smape'])}%),"
             f" MAE {_num(m['mae'])} ({_num(m['baseline_mae'])})",
             f"{'window':<7} {'cutoff':<11} {'method':<15} {'MAE':>12} {'sMAPE %':>8} {'MASE':>7}"]
    lines += [f"{r['window']:<7} {r['cutoff'] or '':<11} {r['method']:<15} {_num(r['mae']):>12}"
              f" {_num(r['smape']):>8} {_num(r['mase']):>7}" for r in result["backtest"]]
    emit(result, as_json, "\n".join(lines))


@forecast_group.command("score")
@click.argument("name")
@as_option
@json_option
def score_command(name, as_user, as_json) -> None:
    """Forecast with the production version and save the results and chart (analytics_results)."""
    from workbench.models.forecast import frequency, service

    # read the history, forecast without the file, then write
    result = service.score(context_of(as_user), workbench(), name)
    unit = frequency.named(result["frequency"]).unit
    lines = [f"{name} version {result['version']} ({result['method']}): {result['rows']} forecast {unit}s of"
             f" {result['series']} series saved as batch {result['batch_id']}; chart {result['chart']}",
             f"{'series':<24} {unit:<16} {'forecast':>12} {'80% interval':>27}"]
    lines += [f"{r['series']:<24} {r['time']:<16} {_num(r['value']):>12}"
              f" {_num(r['lo80']):>13}-{_num(r['hi80']):<13}" for r in result["forecast"]]
    emit(result, as_json, "\n".join(lines))


def _num(value) -> str:
    return "-" if value is None else f"{value:,.3f}" if abs(value) < 1000 else f"{value:,.0f}"
