"""Standard tools for Agent Engine: root-confined files, commands without a shell, HTTP GET over httpx2.

Install the distribution and name the tool types in tools.yaml: ``fs.read_file``, ``fs.write_file``,
``fs.list_dir`` (paths confined to the entry's ``root``), ``proc.run_command`` (needs ``allow_shell: true``)
and ``net.http_get`` (needs ``allow_network: true``). README.md has each type's arguments and config keys, the
confinement rules, and what is not protected.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_tools_std._version import __version__

if TYPE_CHECKING:  # the names as type checkers see them; at run time they load on first access
    from agent_engine_tools_std._fs import ListDirTool, ReadFileTool, WriteFileTool
    from agent_engine_tools_std._net import HttpGetTool
    from agent_engine_tools_std._proc import RunCommandTool

__all__ = [
    "HttpGetTool",
    "ListDirTool",
    "ReadFileTool",
    "RunCommandTool",
    "WriteFileTool",
    "__version__",
]

_LAZY = {
    "HttpGetTool": "agent_engine_tools_std._net",
    "ListDirTool": "agent_engine_tools_std._fs",
    "ReadFileTool": "agent_engine_tools_std._fs",
    "RunCommandTool": "agent_engine_tools_std._proc",
    "WriteFileTool": "agent_engine_tools_std._fs",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first access, so that plugin discovery does not import httpx2."""
    return lazy_attribute(__name__, _LAZY, name)
