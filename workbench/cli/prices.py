"""CLI commands for the price catalogue."""

from __future__ import annotations

from pathlib import Path

import click

from workbench.cli.common import acting, as_option, emit, json_option, load_settings, reading
from workbench.errors import InvalidInput

DAY = click.DateTime(formats=["%Y-%m-%d"])


def _rate(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


@click.group("prices")
def prices_group() -> None:
    """The price catalogue: rates per million tokens by provider and model."""


@prices_group.command("list")
@click.option("--provider", help="Only this provider (openai, anthropic, ...).")
@click.option("--search", "text", help="Only models or patterns containing this text.")
@as_option
@json_option
def list_command(provider, text, as_user, as_json) -> None:
    """The shared catalogue and your organisation's own rows (marked 'own'), USD per million tokens."""
    from workbench.usage import price_catalogue

    with reading(as_user) as (ctx, con):
        rows = price_catalogue.list_prices(ctx, con, provider=provider, text=text)
    lines = [
        f"#{r['id']:<5} {r['provider']:<10} {r['match_pattern']:<28} in {_rate(r['input_per_million']):<7}"
        f" out {_rate(r['output_per_million']):<7} cached {_rate(r['cached_input_per_million']):<7}"
        f" {r['effective_from']} -> {r['effective_to'] or 'now':<10}"
        f" {'own' if r['own'] else 'shared':<6}{'' if r['in_effect'] else ' (not in effect)'}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "No prices match.")


@prices_group.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option(
    "--from", "effective_from", type=DAY, help="First day the imported prices apply (default today)."
)
@as_option
@json_option
def import_command(file, effective_from, as_user, as_json) -> None:
    """Import LiteLLM's model_prices_and_context_window.json as your organisation's prices."""
    from workbench.usage import price_import

    path = Path(file)
    limit_mb = load_settings().upload_max_mb
    if path.stat().st_size > limit_mb * 1024 * 1024:  # refused from its size, never read into memory
        raise InvalidInput(
            f"{path.name} is {path.stat().st_size / 2**20:,.0f} MB; the limit is {limit_mb} MB"
            " (WORKBENCH_UPLOAD_MAX_MB). Nothing was imported."
        )
    with acting(as_user, write=True) as (ctx, con):
        result = price_import.import_litellm(
            ctx, con, path.read_bytes(), source_name=path.name, effective_from=effective_from
        )
    text = (
        f"{path.name}: {result['added']} prices added, {result['replaced']} earlier LiteLLM prices replaced,"
        f" {result['skipped']} entries skipped; {result['repriced_calls']} calls repriced."
    )
    emit(result, as_json, text)


@prices_group.command("set")
@click.option("--provider", required=True, help="Provider as metered: openai, anthropic, mistral, ...")
@click.option("--model", required=True, help="Model name (the display name, and the pattern by default).")
@click.option("--pattern", help="Glob on the called model, any case (default: exactly --model).")
@click.option("--input", "input_rate", type=float, required=True, help="USD per million input tokens.")
@click.option("--output", "output_rate", type=float, required=True, help="USD per million output tokens.")
@click.option("--cached", type=float, help="USD per million cached input tokens (default: the input rate).")
@click.option("--embedding", type=float, help="USD per million embedding tokens (default: the input rate).")
@click.option("--from", "effective_from", type=DAY, help="A price change from this day (default: all calls).")
@as_option
@json_option
def set_command(
    provider, model, pattern, input_rate, output_rate, cached, embedding, effective_from, as_user, as_json
) -> None:
    """Set a model's price for your organisation and reprice the calls it applies to."""
    from workbench.usage import price_catalogue

    rates = {"input_per_million": input_rate, "output_per_million": output_rate}
    rates |= {"cached_input_per_million": cached} if cached is not None else {}
    rates |= {"embedding_per_million": embedding} if embedding is not None else {}
    with acting(as_user, write=True) as (ctx, con):
        result = price_catalogue.set_price(
            ctx,
            con,
            provider=provider,
            model=model,
            match_pattern=pattern,
            effective_from=effective_from,
            **rates,
        )
    emit(
        result,
        as_json,
        f"Price #{result['id']} {result['action']}; {result['repriced_calls']} calls repriced.",
    )


@prices_group.command("recompute")
@click.option("--since", type=DAY, help="Only calls from this day.")
@as_option
@json_option
def recompute_command(since, as_user, as_json) -> None:
    """Reprice your organisation's calls from the catalogue and rebuild their daily rollups."""
    from workbench.usage import price_catalogue

    with acting(as_user, write=True) as (ctx, con):
        result = price_catalogue.recompute_org(ctx, con, since=since)
    emit(result, as_json, f"Repriced {result['repriced_calls']} calls in {result['seconds']} s.")


@prices_group.command("unpriced")
@as_option
@click.option("--since", type=DAY, help="Only calls from this day.")
@json_option
def unpriced_command(as_user, since, as_json) -> None:
    """Models your organisation called that no price matches: their cost is unknown, not $0."""
    from workbench.usage import price_catalogue

    with reading(as_user) as (ctx, con):
        rows = price_catalogue.unpriced_models(ctx, con, since=since)
    lines = [
        f"{r['provider']:<10} {r['model']:<40} {r['calls']:>8,} calls {r['tokens']:>12,} tokens"
        f"  {r['first_seen']} .. {r['last_seen']}"
        for r in rows
    ]
    emit(rows, as_json, "\n".join(lines) or "Every call is priced.")
