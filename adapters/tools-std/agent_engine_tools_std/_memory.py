"""``memory.write``: lets a node (or a model) append an item to project or global memory.

``config: {store: project | global, tags: [...]}`` (default: project, no tags). The item is tagged with the
configured tags plus those of the call; where it may write is this entry's decision, and policy rules on the tool
decide which nodes may use it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from agent_engine_core.errors import ToolError
from agent_engine_core.tools import ToolResult, ToolSetup

from agent_engine_tools_std._config import Option, read_config

__all__ = ["MemoryWriteTool"]

_OPTIONS = {"store": Option("str", "project"), "tags": Option("str_list", [])}


class MemoryWriteTool:
    """Append ``payload`` (any JSON value) with ``tags`` to the configured memory layer."""

    description = "Remember a JSON value for later runs, with optional tags."
    parameters: Mapping[str, Any] = {
        "type": "object",
        "properties": {"payload": {}, "tags": {"type": "array", "items": {"type": "string"}, "maxItems": 16}},
        "required": ["payload"],
        "additionalProperties": False,
    }

    def __init__(self, setup: ToolSetup) -> None:
        config = read_config("memory.write", setup.spec.config, _OPTIONS)
        if config["store"] not in ("project", "global"):
            raise ToolError(f"config.store of memory.write must be project or global, not {config['store']!r}")
        if setup.memory is None:
            raise ToolError("memory.write needs an engine with memory")
        self._store = setup.memory.store(config["store"])
        self._tags = tuple(config["tags"])

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Store the item; an unreachable backend is an environment error the node may handle."""
        try:
            item = self._store.append(arguments["payload"], tags=(*self._tags, *arguments.get("tags", ())))
        except Exception as exc:  # a backend's own failure: the environment, not the call
            return ToolResult.environment(f"memory.write could not store the item: {type(exc).__name__}: {exc}")
        return ToolResult.ok({"id": item.id, "store": self._store.name, "tags": list(item.tags)})
