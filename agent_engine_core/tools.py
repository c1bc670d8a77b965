"""The tool contract: tool types registered by plugins, instantiated from tools.yaml, invoked by nodes.

A tool type is registered with ``register(type_name, factory)``; ``factory(ToolSetup)`` returns an object with
``description`` (str), ``parameters`` (the JSON Schema of its arguments object) and
``invoke(arguments) -> ToolResult``. The engine validates the arguments against ``parameters`` before calling
``invoke``, so a tool sees only well-formed calls, and records every invocation -- from a handler
(``ctx.tools.<id>(...)``) or from a model's tool call -- in the stage's history.

``ToolResult.status`` is ``success``; ``failure`` for misuse (bad arguments, a path outside ``root``, a denied
permission), which fails the node with kind ``tool_misuse``; or ``error`` for an environment problem (disk full,
timeout), which is recorded and left to the node (a model sees it as the tool's answer). ``ToolResult.meta``
is what a tool wants kept about the call (the server that answered, the pin of its tool list): it is recorded in
the history and the trace, never sent to a model.

A factory may build several tools from one entry -- the tools an MCP server lists -- by returning a ``ToolSet``:
each of its ``tools`` is bound as ``<entry id>.<name>`` (``calc.add``), which nodes list and handlers call as
``ctx.tools["calc.add"](...)``. Whatever a factory returns (a tool or a set) may also have

- ``describe() -> Mapping[str, Any]``: recorded in every result's metadata under ``tools.<entry id>``;
- ``finish_run(run_id)``: called when a run ends, whatever its status, to release what the run held (a session);
- ``close()``: called by ``Engine.close``.

A tool with ``external = True`` answers from outside the engine (a server), like a model: a replay answers its
calls from the recording instead of calling it. ``current_scope()`` tells a running ``invoke`` which run, task
and node it was called for (a tool that keeps one session per run keys it by the run id).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent_engine_core._schemas import SchemaSet
from agent_engine_core.codec import JSONValueError, dumps, embed, loads

if TYPE_CHECKING:
    import jsonschema

    from agent_engine_core.memory import Memory
    from agent_engine_core.secrets import Secret

__all__ = ["BoundTool", "Tool", "ToolConfig", "ToolFactory", "ToolInvocation", "ToolResult", "ToolScope", "ToolSet",
           "ToolSetup", "ToolStatus", "current_scope"]


class ToolStatus(StrEnum):
    """How a tool invocation ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returns: ``output`` (JSON) on success, ``error`` (a message) otherwise.

    ``meta`` (JSON, or ``None``) is kept with the call in the history and the trace but not sent to a model: what
    answered the call, for the record.
    """

    status: ToolStatus
    output: Any = None
    error: str | None = None
    meta: Mapping[str, Any] | None = None

    @classmethod
    def ok(cls, output: Any, meta: Mapping[str, Any] | None = None) -> ToolResult:
        """A successful invocation."""
        return cls(ToolStatus.SUCCESS, output, None, meta)

    @classmethod
    def misuse(cls, message: str, meta: Mapping[str, Any] | None = None) -> ToolResult:
        """The call itself was wrong (arguments, confinement, permissions): the node fails."""
        return cls(ToolStatus.FAILURE, None, message, meta)

    @classmethod
    def environment(cls, message: str, meta: Mapping[str, Any] | None = None) -> ToolResult:
        """The environment failed the call (I/O error, timeout): recorded, and the node decides."""
        return cls(ToolStatus.ERROR, None, message, meta)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: what a model is sent back (``meta`` is not: it is the record's, see ``ToolInvocation``)."""
        return {"status": str(self.status), "output": self.output, "error": self.error}


class ToolConfig(Protocol):
    """What a tool factory reads of its tools.yaml entry; the engine passes a ``manifests.models.ToolSpec``.

    Declared here so that the contract does not import the manifests, which are built on it.
    """

    @property
    def id(self) -> str:
        """The tool's id, as nodes list it."""

    @property
    def type(self) -> str:
        """The registered tool type."""

    @property
    def description(self) -> str | None:
        """Shown to models instead of the tool type's description."""

    @property
    def root(self) -> str | None:
        """Where path arguments are confined (``ToolSetup.root`` is it resolved)."""

    @property
    def allow_network(self) -> bool:
        """The tool may open network connections."""

    @property
    def allow_shell(self) -> bool:
        """The tool may start processes."""

    @property
    def timeout_s(self) -> float:
        """How long one invocation may take."""

    @property
    def config(self) -> Mapping[str, Any]:
        """The entry's ``config:``, read-only."""


@dataclass(frozen=True, slots=True)
class ToolSetup:
    """What a tool factory builds one tools.yaml entry from; ``root`` is resolved (symlinks included).

    ``memory`` is the engine's memory (``project``/``global_`` stores), for tools that write to it.
    ``credential(id)`` reads the key of a provider_credentials.yaml entry as a redacting ``Secret`` (raising
    ``ToolError`` naming the entry, never a value, when it is unknown or unreadable); ``None`` for engines built
    without one. ``for_replay`` is set for an engine built to replay recordings (``agent-engine replay``): an
    external tool's calls will be answered from the recording, so its factory need not reach its server to
    describe it when it has a recorded description of its own (an MCP lock).
    """

    spec: ToolConfig
    root: Path | None
    project_dir: Path | None
    memory: Memory | None = None
    credential: Callable[[str], Secret] | None = None
    for_replay: bool = False


@runtime_checkable
class Tool(Protocol):
    """One configured tool."""

    description: str
    parameters: Mapping[str, Any]

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Run the tool on validated ``arguments``."""
        ...


@runtime_checkable
class ToolSet(Protocol):
    """Several tools built from one tools.yaml entry, bound as ``<entry id>.<name>`` (see the module docstring)."""

    tools: Mapping[str, Tool]


ToolFactory = Callable[[ToolSetup], Tool | ToolSet]
"""Builds a tool (or a ``ToolSet``) from its tools.yaml entry; raises ``ToolError`` (or ``ValueError``) for an
unusable config."""


@dataclass(frozen=True, slots=True)
class ToolScope:
    """The stage a tool is invoked for: its run (what a per-run session is keyed by), task and node."""

    run_id: str
    task_id: str
    node_id: str


_SCOPE: ContextVar[ToolScope | None] = ContextVar("agent_engine_tool_scope", default=None)


def current_scope() -> ToolScope | None:
    """The stage the running ``Tool.invoke`` was called for; ``None`` outside an engine's call (a direct call)."""
    return _SCOPE.get()


@dataclass(frozen=True, slots=True)
class ToolInvocation:
    """One tool call as the history keeps it; ``call_id`` is the model's id when a model asked for it."""

    tool_id: str
    arguments_json: str
    status: ToolStatus
    output_json: str
    error: str | None = None
    call_id: str | None = None
    meta_json: str | None = None
    """The result's ``meta`` as JSON text; ``None`` when the tool gave none (then ``to_dict`` has no ``meta``)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON form (part of the canonical trace); ``meta`` only when the tool gave one, as before it existed."""
        found = {
            "tool_id": self.tool_id,
            "call_id": self.call_id,
            "arguments": loads(self.arguments_json),
            "status": str(self.status),
            "output": loads(self.output_json),
            "error": self.error,
        }
        if self.meta_json is not None:
            found["meta"] = loads(self.meta_json)
        return found

    def stored(self) -> dict[str, Any]:
        """``to_dict`` for ``codec.compose``: arguments and output embedded as text, not decoded."""
        found = {"tool_id": self.tool_id, "call_id": self.call_id, "arguments": embed(self.arguments_json),
                 "status": str(self.status), "output": embed(self.output_json), "error": self.error}
        if self.meta_json is not None:
            found["meta"] = embed(self.meta_json)
        return found

    def outcome(self) -> dict[str, Any]:
        """The result as the ``tool_invoked`` event carries it: ``ToolResult.to_dict`` plus ``meta`` when given."""
        found = self.result.to_dict()
        if self.meta_json is not None:
            found["meta"] = loads(self.meta_json)
        return found

    @property
    def result(self) -> ToolResult:
        """The tool's result, decoded afresh."""
        meta = None if self.meta_json is None else loads(self.meta_json)
        return ToolResult(self.status, loads(self.output_json), self.error, meta)


@dataclass(frozen=True, slots=True)
class BoundTool:
    """A tools.yaml entry with its instance and argument validator."""

    id: str
    tool: Tool
    validator: jsonschema.protocols.Validator
    description: str

    def definition(self) -> dict[str, Any]:
        """The tool definition sent to models: name, description and the arguments' JSON Schema."""
        return {"name": self.id, "description": self.description, "parameters": dict(self.tool.parameters)}

    @property
    def external(self) -> bool:
        """The tool answers from outside the engine (a replay answers it from the recording)."""
        return bool(getattr(self.tool, "external", False))

    def invoke(self, arguments: Any, call_id: str | None = None, scope: ToolScope | None = None) -> ToolInvocation:
        """Validate ``arguments``, run the tool for ``scope``, and record the call; never raises for what it does."""
        try:
            arguments_json = dumps(arguments)
        except JSONValueError as exc:
            return self._record(dumps(repr(arguments)), ToolResult.misuse(f"arguments are not JSON: {exc}"), call_id)
        violations = SchemaSet.violations(self.validator, arguments) if isinstance(arguments, dict) else [
            {"path": "/", "message": "arguments must be an object of named arguments"}
        ]
        if violations:
            first = violations[0]
            result = ToolResult.misuse(f"bad arguments for tool '{self.id}' at {first['path']}: {first['message']}")
        else:
            result = self._run(loads(arguments_json), scope)
        return self._record(arguments_json, result, call_id)

    def _run(self, arguments: dict[str, Any], scope: ToolScope | None) -> ToolResult:
        token = _SCOPE.set(scope)
        try:
            result = self.tool.invoke(arguments)
        except Exception as exc:  # a tool's own crash is an environment error of that call, not the engine's
            return ToolResult.environment(f"tool '{self.id}' raised {type(exc).__name__}: {exc}")
        finally:
            _SCOPE.reset(token)
        if not isinstance(result, ToolResult):
            return ToolResult.environment(f"tool '{self.id}' returned {type(result).__name__}, not a ToolResult")
        return result

    def _record(self, arguments_json: str, result: ToolResult, call_id: str | None) -> ToolInvocation:
        try:
            output_json = dumps(result.output)
            meta_json = None if result.meta is None else dumps(result.meta)
        except JSONValueError as exc:
            result = ToolResult.environment(f"tool '{self.id}' returned output or meta that is not JSON: {exc}")
            output_json, meta_json = "null", None
        return ToolInvocation(self.id, arguments_json, result.status, output_json, result.error, call_id, meta_json)
