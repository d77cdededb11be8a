"""CLI commands for the HTTP API: serve it, and create, list and revoke its keys."""

from __future__ import annotations

import click

from workbench.accounts import api_keys
from workbench.cli.common import acting, as_option, emit, json_option, load_settings, reading


@click.command("api")
@click.option("--address", help="Default: WORKBENCH_API_ADDRESS (127.0.0.1).")
@click.option("--port", type=int, help="Default: WORKBENCH_API_PORT (8502).")
def api_command(address, port) -> None:
    """Serve the HTTP API on the data home (docs at /docs)."""
    import uvicorn

    from workbench import home
    from workbench.api.app import create_app

    cfg = load_settings()
    home.init(cfg)
    address, port = address or cfg.api_address, port or cfg.api_port
    app = create_app(cfg)
    click.echo(f"Workbench API on http://{address}:{port} (docs at /docs, data home {cfg.home})")
    # no proxy headers: a client's X-Forwarded-For would choose the address its failed keys count
    # against; behind a proxy, the proxy's address is the client's (issue 21 brings the team setup)
    uvicorn.run(app, host=address, port=port, log_level="warning", access_log=False,
                proxy_headers=False, timeout_graceful_shutdown=5)


@click.group("key")
def key_group() -> None:
    """API keys of your organisation (admins): create, list, revoke."""


@key_group.command("create")
@click.argument("name")
@click.option("--role", default="viewer", show_default=True, type=click.Choice(api_keys.KEY_ROLES),
              help="What the key may do (never more than you): reporter only reports LLM calls.")
@as_option
@json_option
def key_create(name, role, as_user, as_json) -> None:
    """Create a key; it is printed this once and stored only as a hash."""
    with acting(as_user, write=True) as (ctx, con):
        created = api_keys.create_api_key(ctx, con, name, role)
    emit(created, as_json, f"{created['key']}\nKey {created['name']} ({created['role']}) created:"
                           " copy it now, it is not shown again.")


@key_group.command("list")
@as_option
@json_option
def key_list(as_user, as_json) -> None:
    """The organisation's keys (never the secret)."""
    with reading(as_user) as (ctx, con):
        rows = api_keys.list_api_keys(ctx, con)
    lines = [f"{r['uuid']}  {r['prefix']}…  {r['name']:<20} {r['role'] or '':<15}"
             f" by {r['created_by'] or '-':<10} {'revoked' if r['revoked_at'] else 'live'}"
             for r in rows] or ["No API keys yet."]
    emit(rows, as_json, "\n".join(lines))


@key_group.command("revoke")
@click.argument("key_id")
@as_option
@json_option
def key_revoke(key_id, as_user, as_json) -> None:
    """Revoke the key KEY_ID (its UUID from `workbench key list`)."""
    with acting(as_user, write=True) as (ctx, con):
        api_keys.revoke_api_key(ctx, con, key_id)
    emit({"revoked": key_id}, as_json, f"Revoked {key_id}: requests with it are refused from now on.")
