"""Every exception of the engine, in one place.

Hierarchy::

    Exception
    ├── AgentEngineError       a problem the caller has to fix (what ``Engine`` and its loaders raise on purpose)
    │   ├── ManifestError      the project's manifests are invalid (carries every located issue)
    │   ├── PluginError        a plugin could not be loaded or registered a conflicting component
    │   ├── ProviderError      an LLM provider is unknown, misconfigured or failed for good
    │   ├── ToolError          a tool is unknown or misconfigured
    │   ├── QueueFullError     ``enqueue`` found the task queue full (scheduler.yaml ``max_queue_size``)
    │   ├── ReplayMismatch     a replayed run diverged from its recording
    │   ├── InvalidInput       an argument to the engine is unusable (an unknown start node, non-JSON input)
    │   │   ├── ResumeRefused  ``resume``: files that ran the journaled run changed (``allow_changed`` to go on)
    │   │   └── ApprovalRefused ``approve``: nothing waits for that node, input or fingerprint
    │   └── TaskFailed         ``run(..., raise_on_failure=True)`` and the task did not succeed
    │       └── PolicyDenied   ... because a policy rule refused one of its stages
    ├── NodeFailure            a handler raises it to fail its node cleanly (``handler.NodeFailure``)
    ├── ToolMisuse             a handler called a tool its node may not use (``handler.ToolMisuse``)
    ├── MemoryDenied           a handler wrote to a memory layer the policy denies it (``handler.MemoryDenied``)
    ├── HandlerError           internal: a ``handler:`` reference that does not resolve (becomes a ManifestIssue)
    └── StageFailed            internal: a part of a stage fails it (becomes the record's ``StageError``)
    ValueError
    └── JSONValueError         a value that is not plain JSON where the engine needs one (``codec.JSONValueError``)
    BaseException
    ├── ApprovalPending        internal: a gated tool waits for an approval (the stage stops, its task waits)
    └── ApprovalRejected       internal: a gated tool call was rejected (the stage fails with kind ``approval``)

Node-level problems are results (a failed stage in the trace), not exceptions: ``NodeFailure``, ``ToolMisuse``,
``MemoryDenied``, ``StageFailed`` and the approval signals never leave a stage, and the caller sees them only
as ``TaskFailed`` when it asks for it. The ``AgentEngineError`` branch is for problems the caller has to fix;
context travels in keyword-only attributes and every message says what to do. A sentinel raised and caught
inside one private module (``_Unsupported`` of the YAML fast path, ``_Unresolved`` of credential resolution) is
that module's detail and stays beside its only raiser.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: the contracts (layer 1) build on this module, never the reverse
    from agent_engine_core.records import ErrorKind, TaskResult

__all__ = [
    "AgentEngineError",
    "ApprovalRefused",
    "InvalidInput",
    "JSONValueError",
    "ManifestError",
    "ManifestIssue",
    "MemoryDenied",
    "NodeFailure",
    "PluginError",
    "PolicyDenied",
    "ProviderError",
    "QueueFullError",
    "ReplayMismatch",
    "ResumeRefused",
    "TaskFailed",
    "ToolError",
    "ToolMisuse",
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


class QueueFullError(AgentEngineError):
    """``enqueue`` found ``limit`` tasks waiting (scheduler.yaml ``max_queue_size``); the new one was not queued.

    Nothing already queued is lost.
    """

    def __init__(self, message: str, *, limit: int) -> None:
        self.limit = limit
        super().__init__(message)


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


class ResumeRefused(InvalidInput):
    """``resume``/``approve`` refused: files that ran the journaled run changed since (``changed`` names them).

    ``allow_changed=True`` (``--allow-changed``) resumes all the same and records it in the result's metadata.
    """

    def __init__(self, run_id: str, changed: list[str]) -> None:
        self.run_id, self.changed = run_id, list(changed)
        super().__init__(f"run '{run_id}' cannot be resumed: {', '.join(changed)} changed since it was journaled "
                         "(resume with allow_changed / --allow-changed to run the rest with the changed files)")


class ApprovalRefused(InvalidInput):
    """``approve`` refused: no approval waits for that node, input or fingerprint."""


class TaskFailed(AgentEngineError):
    """Raised by ``run(..., raise_on_failure=True)`` when the task ends ``failure`` or ``partial``.

    ``TaskFailed.of(result)`` is the exception for a result: a ``PolicyDenied`` when a policy failed the task.
    """

    def __init__(self, result: TaskResult) -> None:
        self.result = result
        error = result.error or {}
        where = f" at node '{error.get('node_id')}'" if error.get("node_id") else ""
        super().__init__(f"task {result.task_id} ended {result.status}{where}: {error.get('message', '')}")

    @staticmethod
    def of(result: TaskResult) -> TaskFailed:
        """The exception that says why ``result`` did not succeed."""
        error = result.error
        return PolicyDenied(result) if error is not None and error.get("kind") == "policy" else TaskFailed(result)


class PolicyDenied(TaskFailed):
    """``raise_on_failure=True`` and the task failed because a policy rule refused a stage (SPEC §3.5, §7).

    The denial is also the ``policy_denied`` event of the run; the attributes name the same rule: ``node_id``,
    ``policy`` (its name), ``rule`` (its position in the policy), ``target``, ``target_id`` and ``reason``.
    """

    def __init__(self, result: TaskResult) -> None:
        super().__init__(result)
        error = result.error or {}
        details = error.get("details") or {}
        self.node_id: str | None = error.get("node_id")
        self.policy: str | None = details.get("policy")
        self.rule: int | None = details.get("rule")
        self.target: str | None = details.get("target")
        self.target_id: str | None = details.get("target_id")
        self.reason: str | None = details.get("reason")


# -- what handlers raise inside a stage (verdicts on the node, turned into its failed record) ---------------------


class NodeFailure(Exception):  # not *Error: the name says what raising it does to the node
    """Raise from a handler to fail the node cleanly: ``raise NodeFailure("no title", data={...})``."""

    def __init__(self, reason: str, *, data: Any = None) -> None:
        self.reason = reason
        self.data = data
        super().__init__(reason)


class ToolMisuse(Exception):  # not *Error: it is a verdict on the call, not an engine fault
    """A handler asked for a tool its node may not use; the node fails with kind ``tool_misuse``."""


class MemoryDenied(Exception):  # not *Error: a verdict of the policy, turned into a failed stage
    """A handler wrote to a memory layer the policy denies to its node; ``error`` is the policy's ``StageError``."""

    def __init__(self, error: Any) -> None:
        self.error = error
        super().__init__(error.message)


# -- internal: caught by the engine, never seen by a caller (not in ``__all__``) ----------------------------------


class HandlerError(Exception):
    """A handler reference that does not resolve; ``hint`` says how to fix it (the build turns it into an issue)."""

    def __init__(self, message: str, hint: str) -> None:
        self.hint = hint
        super().__init__(message)


class ApprovalPending(BaseException):  # internal signal: a handler's ``except Exception`` must not catch it
    """A gated tool was asked for without a decision: the stage stops and its task waits (``_run/durable``).

    ``agent_calls`` are the agent calls the stage made before it stopped, journaled so that the resumed stage is
    answered from them instead of asking the model again.
    """

    agent_calls: tuple[Any, ...] = ()


class ApprovalRejected(BaseException):  # internal signal, like ApprovalPending
    """A gated tool call was rejected: the stage fails with kind ``approval``."""

    def __init__(self, message: str, details: Any) -> None:
        super().__init__(message)
        self.message, self.details = message, dict(details)


class StageFailed(Exception):  # internal control flow: run_stage turns it into the record's StageError
    """The stage fails with ``kind``, ``message`` and JSON ``details`` (and the traceback of a handler bug)."""

    def __init__(self, kind: ErrorKind, message: str, details: Any = None, tb: str | None = None) -> None:
        self.error = (kind, message, details, tb)
        super().__init__(message)


# -- values ----------------------------------------------------------------------------------------------------------


class JSONValueError(ValueError):
    """A value that is not plain JSON (a set, an object, NaN...) where the engine needs one."""

