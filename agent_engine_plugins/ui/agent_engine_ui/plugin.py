"""The entry point module: registers the ``agent-engine ui`` command (imports nothing heavy until it runs)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from agent_engine_core import hookimpl

__all__ = ["register_cli_commands"]


@hookimpl
def register_cli_commands(register: Callable[[Any], None]) -> None:
    """Offer ``agent-engine ui``."""
    from agent_engine_ui.cli import ui  # noqa: PLC0415 - click only; the server loads when the command runs

    register(ui)
