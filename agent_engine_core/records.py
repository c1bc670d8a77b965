"""What a run leaves behind: lineage, stage records, the canonical trace and the task result.

Every record is a frozen, slotted dataclass whose JSON payloads are stored as text. Reading ``record.output``
decodes a fresh copy, so a caller can do what it likes with the value without touching the history.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from types import MappingProxyType
from typing import Any, NamedTuple

from agent_engine_core.codec import dumps, embed, loads, plain
from agent_engine_core.tools import ToolInvocation, ToolStatus

__all__ = [
    "AgentCall",
    "ErrorKind",
    "Lineage",
    "LineageStep",
    "StageError",
    "StageRecord",
    "Status",
    "TaskResult",
    "TaskSummary",
    "Trace",
]


class Status(StrEnum):
    """Final status of a stage or a task."""

    SUCCESS = "success"
    FAILURE = "failure"
    PARTIAL = "partial"
    WAITING = "waiting"
    """A run (never a stage) that paused at an approval gate: resumed by ``engine.approve`` (docs/DURABLE_RUNS.md)."""


class ErrorKind(StrEnum):
    """Why a stage failed; SPEC §4 lists the first eight, ``docs/DECISIONS.md`` explains the last three."""

    SCHEMA_IN = "schema_in"
    SCHEMA_OUT = "schema_out"
    HANDLER = "handler"
    AGENT = "agent"
    TOOL_MISUSE = "tool_misuse"
    POLICY = "policy"
    CONTEXT = "context"
    ROUTING = "routing"
    CHILD_FAILURE = "child_failure"
    EXIT = "exit"
    APPROVAL = "approval"


class LineageStep(NamedTuple):
    """One fan-out on the way from the root: ``node_id`` created this task as child ``index``.

    ``stage`` is the position of the creating stage in the parent's history; it orders the children of
    successive fan-outs of one parent. Lineage and errors are named tuples, not frozen dataclasses: events
    hand them to observers, and ``object.__setattr__`` changes a frozen dataclass but not a tuple.
    """

    node_id: str
    index: int  # type: ignore[assignment]  # the child index, shadowing tuple.index
    stage: int


class Lineage(NamedTuple):
    """Where a task comes from: the root (empty path), or a clone/subtask of ``parent_id``."""

    kind: str = "root"
    parent_id: str | None = None
    path: tuple[LineageStep, ...] = ()

    @property
    def depth(self) -> int:
        """How many fan-outs enclose the task (0 for the root)."""
        return len(self.path)

    @property
    def index(self) -> int | None:  # type: ignore[override]  # the sibling index, not tuple.index
        """The task's index among its siblings (``None`` for the root)."""
        return self.path[-1].index if self.path else None

    @property
    def created_by(self) -> str | None:
        """The branch or split node that created the task (``None`` for the root)."""
        return self.path[-1].node_id if self.path else None

    def sort_key(self) -> tuple[tuple[int, int], ...]:
        """Canonical order of tasks: by creating stage, then child index, level by level."""
        return tuple((step.stage, step.index) for step in self.path)

    def to_dict(self) -> dict[str, Any]:
        """JSON form used by traces and merge inputs."""
        return {
            "kind": self.kind,
            "parent_id": self.parent_id,
            "path": [{"node_id": s.node_id, "index": s.index} for s in self.path],
        }


ROOT = Lineage()
"""The lineage of every root task (immutable, so one is shared)."""
_ROOT_LINEAGE = dumps(ROOT.to_dict())
"""``ROOT`` in the canonical trace, written once."""


class StageError(NamedTuple):
    """A structured stage failure: ``{node_id, kind, message, details}``.

    ``traceback`` is kept for people reading the history but left out of the canonical trace, since it
    names files on the machine that ran it.
    """

    node_id: str
    kind: ErrorKind
    message: str
    details_json: str = "{}"
    traceback: str | None = None

    @property
    def details(self) -> Any:
        """A fresh copy of the error details."""
        return loads(self.details_json)

    def to_dict(self, *, with_traceback: bool = True) -> dict[str, Any]:
        """JSON form (the ``error`` of results and merge inputs)."""
        data: dict[str, Any] = {
            "node_id": self.node_id,
            "kind": str(self.kind),
            "message": self.message,
            "details": self.details,
        }
        if with_traceback and self.traceback:
            data["traceback"] = self.traceback
        return data

    def stored(self) -> dict[str, Any]:
        """``to_dict`` for ``compose``: the details embedded as text, not decoded."""
        data: dict[str, Any] = {"node_id": self.node_id, "kind": str(self.kind), "message": self.message,
                                "details": embed(self.details_json)}
        if self.traceback:
            data["traceback"] = self.traceback
        return data


@dataclass(frozen=True, slots=True)
class AgentCall:
    """One request to an LLM provider and its reply (``"null"`` with ``error`` set when every attempt failed).

    ``attempts`` lists the failed attempts before the last one (``{"error", "status", "retry_after_s",
    "waited_s"}``); like ``latency_s`` they describe the network, not the run, so the canonical trace leaves
    them out and a replay, which makes no attempts, has the same digest.
    """

    provider: str
    model: str
    request_json: str
    reply_json: str
    usage: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    latency_s: float = 0.0
    error: str | None = None
    attempts: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self, *, with_timing: bool = True) -> dict[str, Any]:
        """JSON form; latency and retried attempts are left out of the canonical trace."""
        data = {
            "provider": self.provider,
            "model": self.model,
            "request": loads(self.request_json),
            "reply": loads(self.reply_json),
            "usage": dict(self.usage),
            "error": self.error,
        }
        if with_timing:
            data["latency_s"] = self.latency_s
            data["attempts"] = [dict(a) for a in self.attempts]
        return data

    def stored(self) -> dict[str, Any]:
        """``to_dict()`` for ``compose``: request and reply embedded as text, not decoded."""
        return {"provider": self.provider, "model": self.model, "request": embed(self.request_json),
                "reply": embed(self.reply_json), "usage": dict(self.usage), "error": self.error,
                "latency_s": self.latency_s, "attempts": [dict(a) for a in self.attempts]}


_QUOTED: dict[str | tuple[str, ...], str] = {}
"""Node ids and routes as JSON: a workflow has few of them, and every stage's canonical line writes two."""
_QUOTED_MAX = 4096


def _quoted(value: str | tuple[str, ...]) -> str:
    """``dumps`` of a node id or a route (a tuple, written as a list), remembered for the next stage."""
    text = _QUOTED.get(value)
    if text is None:
        text = dumps(list(value) if isinstance(value, tuple) else value)
        if len(_QUOTED) < _QUOTED_MAX:  # a bound, so that generated node ids cannot grow it without limit
            _QUOTED[value] = text
    return text


class StageRecord(NamedTuple):
    """The immutable record of one stage: a task at a node.

    ``input_json`` and ``output_json`` are JSON text; ``route`` says where the task went next (an edge target,
    the children it created, or ``None`` when the task ended or waited at a merge). A named tuple, like events:
    one is built for every stage, three to five times faster than a frozen dataclass.
    """

    task_id: str
    node_id: str
    seq: int
    status: Status
    input_json: str
    output_json: str
    error: StageError | None = None
    route: tuple[str, ...] = ()
    agent_calls: tuple[AgentCall, ...] = ()
    tool_calls: tuple[ToolInvocation, ...] = ()
    context_json: str = "[]"
    """The assembled context the stage saw (entries ``{"store", "tags", "payload"}``), in order."""
    started_at: float = 0.0
    duration_s: float = 0.0
    approvals_json: str = "[]"
    """The approval decisions the stage ran under (docs/DURABLE_RUNS.md): ``{"target", "tool_id", "fingerprint",
    "decision"}`` are part of the canonical trace, ``"by"`` and ``"at"`` are not."""

    @property
    def approvals(self) -> list[dict[str, Any]]:
        """A fresh copy of the stage's approval decisions (empty for a stage without a gate)."""
        decided: list[dict[str, Any]] = loads(self.approvals_json)
        return decided

    @property
    def input(self) -> Any:
        """A fresh copy of the stage's input."""
        return loads(self.input_json)

    @property
    def output(self) -> Any:
        """A fresh copy of the stage's output."""
        return loads(self.output_json)

    def canonical(self) -> str:
        """The record's line in the canonical trace: no timestamps, durations or tracebacks."""
        error = "null" if self.error is None else dumps(self.error.to_dict(with_traceback=False))
        calls = dumps([call.to_dict(with_timing=False) for call in self.agent_calls]) if self.agent_calls else "[]"
        tools = dumps([call.to_dict() for call in self.tool_calls]) if self.tool_calls else "[]"
        approvals = "" if self.approvals_json == "[]" else f',"approvals":{_canonical_approvals(self.approvals)}'
        return (
            f'{{"task":{dumps(self.task_id)},"seq":{self.seq},"node":{_quoted(self.node_id)},'
            f'"status":"{self.status}","input":{self.input_json},"output":{self.output_json},'
            f'"error":{error},"route":{_quoted(self.route)},"context":{self.context_json},'
            f'"agent_calls":{calls},"tool_calls":{tools}{approvals}}}'
        )

    def to_dict(self) -> dict[str, Any]:
        """JSON form with timings (for ``--json`` output and inspection)."""
        return {
            "task_id": self.task_id,
            "node_id": self.node_id,
            "seq": self.seq,
            "status": str(self.status),
            "input": self.input,
            "output": self.output,
            "error": None if self.error is None else self.error.to_dict(),
            "route": list(self.route),
            "agent_calls": [call.to_dict() for call in self.agent_calls],
            "tool_calls": [call.to_dict() for call in self.tool_calls],
            "context": loads(self.context_json),
            "started_at": self.started_at,
            "duration_s": self.duration_s,
            "approvals": self.approvals,
        }

    def stored(self) -> dict[str, Any]:
        """``to_dict`` for ``compose``: the stored JSON texts embedded as they are, none decoded."""
        return {
            "task_id": self.task_id, "node_id": self.node_id, "seq": self.seq, "status": str(self.status),
            "input": embed(self.input_json), "output": embed(self.output_json),
            "error": None if self.error is None else self.error.stored(), "route": list(self.route),
            "agent_calls": [call.stored() for call in self.agent_calls],
            "tool_calls": [call.stored() for call in self.tool_calls],
            "context": embed(self.context_json), "started_at": self.started_at, "duration_s": self.duration_s,
            "approvals": embed(self.approvals_json),
        }


APPROVAL_CANONICAL = ("target", "node_id", "tool_id", "fingerprint", "decision")
"""The fields of an approval decision in the canonical trace: who decided and when are left out."""


def _canonical_approvals(approvals: list[dict[str, Any]]) -> str:
    return dumps([{key: decision.get(key) for key in APPROVAL_CANONICAL} for decision in approvals])


@dataclass(frozen=True, slots=True)
class TaskSummary:
    """A task's identity and outcome within a trace; its stages are the records with its ``task_id``."""

    task_id: str
    lineage: Lineage
    status: Status
    output_json: str
    error: StageError | None = None

    @property
    def output(self) -> Any:
        """A fresh copy of the task's final output."""
        return loads(self.output_json)

    def canonical(self) -> str:
        """The task's line in the canonical trace."""
        error = "null" if self.error is None else dumps(self.error.to_dict(with_traceback=False))
        lineage = _ROOT_LINEAGE if self.lineage == ROOT else dumps(self.lineage.to_dict())
        return (
            f'{{"task":{dumps(self.task_id)},"lineage":{lineage},'
            f'"status":"{self.status}","output":{self.output_json},"error":{error}}}'
        )


@dataclass(frozen=True, slots=True)
class Trace:
    """History of a root task and all its descendants, in canonical (lineage) order.

    The canonical form is JSON Lines: a header, one line per task, one line per stage; timestamps,
    durations and tracebacks are excluded, so the same run gives the same bytes at any concurrency.
    """

    run_id: str
    tasks: tuple[TaskSummary, ...]
    records: tuple[StageRecord, ...]

    def canonical(self) -> bytes:
        """The canonical form as UTF-8 bytes."""
        lines = [f'{{"run_id":{dumps(self.run_id)},"format":1}}']
        lines.extend(task.canonical() for task in self.tasks)
        lines.extend(record.canonical() for record in self.records)
        return ("\n".join(lines) + "\n").encode()

    @property
    def digest(self) -> str:
        """SHA-256 of the canonical form, hex encoded."""
        return hashlib.sha256(self.canonical()).hexdigest()

    def for_task(self, task_id: str) -> tuple[StageRecord, ...]:
        """The stage records of one task, in order."""
        return tuple(r for r in self.records if r.task_id == task_id)

    def __iter__(self) -> Iterator[StageRecord]:
        return iter(self.records)

    def __len__(self) -> int:
        return len(self.records)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Trace:
        """The trace that ``to_dict`` produced (a recording); raises ``KeyError``/``ValueError`` if it is not one.

        Lineage steps come back without their creating stage, which only orders tasks and is not part of the
        canonical form: the rebuilt trace has the recorded canonical bytes and digest.
        """
        tasks = tuple(
            TaskSummary(
                t["task_id"],
                Lineage(t["lineage"]["kind"], t["lineage"]["parent_id"],
                        tuple(LineageStep(s["node_id"], s["index"], 0) for s in t["lineage"]["path"])),
                Status(t["status"]), dumps(t["output"]), _error_from(t["error"]),
            )
            for t in data["tasks"]
        )
        return cls(data["run_id"], tasks, tuple(_record_from(r) for r in data["records"]))

    def stored(self) -> dict[str, Any]:
        """``to_dict`` for ``codec.compose``, without the digest (a reader computes it from the records)."""
        return {
            "run_id": self.run_id,
            "tasks": [
                {"task_id": t.task_id, "lineage": t.lineage.to_dict(), "status": str(t.status),
                 "output": embed(t.output_json), "error": None if t.error is None else t.error.stored()}
                for t in self.tasks
            ],
            "records": [r.stored() for r in self.records],
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON form with timings."""
        return {
            "run_id": self.run_id,
            "digest": self.digest,
            "tasks": [
                {
                    "task_id": t.task_id,
                    "lineage": t.lineage.to_dict(),
                    "status": str(t.status),
                    "output": t.output,
                    "error": None if t.error is None else t.error.to_dict(),
                }
                for t in self.tasks
            ],
            "records": [r.to_dict() for r in self.records],
        }

    @classmethod
    def from_events(cls, events: Iterable[Mapping[str, Any]]) -> Trace:
        """The trace of one run rebuilt from its events as dicts (``Event.to_dict()``, e.g. read from a sink).

        ``from_events(events).digest`` equals the run's ``result.trace.digest`` when every event was kept
        (docs/EVENTS.md lists what each event carries). When the events hold a run id that was run more than
        once, the last run (from its root ``task_started``) is rebuilt. Records are built by ``from_dict``, so
        the two ways of reading a trace back cannot drift apart.

        Raises:
            ValueError: the events belong to several runs, or some are missing (a gap in a task's ``seq``, a
                task without ``task_finished``): e.g. a background queue overflowed while recording.
            KeyError, TypeError: an event lacks a field, or has one of the wrong type.
        """
        return cls.from_dict(_trace_data(_last_run(list(events))))


@dataclass(frozen=True, slots=True, init=False)
class TaskResult:
    """What ``Engine.run`` returns for a root task.

    Like a stage record it cannot be changed: ``output`` and ``error`` decode a fresh copy on every read and
    ``usage`` is read-only, so whatever a caller does with them leaves the result as the run produced it.
    """

    task_id: str
    status: Status
    output_json: str
    error_json: str
    trace: Trace
    metadata: Mapping[str, Any]
    usage: Mapping[str, int]

    def __init__(
        self, *, task_id: str, status: Status, output_json: str, error: Mapping[str, Any] | None, trace: Trace,
        metadata: Mapping[str, Any], usage: Mapping[str, int],
    ) -> None:
        put = object.__setattr__  # frozen: the fields are set once, here
        put(self, "task_id", task_id)
        put(self, "status", status)
        put(self, "output_json", output_json)
        put(self, "error_json", "null" if error is None else dumps(dict(error)))
        put(self, "trace", trace)
        put(self, "metadata", metadata)
        put(self, "usage", MappingProxyType(dict(usage)))

    @property
    def output(self) -> Any:
        """A fresh copy of the task's final output."""
        return loads(self.output_json)

    @property
    def error(self) -> dict[str, Any] | None:
        """A fresh copy of the task's error ``{node_id, kind, message, details}`` (``None`` on success)."""
        error: dict[str, Any] | None = loads(self.error_json)
        return error

    @property
    def ok(self) -> bool:
        """True when the task ended ``success``."""
        return self.status is Status.SUCCESS

    def to_dict(self, *, with_trace: bool = False) -> dict[str, Any]:
        """The ``agent-engine run --json`` object; ``with_trace`` adds the full trace (a replayable recording)."""
        data = {
            "task_id": self.task_id,
            "status": str(self.status),
            "output": self.output,
            "error": self.error,
            "trace_digest": self.trace.digest,
            "metadata": plain(self.metadata),
            "usage": dict(self.usage),
        }
        if with_trace:
            data["trace"] = self.trace.to_dict()
        return data

    def stored(self, metadata_json: str) -> dict[str, Any]:
        """``to_dict()`` for ``codec.compose`` without the trace digest (a reader computes it from the trace).

        ``metadata_json`` is the metadata as JSON text: an engine's metadata is one object for all its runs, so
        the caller writes it once.
        """
        return {"task_id": self.task_id, "status": str(self.status), "output": embed(self.output_json),
                "error": embed(self.error_json), "metadata": embed(metadata_json), "usage": dict(self.usage)}


def _error_from(data: Mapping[str, Any] | None) -> StageError | None:
    if data is None:
        return None
    return StageError(data["node_id"], ErrorKind(data["kind"]), data["message"], dumps(data["details"]),
                      data.get("traceback"))


def _record_from(data: Mapping[str, Any]) -> StageRecord:
    return StageRecord(
        task_id=data["task_id"], node_id=data["node_id"], seq=data["seq"], status=Status(data["status"]),
        input_json=dumps(data["input"]), output_json=dumps(data["output"]), error=_error_from(data["error"]),
        route=tuple(data["route"]), context_json=dumps(data.get("context", [])),
        agent_calls=tuple(
            AgentCall(c["provider"], c["model"], dumps(c["request"]), dumps(c["reply"]),
                      MappingProxyType(dict(c["usage"])), c.get("latency_s", 0.0), c.get("error"),
                      tuple(MappingProxyType(a) for a in c.get("attempts", ())))
            for c in data["agent_calls"]
        ),
        tool_calls=tuple(
            ToolInvocation(c["tool_id"], dumps(c["arguments"]), ToolStatus(c["status"]), dumps(c["output"]),
                           c["error"], c["call_id"], None if c.get("meta") is None else dumps(c["meta"]))
            for c in data.get("tool_calls", ())
        ),
        started_at=data.get("started_at", 0.0), duration_s=data.get("duration_s", 0.0),
        approvals_json=dumps(data.get("approvals", [])),
    )


# --------------------------------------------------------------------------------------------------------------
# Trace.from_events: events -> the ``to_dict`` form of a trace, which ``from_dict`` turns into records.
# --------------------------------------------------------------------------------------------------------------


def _last_run(events: list[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The events from the last root ``task_started`` on, checked to be one run with no gaps."""
    run_ids = sorted({str(event["run_id"]) for event in events})
    if len(run_ids) != 1:
        raise ValueError(f"events of exactly one run are needed, got {len(run_ids)} ({', '.join(run_ids)})")
    run_id = run_ids[0]
    starts = [i for i, e in enumerate(events) if e["type"] == "task_started" and e["task_id"] == run_id]
    if not starts:
        raise ValueError(f"incomplete trace of run {run_id!r}: its root task_started is missing")
    run = events[starts[-1]:]
    last: dict[str, int] = {}
    for event in run:
        task, seq = event["task_id"], event["seq"]
        if seq != last.get(task, 0) + 1:
            raise ValueError(f"incomplete trace of run {run_id!r}: task {task} jumps to seq {seq} "
                             f"after {last.get(task, 0)} (events were lost while recording)")
        last[task] = seq
    return run


def _trace_data(run: list[Mapping[str, Any]]) -> dict[str, Any]:
    """The ``Trace.to_dict`` form of one run's events, tasks and records in canonical (lineage) order.

    A stage is ``node_started`` .. ``node_finished``/``node_failed`` of one task; its agent and tool calls and
    its context are the events of that task in between. Each child's creating stage, which orders the children
    of successive fan-outs, is the ``stage`` of its ``clone_created``/``subtask_created``.
    """
    run_id = run[0]["run_id"]
    started: dict[str, Mapping[str, Any]] = {}
    finished: dict[str, Mapping[str, Any]] = {}
    created: dict[str, int] = {}
    stages: dict[str, dict[str, Any]] = {}
    records: list[dict[str, Any]] = []
    for event in run:
        kind, task = event["type"], event["task_id"]
        if kind == "task_started":
            started[task] = event
        elif kind == "task_finished":
            finished[task] = event
        elif kind in ("clone_created", "subtask_created"):
            created[event["child_id"]] = event["stage"]
        elif kind in _STAGE_EVENTS:
            stage = stages.setdefault(task, {"agent_calls": [], "tool_calls": []})
            if kind == "node_started":
                stage["started_at"] = event["timestamp"]
            elif kind == "context_assembled":
                stage["context"] = event["entries"]
            elif kind == "agent_call":
                stage["agent_calls"].append({key: event[key] for key in _AGENT_CALL_FIELDS if key in event})
            elif kind == "tool_invoked":
                result = event["result"]
                stage["tool_calls"].append({"tool_id": event["tool_id"], "arguments": event["arguments"],
                                            "status": event["status"], "output": result["output"],
                                            "error": result["error"], "call_id": event.get("call_id"),
                                            "meta": result.get("meta")})
            else:  # the stage's end
                stage.update({key: event[key] for key in _STAGE_FIELDS}, seq=event["stage"],
                             approvals=event.get("approvals", []))
                records.append(stages.pop(task))
    unfinished = sorted(set(started) ^ set(finished))
    if unfinished:
        raise ValueError(f"incomplete trace of run {run_id!r}: no start or no end for {', '.join(unfinished)}")
    keys: dict[str, tuple[tuple[int, int], ...]] = {}
    lineages = {task: event["lineage"] for task, event in started.items()}
    for task in lineages:
        _order_key(task, lineages, created, keys)
    tasks = [
        {"task_id": task, "lineage": started[task]["lineage"], "status": finished[task]["status"],
         "output": finished[task]["output"], "error": finished[task]["error"]}
        for task in sorted(started, key=keys.__getitem__)
    ]
    records.sort(key=lambda data: (keys[data["task_id"]], data["seq"]))
    return {"run_id": run_id, "tasks": tasks, "records": records}


_STAGE_EVENTS = frozenset({"node_started", "context_assembled", "agent_call", "tool_invoked", "node_finished",
                           "node_failed"})
"""The events that make up one stage of a task, from its start to its end."""
_AGENT_CALL_FIELDS = ("provider", "model", "request", "reply", "usage", "latency_s", "error")
"""What ``agent_call`` and a recorded call share (the event counts attempts; the record lists failed ones)."""
_STAGE_FIELDS = ("task_id", "node_id", "status", "input", "output", "error", "route", "duration_s")
"""What ``node_finished`` and a stage record share (the event's ``stage`` is the record's ``seq``)."""


def _order_key(
    task: str, lineages: Mapping[str, Mapping[str, Any]], created: Mapping[str, int],
    keys: dict[str, tuple[tuple[int, int], ...]],
) -> tuple[tuple[int, int], ...]:
    """``Lineage.sort_key`` of ``task``: its parent's, then (the creating stage, its index among the children)."""
    found = keys.get(task)
    if found is None:
        lineage = lineages[task]
        parent = lineage["parent_id"]
        if parent is None:
            found = ()
        elif parent not in lineages or task not in created:
            raise ValueError(f"incomplete trace: the stage of {parent} that created {task} is missing")
        else:
            found = (*_order_key(parent, lineages, created, keys), (created[task], lineage["path"][-1]["index"]))
        keys[task] = found
    return found
