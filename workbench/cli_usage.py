"""CLI commands for LLM usage: import usage logs, report tokens, cost and latency."""

from __future__ import annotations

import click

from workbench.cli import main


@main.group("usage")
def usage_group() -> None:
    """Token, cost and latency of LLM calls."""
