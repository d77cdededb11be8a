"""CLI commands for the price catalogue."""

from __future__ import annotations

import click

from workbench.cli import main


@main.group("prices")
def prices_group() -> None:
    """The price catalogue: rates per million tokens by provider and model."""
