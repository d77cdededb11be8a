"""`workbench demo`: the deterministic demo data, its documents and calls embedded."""

from __future__ import annotations

import time

import click

from workbench import home
from workbench.cli.common import emit, json_option, load_settings, open_store
from workbench.errors import WorkbenchError
from workbench.ops import indexing


@click.command()
@click.option("--scale", type=click.IntRange(min=1), metavar="N",
              help="Also write N extra llm_calls through the bulk path (for benchmarks).")
@click.option("--if-empty", is_flag=True, help="Load only when the database is empty.")
@click.option("--background", is_flag=True,
              help="Embed the documents and calls in a background process (the app shows its progress).")
@json_option
def demo(scale, if_empty, background, as_json) -> None:
    """Load the deterministic demo data (two organisations) into an empty database."""
    from workbench.ops import demo as demo_mod
    from workbench.ops.demo import people, usage

    cfg = load_settings()
    home.init(cfg)
    store = open_store()
    result: dict = {}
    started = time.perf_counter()
    if home.is_empty(store):
        result["loaded"] = demo_mod.load(cfg, store)
    elif not if_empty and not scale:
        raise WorkbenchError("The database already holds data; the demo loads only into an "
                             "empty one. Point WORKBENCH_HOME at a new folder.")
    result["load_seconds"] = round(time.perf_counter() - started, 2)
    if background:
        result["indexing_pid"] = indexing.start_background(cfg)
    else:
        result |= indexing.run(cfg, None if as_json else lambda line: click.echo(line, err=True))
    if scale:
        started = time.perf_counter()
        with store.transaction() as con:
            usage.write_scale(con, scale, seed=cfg.demo_seed, fading_usernames=people.FADING,
                              progress=None if as_json else
                              lambda done, n: click.echo(f"  {done:,}/{n:,} llm_calls", err=True))
        result["scale_rows"] = scale
        result["scale_seconds"] = round(time.perf_counter() - started, 2)
    result["logins"] = [{"username": u[1], "role": u[3], "organization": people.ORGS[u[0]]["name"]}
                        for u in people.USERS]
    result["password"] = people.DEMO_PASSWORD
    lines = []
    if "loaded" in result:
        lines.append(f"Demo loaded in {result['load_seconds']} s: " + ", ".join(
            f"{v:,} {k}" for k, v in result["loaded"].items()))
    else:
        lines.append("Demo data already present.")
    if "ingest_seconds" in result:
        lines.append(f"Embedded {result['documents_ingested']} sample documents"
                     f" in {result['ingest_seconds']} s.")
    if result.get("calls_embedded"):
        lines.append(f"Embedded {result['calls_embedded']:,} calls' utterances and"
                     f" {result['qa_embedded']} QA pairs, clustered intents, in {result['calls_seconds']} s.")
    if result.get("indexing_pid"):
        lines.append("Embedding the documents and calls in the background: the app shows the progress"
                     " (or run `workbench index --status`).")
    if scale:
        lines.append(f"Wrote {scale:,} llm_calls in {result['scale_seconds']} s.")
    lines.append(f"Demo logins (password: {people.DEMO_PASSWORD}):")
    lines += [f"  {x['username']:<8} {x['role']:<15} {x['organization']}" for x in result["logins"]]
    emit(result, as_json, "\n".join(lines))
