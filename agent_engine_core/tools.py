"""The tool contract: tool types registered by plugins, instantiated from tools.yaml, invoked by nodes.

A tool type is registered with ``register(type_name, factory)``; ``factory(ToolSetup)`` returns an object with
``description`` (str), ``parameters`` (the JSON Schema of its arguments object) and
``invoke(arguments) -> ToolResult``. The engine validates the arguments against ``parameters`` before calling
``invoke``, so a tool sees only well-formed calls, and records every invocation -- from a handler
(``ctx.tools.<id>(...)``) or from a model's tool call -- in the stage's history.

``ToolResult.status`` is ``success``; ``failure`` for misuse (bad arguments, a path outside ``root``, a denied
permission), which fails the node with kind ``tool_misuse``; or ``error`` for an environment problem (disk full,
timeout), which is recorded and left to the node (a model sees it as the tool's answer).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from agent_engine_core._schemas import SchemaSet
from agent_engine_core.codec import JSONValueError, dumps, embed, loads

if TYPE_CHECKING:
    import jsonschema

    from agent_engine_core.memory import Memory

__all__ = ["BoundTool", "Tool", "ToolConfig", "ToolFactory", "ToolInvocation", "ToolResult", "ToolSetup", "ToolStatus"]


class ToolStatus(StrEnum):
    """How a tool invocation ended."""

    SUCCESS = "success"
    FAILURE = "failure"
    ERROR = "error"


@dataclass(frozen=True, slots=True)
class ToolResult:
    """What a tool returns: ``output`` (JSON) on success, ``error`` (a message) otherwise."""

    status: ToolStatus
    output: Any = None
    error: str | None = None

    @classmethod
    def ok(cls, output: Any) -> ToolResult:
        """A successful invocation."""
        return cls(ToolStatus.SUCCESS, output)

    @classmethod
    def misuse(cls, message: str) -> ToolResult:
        """The call itself was wrong (arguments, confinement, permissions): the node fails."""
        return cls(ToolStatus.FAILURE, None, message)

    @classmethod
    def environment(cls, message: str) -> ToolResult:
        """The environment failed the call (I/O error, timeout): recorded, and the node decides."""
        return cls(ToolStatus.ERROR, None, message)

    def to_dict(self) -> dict[str, Any]:
        """JSON form: what the history records and what a model is sent back."""
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
    """

    spec: ToolConfig
    root: Path | None
    project_dir: Path | None
    memory: Memory | None = None


@runtime_checkable
class Tool(Protocol):
    """One configured tool."""

    description: str
    parameters: Mapping[str, Any]

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Run the tool on validated ``arguments``."""
        ...


ToolFactory = Callable[[ToolSetup], Tool]
"""Builds a tool from its tools.yaml entry; raises ``ToolError`` (or ``ValueError``) for an unusable config."""


@dataclass(frozen=True, slots=True)
class ToolInvocation:
    """One tool call as the history keeps it; ``call_id`` is the model's id when a model asked for it."""

    tool_id: str
    arguments_json: str
    status: ToolStatus
    output_json: str
    error: str | None = None
    call_id: str | None = None

    def to_dict(self) -> dict[str, Any]:
        """JSON form (part of the canonical trace)."""
        return {
            "tool_id": self.tool_id,
            "call_id": self.call_id,
            "arguments": loads(self.arguments_json),
            "status": str(self.status),
            "output": loads(self.output_json),
            "error": self.error,
        }

    def stored(self) -> dict[str, Any]:
        """``to_dict`` for ``codec.compose``: arguments and output embedded as text, not decoded."""
        return {"tool_id": self.tool_id, "call_id": self.call_id, "arguments": embed(self.arguments_json),
                "status": str(self.status), "output": embed(self.output_json), "error": self.error}

    @property
    def result(self) -> ToolResult:
        """The tool's result, decoded afresh."""
        return ToolResult(self.status, loads(self.output_json), self.error)


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

    def invoke(self, arguments: Any, call_id: str | None = None) -> ToolInvocation:
        """Validate ``arguments``, run the tool, and record the call; never raises for what the tool does."""
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
            result = self._run(loads(arguments_json))
        return self._record(arguments_json, result, call_id)

    def _run(self, arguments: dict[str, Any]) -> ToolResult:
        try:
            result = self.tool.invoke(arguments)
        except Exception as exc:  # a tool's own crash is an environment error of that call, not the engine's
            return ToolResult.environment(f"tool '{self.id}' raised {type(exc).__name__}: {exc}")
        if not isinstance(result, ToolResult):
            return ToolResult.environment(f"tool '{self.id}' returned {type(result).__name__}, not a ToolResult")
        return result

    def _record(self, arguments_json: str, result: ToolResult, call_id: str | None) -> ToolInvocation:
        try:
            output_json = dumps(result.output)
        except JSONValueError as exc:
            result = ToolResult.environment(f"tool '{self.id}' returned output that is not JSON: {exc}")
            output_json = "null"
        return ToolInvocation(self.id, arguments_json, result.status, output_json, result.error, call_id)
