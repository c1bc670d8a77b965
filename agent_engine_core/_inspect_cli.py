"""``agent-engine inspect`` and ``agent-engine diff``: the run store, read from the command line."""

from __future__ import annotations

import click

__all__ = ["diff", "inspect"]


@click.group(short_help="Look at stored runs: runs, show, stage, artifacts, events.")
def inspect() -> None:
    """Look at the runs kept in the project's run store (nothing here changes a run)."""


@click.command(short_help="The first stage where two stored runs differ.")
def diff() -> None:
    """Show the first differing stage of two stored runs."""
