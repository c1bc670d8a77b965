"""The ``agent_engine`` entry point of agent-engine-mcp: the ``mcp`` tool type and the ``agent-engine mcp`` commands.

Discovering the plugin imports nothing but this module: the SDK loads when an ``mcp`` entry is built, the
commands' module when the CLI asks for them.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl
from agent_engine_core.tools import ToolSet, ToolSetup

__all__ = ["build_mcp", "register_cli_commands", "register_tools"]


def build_mcp(setup: ToolSetup) -> ToolSet:
    """The tools of the MCP server an ``mcp`` entry names (``agent_engine_mcp._server.McpServer``)."""
    from agent_engine_mcp._server import McpServer  # noqa: PLC0415 - the SDK loads with the first mcp entry

    return McpServer(setup)


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    """The ``mcp`` tool type."""
    register("mcp", build_mcp)


@hookimpl
def register_cli_commands(register: Callable[..., None]) -> None:
    """``agent-engine mcp list DIR`` and ``agent-engine mcp lock DIR``."""
    from agent_engine_mcp._cli import mcp  # noqa: PLC0415 - click commands load when the CLI lists commands

    register(mcp)
