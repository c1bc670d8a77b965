"""The exceptions Agent Engine raises.

Hierarchy::

    AgentEngineError
    ├── ManifestError        the project's manifests are invalid (carries every located issue)
    ├── PluginError          a plugin could not be loaded or registered a conflicting component
    ├── ProviderError        an LLM provider is unknown, misconfigured or failed for good
    ├── ToolError            a tool is unknown or misconfigured
    ├── PolicyDenied         a policy rule refused a stage
    ├── QueueFullError       the scheduler queue is at ``max_queue_size``
    ├── ReplayMismatch       a replayed run diverged from its recording
    ├── InvalidInput         an argument to the engine is unusable (an unknown start node, non-JSON input)
    └── TaskFailed           ``run(..., raise_on_failure=True)`` and the task did not succeed

Node-level problems are results (a failed stage in the trace), not exceptions; the exceptions above are for
problems the caller has to fix. Context travels in keyword-only attributes and every message says what to do.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent_engine_core.records import TaskResult

__all__ = [
    "AgentEngineError",
    "InvalidInput",
    "ManifestError",
    "ManifestIssue",
    "PluginError",
    "PolicyDenied",
    "ProviderError",
    "QueueFullError",
    "ReplayMismatch",
    "TaskFailed",
    "ToolError",
]


class AgentEngineError(Exception):
    """Base class of every exception the engine raises on purpose."""


@dataclass(frozen=True, slots=True)
class ManifestIssue:
    """One problem found while loading a project, located as precisely as the input allows.

    Attributes:
        message: what is wrong, in a sentence.
        file: the manifest file (a path for a config dir, ``"<workflow>"`` style names for ``from_dict``).
        line: 1-based line in ``file`` when known.
        column: 1-based column in ``file`` when known.
        node_id: the node the issue blames, when there is one.
        edge_id: the edge the issue blames, as ``"from->to"``, when there is one.
        hint: what would fix it ("did you mean 'role'?").
        code: a stable machine-readable identifier of the rule (``"dag.cycle"``, ``"manifest.extra_field"``).
    """

    message: str
    file: str | None = None
    line: int | None = None
    column: int | None = None
    node_id: str | None = None
    edge_id: str | None = None
    hint: str | None = None
    code: str = "manifest.invalid"

    def location(self) -> str:
        """``file:line:column`` as far as it is known (``"<unknown>"`` when nothing is)."""
        parts = [self.file or "<unknown>"]
        if self.line is not None:
            parts.append(str(self.line))
            if self.column is not None:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        blame = [f"node '{self.node_id}'" if self.node_id else "", f"edge '{self.edge_id}'" if self.edge_id else ""]
        subject = ", ".join(b for b in blame if b)
        text = f"{self.location()}: {subject + ': ' if subject else ''}{self.message}"
        return f"{text} ({self.hint})" if self.hint else text

    def to_dict(self) -> dict[str, Any]:
        """The issue as a JSON-compatible mapping (for ``--json`` output)."""
        return {
            "code": self.code,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "node_id": self.node_id,
            "edge_id": self.edge_id,
            "hint": self.hint,
        }


class ManifestError(AgentEngineError):
    """The project's manifests are invalid; ``issues`` lists every problem of the load, not just the first."""

    def __init__(self, issues: Iterable[ManifestIssue]) -> None:
        self.issues: tuple[ManifestIssue, ...] = tuple(issues)
        count = len(self.issues)
        head = f"{count} problem{'s' if count != 1 else ''} in the project's manifests"
        super().__init__("\n".join([head + ":", *(f"  - {issue}" for issue in self.issues)]))


class PluginError(AgentEngineError):
    """A plugin failed to load or registered a component whose name is already taken."""

    def __init__(self, message: str, *, plugin: str | None = None) -> None:
        self.plugin = plugin
        super().__init__(message)


class ProviderError(AgentEngineError):
    """An LLM provider is unknown, misconfigured, or a call to it failed.

    Providers raise it for a failed call with ``retryable=True`` for what another attempt may cure (transport
    errors, timeouts, HTTP 429 and 5xx), ``status`` for the HTTP status and ``retry_after`` (seconds) when the
    server said how long to wait; the engine does the retrying, so that every attempt is recorded.
    """

    def __init__(
        self, message: str, *, provider: str | None = None, retryable: bool = False, status: int | None = None,
        retry_after: float | None = None,
    ) -> None:
        self.provider = provider
        self.retryable = retryable
        self.status = status
        self.retry_after = retry_after
        super().__init__(message)


class ToolError(AgentEngineError):
    """A tool is unknown or misconfigured."""

    def __init__(self, message: str, *, tool_id: str | None = None) -> None:
        self.tool_id = tool_id
        super().__init__(message)


class PolicyDenied(AgentEngineError):
    """A policy rule refused a stage before it ran."""

    def __init__(self, message: str, *, rule: str | None = None, node_id: str | None = None) -> None:
        self.rule = rule
        self.node_id = node_id
        super().__init__(message)


class QueueFullError(AgentEngineError):
    """The scheduler queue already holds ``max_queue_size`` tasks; retry after ``run_queued()`` drains it."""


class ReplayMismatch(AgentEngineError):
    """A replayed run diverged from its recording; ``task_id``/``node_id``/``seq`` name the first differing stage."""

    def __init__(
        self, message: str, *, task_id: str | None = None, node_id: str | None = None, seq: int | None = None
    ) -> None:
        self.task_id = task_id
        self.node_id = node_id
        self.seq = seq
        super().__init__(message)


class InvalidInput(AgentEngineError, ValueError):
    """An argument to ``run``/``arun`` is unusable: an unknown start node, an input that is not JSON."""


class TaskFailed(AgentEngineError):
    """Raised by ``run(..., raise_on_failure=True)`` when the task ends ``failure`` or ``partial``."""

    def __init__(self, result: TaskResult) -> None:
        self.result = result
        error = result.error or {}
        where = f" at node '{error.get('node_id')}'" if error.get("node_id") else ""
        super().__init__(f"task {result.task_id} ended {result.status}{where}: {error.get('message', '')}")

