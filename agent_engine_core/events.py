"""Events: the frozen snapshots observers receive (the catalog with every field is docs/EVENTS.md).

Every event is a frozen, slotted dataclass built fresh from immutable parts: strings (JSON payloads are kept as
JSON text and decoded into a fresh copy on access), numbers, tuples, frozen records and read-only mappings
over private copies. Assigning to any field raises, and no event refers to a live engine object, so one
observer cannot change what another sees or what the engine does. ``seq`` is per task and strictly
increasing; ``(task_id, seq)`` is unique within a run.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, fields
from types import MappingProxyType
from typing import Any, ClassVar

from agent_engine_core._json import loads
from agent_engine_core.records import Lineage, StageError

__all__ = [
    "EVENT_TYPES",
    "AgentCallEvent",
    "ChildCreated",
    "Event",
    "MergeFired",
    "NodeFinished",
    "NodeStarted",
    "RoutingDecision",
    "TaskFinished",
    "TaskStarted",
    "ToolInvoked",
]


def _frozen_map() -> Mapping[str, Any]:
    return MappingProxyType({})


@dataclass(frozen=True, slots=True, kw_only=True)
class Event:
    """Fields every event has."""

    type: str
    run_id: str
    task_id: str
    seq: int
    timestamp: float

    hook: ClassVar[str | None] = None
    """The specific observer hook this event class is also delivered to (besides ``on_event``)."""

    @property
    def event_id(self) -> str:
        """Unique within the run: ``<task_id>@<seq>``."""
        return f"{self.task_id}@{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible form (``*_json`` fields decoded under their name without the suffix)."""
        data: dict[str, Any] = {}
        for item in fields(self):
            value = getattr(self, item.name)
            if item.name.endswith("_json"):
                data[item.name[:-5]] = loads(value)
            elif isinstance(value, Lineage | StageError):
                data[item.name] = value.to_dict()
            elif isinstance(value, Mapping):
                data[item.name] = dict(value)
            elif isinstance(value, tuple):
                data[item.name] = list(value)
            else:
                data[item.name] = value
        return data


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskStarted(Event):
    """``task_started``: a root task, clone or subtask began."""

    lineage: Lineage
    start_node: str
    input_json: str
    hook: ClassVar[str | None] = "on_task_started"

    @property
    def input(self) -> Any:
        """A fresh copy of the task's input."""
        return loads(self.input_json)


@dataclass(frozen=True, slots=True, kw_only=True)
class TaskFinished(Event):
    """``task_finished``: a task ended with ``status`` success, failure or partial.

    A child that waits at a merge reports its provisional status and the merge node in ``waiting_at``.
    """

    status: str
    output_json: str
    error: StageError | None = None
    waiting_at: str | None = None
    hook: ClassVar[str | None] = "on_task_finished"

    @property
    def output(self) -> Any:
        """A fresh copy of the task's final output."""
        return loads(self.output_json)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeStarted(Event):
    """``node_started``: a stage begins; ``stage`` is its position in the task's history."""

    node_id: str
    stage: int
    input_json: str
    hook: ClassVar[str | None] = "on_node_started"

    @property
    def input(self) -> Any:
        """A fresh copy of the stage's input."""
        return loads(self.input_json)


@dataclass(frozen=True, slots=True, kw_only=True)
class NodeFinished(Event):
    """``node_finished`` or ``node_failed``: a stage ended; the fields are those of its history record."""

    node_id: str
    stage: int
    status: str
    input_json: str
    output_json: str
    error: StageError | None
    route: tuple[str, ...]
    duration_s: float
    hook: ClassVar[str | None] = "on_node_finished"

    @property
    def input(self) -> Any:
        """A fresh copy of the stage's input."""
        return loads(self.input_json)

    @property
    def output(self) -> Any:
        """A fresh copy of the stage's output."""
        return loads(self.output_json)


@dataclass(frozen=True, slots=True, kw_only=True)
class RoutingDecision(Event):
    """``routing_decision``: where a task went after a stage (``kind``: edge, clones or subtasks)."""

    node_id: str
    kind: str
    targets: tuple[str, ...]
    label: str | None = None
    hook: ClassVar[str | None] = "on_routing_decision"


@dataclass(frozen=True, slots=True, kw_only=True)
class ChildCreated(Event):
    """``clone_created`` or ``subtask_created``: a branch/split created child ``child_id`` (``index``).

    ``stage`` is the creating stage's position in the parent's history (it orders the children of successive
    fan-outs of one parent, as ``LineageStep.stage`` does).
    """

    node_id: str
    stage: int
    child_id: str
    index: int
    target: str


@dataclass(frozen=True, slots=True, kw_only=True)
class MergeFired(Event):
    """``merge_fired``: a fan-out group merged at ``node_id``; ``inputs`` are the merged children by index."""

    node_id: str
    fan_out_node: str
    inputs: tuple[str, ...]
    failed: tuple[str, ...]
    on_failure: str


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentCallEvent(Event):
    """``agent_call``: a provider answered an agent node."""

    node_id: str
    provider: str
    model: str
    request_json: str
    reply_json: str
    usage: Mapping[str, int] = field(default_factory=_frozen_map)
    latency_s: float = 0.0
    hook: ClassVar[str | None] = "on_agent_call"


@dataclass(frozen=True, slots=True, kw_only=True)
class ToolInvoked(Event):
    """``tool_invoked``: a node invoked a tool."""

    node_id: str
    tool_id: str
    arguments_json: str
    status: str
    result_json: str
    hook: ClassVar[str | None] = "on_tool_invoked"


EVENT_TYPES: Mapping[str, type[Event]] = MappingProxyType({
    "task_started": TaskStarted,
    "task_finished": TaskFinished,
    "node_started": NodeStarted,
    "node_finished": NodeFinished,
    "node_failed": NodeFinished,
    "routing_decision": RoutingDecision,
    "clone_created": ChildCreated,
    "subtask_created": ChildCreated,
    "merge_fired": MergeFired,
    "agent_call": AgentCallEvent,
})
"""Every event type the engine emits today, and its class."""
