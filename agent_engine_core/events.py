"""Events: the frozen snapshots observers receive (the catalog with every field is docs/EVENTS.md).

Every event is an immutable record (a named tuple with the ``Event`` mixin) built fresh from immutable
parts: strings (JSON payloads stay JSON text and decode into a fresh copy on access), numbers, tuples, frozen
records and read-only mappings over private copies. Assigning to any field raises ``AttributeError``, and no
event refers to a live engine object, so one observer cannot change what another sees or what the engine does.
Tuples are used rather than frozen dataclasses because an event is built for every stage while observers are
attached, and a tuple is built four to eight times faster. ``seq`` is per task and strictly increasing;
``(task_id, seq)`` is unique within a run.

A named tuple cannot inherit fields, so each event class declares only its own (annotations, with defaults
where they have one) and ``_event`` makes it the named tuple of the envelope fields ``Event`` declares followed
by those: the envelope is written once, and type checkers still see every field.
"""

from __future__ import annotations

import inspect
from collections import namedtuple
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, ClassVar, TypeVar

from agent_engine_core.codec import loads
from agent_engine_core.records import Lineage, StageError

__all__ = [
    "EVENT_TYPES",
    "AgentCallEvent",
    "ChildCreated",
    "ContextAssembled",
    "CredentialLoaded",
    "Event",
    "MergeFired",
    "NodeFinished",
    "NodeStarted",
    "PolicyDenied",
    "QueueFull",
    "RoutingDecision",
    "TaskDequeued",
    "TaskFinished",
    "TaskQueued",
    "TaskStarted",
    "ToolInvoked",
]

_EMPTY: Mapping[str, int] = MappingProxyType({})


class Event(tuple[Any, ...]):
    """What every event offers.

    Every event starts with the envelope declared here: ``type``, ``run_id``, ``task_id``, ``seq`` (per task,
    from 1) and ``timestamp`` (``time.time()`` when it was built); its class declares the fields that follow.
    """

    __slots__ = ()
    hook: ClassVar[str | None] = None
    """The specific observer hook this event class is also delivered to (besides ``on_event``)."""

    type: str
    run_id: str
    task_id: str
    seq: int
    timestamp: float

    @property
    def event_id(self) -> str:
        """Unique within the run: ``<task_id>@<seq>``."""
        return f"{self.task_id}@{self.seq}"

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-compatible form (``*_json`` fields decoded under their name without the suffix)."""
        data: dict[str, Any] = {}
        for name in self._fields:  # type: ignore[attr-defined]
            value = getattr(self, name)
            if name.endswith("_json"):
                data[name[:-5]] = loads(value)
            elif isinstance(value, Lineage | StageError):
                data[name] = value.to_dict()
            elif isinstance(value, Mapping):
                data[name] = dict(value)
            elif isinstance(value, tuple):
                data[name] = list(value)
            else:
                data[name] = value
        return data

    def _decoded(self, name: str) -> Any:
        return loads(getattr(self, name))


_ENVELOPE = ("type", "run_id", "task_id", "seq", "timestamp")
"""The fields every event starts with, in this order (the router builds events positionally)."""

E = TypeVar("E", bound=Event)


def _event(declared: type[E]) -> type[E]:
    """The event class ``declared`` describes: a slotted named tuple of the envelope, then its own fields."""
    own = [name for name in inspect.get_annotations(declared) if name not in _ENVELOPE]
    defaults = [declared.__dict__[name] for name in own if name in declared.__dict__]
    fields = namedtuple(f"_{declared.__name__}", [*_ENVELOPE, *own], defaults=defaults)  # type: ignore[misc]
    namespace = {key: value for key, value in declared.__dict__.items()
                 if key not in own and key not in ("__dict__", "__weakref__")}
    namespace["__slots__"] = ()
    return type(declared.__name__, (fields, Event), namespace)


@_event
class TaskStarted(Event):
    """``task_started``: a root task, clone or subtask began at ``start_node``."""

    lineage: Lineage
    start_node: str
    input_json: str

    hook = "on_task_started"

    @property
    def input(self) -> Any:
        """A fresh copy of the task's input."""
        return self._decoded("input_json")


@_event
class TaskFinished(Event):
    """``task_finished``: a task ended with ``status`` success, failure or partial.

    A child that waits at a merge reports its provisional status and the merge node in ``waiting_at``.
    """

    status: str
    output_json: str
    error: StageError | None = None
    waiting_at: str | None = None

    hook = "on_task_finished"

    @property
    def output(self) -> Any:
        """A fresh copy of the task's final output."""
        return self._decoded("output_json")


@_event
class NodeStarted(Event):
    """``node_started``: a stage begins; ``stage`` is its position in the task's history."""

    node_id: str
    stage: int
    input_json: str

    hook = "on_node_started"

    @property
    def input(self) -> Any:
        """A fresh copy of the stage's input."""
        return self._decoded("input_json")


@_event
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
    approvals_json: str = "[]"
    """The approval decisions the stage ran under (docs/DURABLE_RUNS.md); ``[]`` for a stage without a gate."""

    hook = "on_node_finished"

    @property
    def input(self) -> Any:
        """A fresh copy of the stage's input."""
        return self._decoded("input_json")

    @property
    def output(self) -> Any:
        """A fresh copy of the stage's output."""
        return self._decoded("output_json")


@_event
class RoutingDecision(Event):
    """``routing_decision``: where a decision, branch or split sent the task.

    ``kind`` is ``edge`` for a decision (with the chosen ``label``), ``clones`` or ``subtasks`` for a fan-out.
    """

    node_id: str
    kind: str
    targets: tuple[str, ...]
    label: str | None = None

    hook = "on_routing_decision"


@_event
class ChildCreated(Event):
    """``clone_created`` or ``subtask_created``: a branch/split created child ``child_id`` (``child_index``).

    ``stage`` is the creating stage's position in the parent's history (it orders the children of successive
    fan-outs of one parent, as ``LineageStep.stage`` does).
    """

    node_id: str
    stage: int
    child_id: str
    child_index: int
    target: str


@_event
class MergeFired(Event):
    """``merge_fired``: a fan-out group merged at ``node_id``; ``inputs`` are the merged children by index."""

    node_id: str
    fan_out_node: str
    inputs: tuple[str, ...]
    failed: tuple[str, ...]
    on_failure: str


@_event
class AgentCallEvent(Event):
    """``agent_call``: a provider answered an agent node, in ``attempts`` tries.

    When every attempt failed, ``error`` says why and ``reply_json`` is ``null``.
    """

    node_id: str
    provider: str
    model: str
    request_json: str
    reply_json: str
    usage: Mapping[str, int] = _EMPTY
    latency_s: float = 0.0
    error: str | None = None
    attempts: int = 1

    hook = "on_agent_call"


@_event
class ToolInvoked(Event):
    """``tool_invoked``: a node invoked a tool (``call_id`` is the model's id for an agent's tool call)."""

    node_id: str
    tool_id: str
    arguments_json: str
    status: str
    result_json: str
    call_id: str | None = None

    hook = "on_tool_invoked"


@_event
class ContextAssembled(Event):
    """``context_assembled``: a stage's context was assembled (``dropped`` entries did not fit the budget)."""

    node_id: str
    profile: str
    entries_json: str
    tokens: int
    dropped: int


@_event
class PolicyDenied(Event):
    """``policy_denied``: a policy rule (``rule``: its position in the policy) failed a stage before it ran."""

    node_id: str
    policy: str
    rule: int
    target: str
    target_id: str
    reason: str | None


@_event
class CredentialLoaded(Event):
    """``credential_loaded``: the engine holds this provider_credentials.yaml entry's key (``source``: env or file).

    Metadata only: never the key, nor the variable's or the file's content.
    """

    credential_id: str
    provider: str
    source: str


@_event
class TaskQueued(Event):
    """``task_queued``: ``enqueue`` put the task in the queue at ``position`` (1 = next), ``start_node`` first.

    Queue events are about the queue, not a stage of the task: their ``seq`` is 0, outside the task's own
    sequence (which starts with ``task_started`` at 1), and they are not part of the run's trace.
    """

    start_node: str
    position: int
    input_json: str

    @property
    def input(self) -> Any:
        """A fresh copy of the queued input."""
        return self._decoded("input_json")


@_event
class TaskDequeued(Event):
    """``task_dequeued``: ``run_queued`` took the task from the queue after it waited ``waited_s`` seconds."""

    waited_s: float


@_event
class QueueFull(Event):
    """``queue_full``: ``enqueue`` refused the task (``QueueFullError``): the queue already holds ``limit`` tasks."""

    limit: int


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
    "tool_invoked": ToolInvoked,
    "context_assembled": ContextAssembled,
    "policy_denied": PolicyDenied,
    "credential_loaded": CredentialLoaded,
    "task_queued": TaskQueued,
    "task_dequeued": TaskDequeued,
    "queue_full": QueueFull,
})
"""Every event type the engine emits today, and its class."""
