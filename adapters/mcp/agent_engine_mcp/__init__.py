"""Model Context Protocol servers as Agent Engine tools, on the official ``mcp`` SDK: pinned and replayable.

A tools.yaml entry of type ``mcp`` names one server (stdio or streamable HTTP) in its ``config:``; each of the
server's allow-listed tools becomes a tool ``<entry id>.<name>``. Each run opens one session (one server process
for a stdio server), the tool list is pinned by hash (``agent-engine mcp lock``), every call is recorded with the
pin, and ``agent-engine replay`` answers the calls from the recording without the server. README.md has the
config keys and a worked example.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_mcp._version import __version__

if TYPE_CHECKING:  # the names as type checkers see them; at run time they load on first access
    from agent_engine_mcp._listing import Listing
    from agent_engine_mcp._server import McpServer, McpTool

__all__ = ["Listing", "McpServer", "McpTool", "__version__"]

_LAZY = {
    "Listing": "agent_engine_mcp._listing",
    "McpServer": "agent_engine_mcp._server",
    "McpTool": "agent_engine_mcp._server",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first access, so that plugin discovery does not import the SDK."""
    return lazy_attribute(__name__, _LAZY, name)
