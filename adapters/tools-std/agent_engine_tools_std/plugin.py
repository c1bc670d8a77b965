"""The ``agent_engine`` entry point of agent-engine-tools-std: registers the standard tool types.

Each factory imports its implementation when a tools.yaml entry uses it, so discovering the plugin imports
nothing but this module (httpx2 loads only when a ``net.http_get`` entry is built).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from agent_engine_core import hookimpl
from agent_engine_core.tools import Tool, ToolSetup

__all__ = ["TOOL_TYPES", "register_tools"]

TOOL_TYPES = {
    "fs.read_file": ("agent_engine_tools_std._fs", "ReadFileTool"),
    "fs.write_file": ("agent_engine_tools_std._fs", "WriteFileTool"),
    "fs.list_dir": ("agent_engine_tools_std._fs", "ListDirTool"),
    "proc.run_command": ("agent_engine_tools_std._proc", "RunCommandTool"),
    "net.http_get": ("agent_engine_tools_std._net", "HttpGetTool"),
    "memory.write": ("agent_engine_tools_std._memory", "MemoryWriteTool"),
}
"""Tool type name -> (module, class) of its implementation; the class is the factory."""


def _factory(module: str, name: str) -> Callable[[ToolSetup], Tool]:
    def build(setup: ToolSetup) -> Tool:
        tool_class: Any = getattr(importlib.import_module(module), name)
        tool: Tool = tool_class(setup)
        return tool

    build.__name__ = build.__qualname__ = f"build_{name}"
    build.__doc__ = f"Build a ``{name}`` from its tools.yaml entry (``{module}`` is imported on first use)."
    return build


@hookimpl
def register_tools(register: Callable[..., None]) -> None:
    """Every type of ``TOOL_TYPES``: the file tools, ``proc.run_command``, ``net.http_get`` and ``memory.write``."""
    for type_name, (module, name) in TOOL_TYPES.items():
        register(type_name, _factory(module, name))
