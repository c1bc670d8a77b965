"""What a handler receives besides its payload: the read-only ``NodeContext``, and ``NodeFailure``."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any, NoReturn

from agent_engine_core._logging import get_logger
from agent_engine_core.codec import dumps
from agent_engine_core.errors import MemoryDenied, NodeFailure, ToolMisuse
from agent_engine_core.records import Lineage
from agent_engine_core.tools import BoundTool, ToolInvocation, ToolResult, ToolScope, ToolStatus

if TYPE_CHECKING:
    from agent_engine_core.memory import Memory

__all__ = ["MemoryAccess", "MemoryDenied", "MemoryLayer", "NodeContext", "NodeFailure", "ToolBox", "ToolMisuse"]


class ToolBox:
    """The tools a node may call, and nothing else: ``ctx.tools.read_file(path=...)``, ``ctx.tools["calc.add"](...)``.

    An id that is not a Python name (``calc.add``, a tool of an MCP server) is called by subscript. A call
    returns the tool's ``ToolResult``; every call is recorded in ``calls``. Misuse (a tool not on the node's
    list, bad arguments, a path outside the root) raises ``ToolMisuse`` and is remembered in ``misuse``, so the
    node fails with kind ``tool_misuse`` even when its handler catches the exception.
    """

    __slots__ = ("_node_id", "_scope", "_tools", "calls", "misuse")

    def __init__(self, node_id: str, tools: Mapping[str, BoundTool], scope: ToolScope | None = None) -> None:
        self._node_id = node_id
        self._tools = tools
        self._scope = scope
        self.calls: list[ToolInvocation] = []
        self.misuse: str | None = None

    def __getattr__(self, name: str) -> Callable[..., ToolResult]:
        if name.startswith("_"):  # Python's own protocol lookups (copy, pickle, hasattr probes) are not tools
            raise AttributeError(name)
        return self[name]

    def __getitem__(self, name: str) -> Callable[..., ToolResult]:
        tool = self._tools.get(name)
        if tool is None:
            allowed = ", ".join(sorted(self._tools)) or "none"
            self._misused(f"node '{self._node_id}' may not use tool '{name}' (allowed: {allowed})")

        def call(**arguments: Any) -> ToolResult:
            invocation = tool.invoke(arguments, scope=self._scope)
            self.calls.append(invocation)
            if invocation.status is ToolStatus.FAILURE:
                self._misused(invocation.error or f"tool '{name}' refused the call")
            return invocation.result

        return call

    def _misused(self, message: str) -> NoReturn:
        if self.misuse is None:
            self.misuse = message
        raise ToolMisuse(message)

    def __contains__(self, name: object) -> bool:
        return name in self._tools

    def __iter__(self) -> Any:
        return iter(sorted(self._tools))


class MemoryAccess:
    """``ctx.memory``: a handler's write access to project and global memory, as the policy allows.

    ``ctx.memory.project.append(payload, tags=[...])`` and ``ctx.memory.global_...`` store items tagged with the
    node id (and the given tags) for the running task; a layer the policy denies to the node raises
    ``MemoryDenied``, which fails the stage with kind ``policy``. ``query`` reads like ``engine.memory``.
    """

    __slots__ = ("_denied", "_memory", "_node_id", "_task_id")

    def __init__(self, memory: Memory | None, node_id: str, task_id: str, denied: Mapping[str, Any]) -> None:
        self._memory, self._node_id, self._task_id, self._denied = memory, node_id, task_id, denied

    @property
    def project(self) -> MemoryLayer:
        """Project memory (made on use: most handlers never touch memory)."""
        return MemoryLayer(self._memory, "project", self._node_id, self._task_id, self._denied.get("project"))

    @property
    def global_(self) -> MemoryLayer:
        """Global memory, shared by every project."""
        return MemoryLayer(self._memory, "global", self._node_id, self._task_id, self._denied.get("global"))


class MemoryLayer:
    """One memory layer as a handler sees it."""

    __slots__ = ("_denial", "_memory", "_name", "_node_id", "_task_id")

    def __init__(self, memory: Memory | None, name: str, node_id: str, task_id: str, denial: Any) -> None:
        self._memory, self._name, self._node_id, self._task_id, self._denial = memory, name, node_id, task_id, denial

    def append(self, payload: Any, *, tags: Sequence[str] = (), metadata: Any = None) -> Any:
        """Store ``payload`` (tagged with the node id and ``tags``) unless the policy denies this layer."""
        if self._denial is not None:
            raise MemoryDenied(self._denial)
        return self._store().append(payload, tags=(self._node_id, *tags), metadata=metadata, task_id=self._task_id)

    def query(self, *, tags: Sequence[str] = (), limit: int | None = None) -> Any:
        """Items of the layer, oldest first."""
        return self._store().query(tags=tags, limit=limit)

    def _store(self) -> Any:
        if self._memory is None:
            raise RuntimeError("this engine has no memory")
        return self._memory.store(self._name)  # type: ignore[arg-type]


class NodeContext:
    """Read-only facts about the running stage, handed to handlers as ``ctx``.

    ``context`` is the assembled context package (empty for ``context: none``), ``tools`` only the node's
    allowed tools, ``memory`` write access to project and global memory, ``log`` a structlog logger bound to
    run, task and node.
    """

    __slots__ = ("_log", "context", "lineage", "memory", "node_id", "run_id", "task_id", "tools")

    node_id: str
    task_id: str
    run_id: str
    lineage: Lineage
    tools: ToolBox
    context: tuple[Any, ...]
    memory: MemoryAccess
    _log: Any

    def __init__(
        self, *, node_id: str, task_id: str, run_id: str, lineage: Lineage, tools: ToolBox,
        context: tuple[Any, ...] = (), memory: MemoryAccess | None = None,
    ) -> None:
        put = object.__setattr__  # the class refuses plain assignment: handlers get a read-only view
        put(self, "node_id", node_id)
        put(self, "task_id", task_id)
        put(self, "run_id", run_id)
        put(self, "lineage", lineage)
        put(self, "tools", tools)
        put(self, "context", context)
        put(self, "memory", memory if memory is not None else MemoryAccess(None, node_id, task_id, {}))
        put(self, "_log", None)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"NodeContext is read-only; cannot set '{name}'")

    @property
    def log(self) -> Any:
        """A structlog logger bound to ``run_id``, ``task_id`` and ``node_id`` (created on first use)."""
        if self._log is None:
            bound = get_logger("agent_engine.handler", run_id=self.run_id, task_id=self.task_id, node_id=self.node_id)
            object.__setattr__(self, "_log", bound)
        return self._log

    def __repr__(self) -> str:
        lineage = dumps(self.lineage.to_dict())
        return f"NodeContext(node_id={self.node_id!r}, task_id={self.task_id!r}, lineage={lineage})"
