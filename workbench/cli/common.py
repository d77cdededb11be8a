"""What every command shares: the settings, the store, the acting user's context, JSON or text output."""

from __future__ import annotations

import functools
import json
from contextlib import contextmanager
from datetime import date, datetime

import click

from workbench import home
from workbench import settings as settings_mod
from workbench.accounts import auth, context


def load_settings():
    return settings_mod.from_env()


@functools.cache
def workbench(bulk: bool = False) -> home.Workbench:
    """This command's handle on the data home, opened on first need. Its embedder is the light
    (torch-free) copy of the model when the home has it, for a command that embeds a question or a
    few rows; `bulk` (documents, code): the configured backend, faster on many texts."""
    return home.Workbench(load_settings(), on_wait=lambda m: click.echo(m, err=True), light=not bulk)


def open_store(read_only: bool = False):
    return home.open_store(load_settings(), on_wait=lambda m: click.echo(m, err=True), read_only=read_only)


@contextmanager
def acting(username: str, *, write: bool = False):
    """A (context, connection) pair for the user named by --as."""
    store = open_store()
    opener = store.transaction if write else store.connect
    with opener() as con:
        yield auth.context_for(con, username), con


@contextmanager
def reading(username: str):
    """A (context, connection) pair for a command that only reads: the file is opened read-only, so
    reading commands run side by side (a writer, the app included, waits for them)."""
    with open_store(read_only=True).connect() as con:
        yield auth.context_for(con, username), con


def context_of(username: str, *, read_only: bool = False) -> context.Context:
    """The acting user's context, read in a short unit of work (long commands hold no lock)."""
    with open_store(read_only).connect() as con:
        return auth.context_for(con, username)


def emit(data, as_json: bool, text: str) -> None:
    if as_json:
        click.echo(json.dumps(data, default=_json_default, indent=2))
    else:
        click.echo(text)


def _json_default(value):
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


as_option = click.option("--as", "as_user", required=True, metavar="USERNAME",
                         help="Act as this user, with their permissions and organisation.")
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON.")

