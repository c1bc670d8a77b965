"""One stage: a task at a node. Validate input, execute, validate output, decide the route, record.

A stage never raises for anything a node does: every failure becomes a ``StageError`` in the record. The
``Plan`` of a node (handler, validators, agent) is resolved once when the engine is built.
"""

from __future__ import annotations

import sys
import time
import traceback
from collections.abc import Callable
from concurrent.futures import Executor
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, NamedTuple

from agent_engine_core._build.context import Assembled, TaskItems, freeze
from agent_engine_core._build.dag import DagNode, Role
from agent_engine_core._build.plan import Plan
from agent_engine_core._run.agent import call_agent
from agent_engine_core._run.pool import in_thread
from agent_engine_core._schemas import SchemaSet
from agent_engine_core.codec import dumps, loads
from agent_engine_core.errors import (
    ApprovalPending,
    ApprovalRejected,
    JSONValueError,
    MemoryDenied,
    NodeFailure,
    StageFailed,
    ToolMisuse,
)
from agent_engine_core.handler import MemoryAccess, NodeContext, ToolBox
from agent_engine_core.records import AgentCall, ErrorKind, Lineage, StageError, StageRecord, Status
from agent_engine_core.tools import ToolInvocation, ToolScope

if TYPE_CHECKING:
    import jsonschema

__all__ = ["COPY", "StageOutcome", "TaskState", "recorded_outcome", "run_stage"]

new_tuple = tuple.__new__
"""Builds a named tuple made for every stage (its record, events, memory item, artifact) from a complete field
tuple, skipping the class's keyword-handling ``__new__``: half the cost. The canonical-trace tests,
``test_observer_isolation`` and ``test_engine_memory`` hold the fields to the classes."""
_NO_ITEMS: TaskItems = MappingProxyType({})
COPY: Any = object()
"""No value to hand on: the next stage decodes its input from the recorded text (see ``_sole_owner``)."""
_IMMUTABLE = frozenset({str, int, float, bool, type(None)})
_KEYS = frozenset({str})


@dataclass(slots=True)
class TaskState:
    """The mutable state of a running task (internal; records are what escapes)."""

    id: str
    lineage: Lineage
    run_id: str
    degraded: bool = False
    seq: int = 0
    first_error: StageError | None = None
    events: int = 0
    """Events emitted for this task so far: the last event's ``seq``."""
    handler_s: float | None = None
    """How long the last sync handler call took, wherever it ran (the engine learns from it)."""


class StageOutcome(NamedTuple):
    """A finished stage: its record, and for fan-outs the children to create as ``(target, input_json)``.

    ``output`` is the output value itself when the next stage may take it as its payload instead of decoding
    the record's text (see ``_sole_owner``), else ``COPY``.
    """

    record: StageRecord
    next_node: str | None = None
    children: tuple[tuple[str, str], ...] = ()
    context: Assembled | None = None
    output: Any = COPY

    @property
    def failed(self) -> bool:
        """True when the stage failed (whether or not the task continues)."""
        return self.record.status is Status.FAILURE


async def run_stage(
    plan: Plan, task: TaskState, input_json: str, *, executor: Executor | None,
    forced: StageError | None = None, task_items: TaskItems = _NO_ITEMS, handoff: list[Any] | None = None,
) -> StageOutcome:
    """Execute ``plan`` for ``task`` on ``input_json``; ``executor`` runs sync handlers off the loop.

    ``forced`` fails the stage before it executes (a merge whose children failed under ``fail_on_any``), as a
    policy denial does; ``task_items`` is this run's task memory, which ``task`` context sources read;
    ``handoff`` holds the previous stage's ``StageOutcome.output`` when it has one: the stage takes it out, so
    that no frame but the handler's refers to it (see ``_sole_owner``).
    """
    node = plan.node
    started_at = time.time()
    clock = time.perf_counter()
    calls: list[AgentCall] = []
    tool_calls: list[ToolInvocation] = []
    error: StageError | None = forced or plan.denial
    output_json = input_json
    output: Any = COPY
    context: Assembled | None = None
    if error is None and plan.context is not None:
        try:
            context = plan.context.assemble(task.id, task.lineage.depth, input_json, task_items)
        except Exception as exc:  # a backend that fails to answer fails the stage, not the run
            error = _error(node.id, ErrorKind.CONTEXT, f"context assembly failed: {type(exc).__name__}: {exc}",
                           {"profile": plan.context.profile.id}, None)
    if error is None:
        try:
            output_json, output = await _execute(plan, task, input_json, handoff, executor, calls, tool_calls,
                                                 context.entries_json if context else "[]")
        except StageFailed as failed:
            kind, message, details, tb = failed.error
            error = _error(node.id, kind, message, details, tb)
        except ApprovalRejected as rejected:  # a gated tool's call was rejected (docs/DURABLE_RUNS.md)
            error = _error(node.id, ErrorKind.APPROVAL, rejected.message, rejected.details, None)
        except ApprovalPending as pending:  # the stage waits: what its agent was told so far goes to the journal
            pending.agent_calls = tuple(calls)
            raise
    next_node: str | None = None
    children: tuple[tuple[str, str], ...] = ()
    if error is not None and node.role is Role.DECISION:
        pass  # a failed decision cannot continue: there is no label to follow
    elif error is None or node.spec.continue_on_failure:
        try:
            next_node, children = _route(node, output_json)
        except StageFailed as failed:
            kind, message, details, _ = failed.error
            error = error or _error(node.id, kind, message, details, None)
            next_node, children = None, ()
    if node.role is Role.EXIT and node.spec.always_fail and error is None:
        error = _error(node.id, ErrorKind.EXIT, f"exit '{node.id}' always fails", {"output": loads(output_json)},
                       None)
        output_json = dumps({"error": error.to_dict()})
    status = Status.SUCCESS if error is None else Status.FAILURE
    if status is Status.FAILURE or (node.role is not Role.LINEAR and node.role is not Role.START):
        output = COPY  # a failed stage passes its input on; fan-outs, decisions and merges hand on text
    route = (next_node,) if next_node else tuple(target for target, _ in children)
    record = new_tuple(StageRecord, (  # every field, in order: see new_tuple
        task.id, node.id, task.seq, status, input_json, output_json, error, route, tuple(calls), tuple(tool_calls),
        context.entries_json if context else "[]", started_at, time.perf_counter() - clock, "[]",
    ))
    task.seq += 1
    if error is not None and task.first_error is None:
        task.first_error = error
    return StageOutcome(record, next_node, children, context, output)


def recorded_outcome(plan: Plan, task: TaskState, record: StageRecord) -> StageOutcome:
    """A stage a resume takes from the run's journal: its record as it was, its way on worked out from it.

    The route is decided again from the recorded output, as the stage decided it (``_route`` is a function
    of the node and the output alone), and the task's sequence and first error move on as the stage moved them.
    """
    next_node, children = _route(plan.node, record.output_json) if record.route else (None, ())
    task.seq += 1
    if record.error is not None and task.first_error is None:
        task.first_error = record.error
    return StageOutcome(record, next_node, children)


def _error(node_id: str, kind: ErrorKind, message: str, details: Any, tb: str | None) -> StageError:
    try:
        details_json = dumps(details if details is not None else {})
    except JSONValueError:
        details_json = dumps({"repr": repr(details)})
    return StageError(node_id, kind, message, details_json, tb)


async def _execute(
    plan: Plan, task: TaskState, input_json: str, handoff: list[Any] | None, executor: Executor | None,
    calls: list[AgentCall], tool_calls: list[ToolInvocation], context_json: str,
) -> tuple[str, Any]:
    """The stage's output as text, and as a value the next stage may take (``COPY`` if it may not)."""
    node = plan.node
    payload = handoff.pop() if handoff else COPY
    if plan.handler is None and plan.agent is None and plan.schema_in is None and plan.schema_out is None:
        return input_json, payload  # pass-through default: the input is the output, untouched
    if payload is COPY:
        payload = loads(input_json)
    if plan.schema_in is not None:
        _validate(plan.schema_in, payload, ErrorKind.SCHEMA_IN, "input")
    if plan.agent is not None:
        output = await call_agent(plan.agent, ToolScope(task.run_id, task.id, node.id), task.lineage.index or 0,
                                  payload, plan.tools, executor, calls, tool_calls, loads(context_json))
    elif plan.handler is not None:
        output = await _call_handler(plan, task, payload, executor, tool_calls, context_json)
    else:
        output = payload
    if plan.schema_out is not None:
        _validate(plan.schema_out, output, ErrorKind.SCHEMA_OUT, "output")
    del payload  # the handler may have returned its payload: only ``output`` may still refer to it
    sole, floats = _sole_owner(output)
    try:
        text = dumps(output, floats=floats)
    except JSONValueError as exc:
        raise StageFailed(ErrorKind.HANDLER, f"handler returned a value that is not JSON: {exc}",
                      {"type": type(output).__name__}) from None
    return text, output if sole else COPY


def _sole_owner(value: Any) -> tuple[bool, bool]:
    """``(sole, floats)``: may ``value`` be handed to the next stage undecoded; may it hold a float.

    ``sole`` is true when ``value`` is a tree of plain ``dict``s (``str`` keys) and ``list``s over immutable scalars in
    which nothing but the tree refers to any container: the caller's one variable holds the root, and each
    other container is held by its parent alone. The handler that made it kept no reference through which it
    could change the value later, and decoding the text would give an equal value. Anything subclassed,
    shared, or kept by the handler (in a global, a closure, twice in the tree) is decoded from the text as
    before. A document edited by its handler (``{**doc, "rev": n}``) shares its sections with its input, which
    the stage no longer holds by then: it is handed on whole instead of decoded at every node. ``floats`` is
    false only when the walk saw every value and none was a float: the codec may then skip its float checks.
    """
    kind = type(value)
    if kind is not dict and kind is not list:
        return kind in _IMMUTABLE, kind is float or kind not in _IMMUTABLE
    if sys.getrefcount(value) != _SOLE:
        return False, True
    floats = False
    pending = [value]
    while pending:
        node = pending.pop()
        if type(node) is dict:
            if not _KEYS.issuperset(map(type, node)):
                return False, True
            items: Any = node.values()
        else:
            items = node
        kinds = set(map(type, items))
        floats = floats or float in kinds
        if kinds <= _IMMUTABLE:
            continue
        for item in items:
            kind = type(item)
            if kind is dict or kind is list:
                if sys.getrefcount(item) != _CHILD:
                    return False, True
                pending.append(item)
            elif kind not in _IMMUTABLE:
                return False, True
    return True, floats


def _probe_sole_references() -> int:
    """What ``sys.getrefcount`` sees in ``_sole_owner`` for a value held by one variable of its caller."""
    held: dict[str, int] = {}
    return _count_in_callee(held)


def _count_in_callee(value: Any) -> int:
    return sys.getrefcount(value)


def _probe_child_references() -> int:
    """What ``sys.getrefcount`` sees in ``_sole_owner``'s loop for a container held by its parent alone."""
    items: list[Any] = [{}]
    for item in items:
        return sys.getrefcount(item)
    raise AssertionError("unreachable")


_SOLE = _probe_sole_references()
_CHILD = _probe_child_references()


def _validate(validator: jsonschema.protocols.Validator, value: Any, kind: ErrorKind, what: str) -> None:
    violations = SchemaSet.violations(validator, value)
    if violations:
        first = violations[0]
        raise StageFailed(kind, f"{what} does not match its schema at {first['path']}: {first['message']}",
                      {"violations": violations})


async def _call_handler(
    plan: Plan, task: TaskState, payload: Any, executor: Executor | None, tool_calls: list[ToolInvocation],
    context_json: str,
) -> Any:
    handler = plan.handler
    assert handler is not None  # the caller checked
    toolbox = ToolBox(plan.node.id, plan.tools, ToolScope(task.run_id, task.id, plan.node.id))
    ctx = NodeContext(node_id=plan.node.id, task_id=task.id, run_id=task.run_id, lineage=task.lineage,
                      tools=toolbox, context=freeze(loads(context_json)) if plan.context else (),
                      memory=MemoryAccess(plan.memory, plan.node.id, task.id, plan.memory_denials))
    try:
        if handler.is_async:
            output = await handler.function(payload, ctx)
        elif executor is None:
            output = _timed(handler.function, payload, ctx, task)
        else:
            output = await in_thread(executor, _timed, handler.function, payload, ctx, task)
    except NodeFailure as exc:
        raise StageFailed(ErrorKind.HANDLER, exc.reason, exc.data) from None
    except ToolMisuse as exc:
        raise StageFailed(ErrorKind.TOOL_MISUSE, str(exc)) from None
    except MemoryDenied as exc:
        raise StageFailed(ErrorKind.POLICY, exc.error.message, exc.error.details) from None
    except Exception as exc:  # a handler's own bug fails its node, with the traceback kept in the history
        raise StageFailed(ErrorKind.HANDLER, f"{type(exc).__name__}: {exc}", {"exception": type(exc).__name__},
                          traceback.format_exc()) from None
    finally:
        tool_calls.extend(toolbox.calls)
    if toolbox.misuse is not None:  # the handler caught ToolMisuse; the node fails all the same
        raise StageFailed(ErrorKind.TOOL_MISUSE, toolbox.misuse)
    return output


def _timed(function: Callable[[Any, NodeContext], Any], payload: Any, ctx: NodeContext, task: TaskState) -> Any:
    """Call a sync handler and leave its own run time (not the thread hop) in ``task.handler_s``."""
    started = time.perf_counter()
    try:
        return function(payload, ctx)
    finally:
        task.handler_s = time.perf_counter() - started


def _route(node: DagNode, output_json: str) -> tuple[str | None, tuple[tuple[str, str], ...]]:
    role = node.role
    if role is Role.EXIT:
        return None, ()
    if role is Role.DECISION:
        return _decide(node, loads(output_json)), ()
    if role is Role.BRANCH:
        return None, tuple((edge.target, output_json) for edge in node.out_edges)
    if role is Role.SPLIT:
        items = _split_items(node, loads(output_json))
        edges = node.out_edges
        return None, tuple((edges[i % len(edges)].target, dumps(item)) for i, item in enumerate(items))
    return node.out_edges[0].target, ()


def _decide(node: DagNode, answer: Any) -> str:
    label = answer.get("selected_edge") if isinstance(answer, dict) else answer
    if not isinstance(label, str):
        raise StageFailed(ErrorKind.ROUTING,
                      "a decision must output an edge label (a string or an object with 'selected_edge')",
                      {"labels": list(node.labels)})
    target = node.target_of(label)
    if target is None:
        raise StageFailed(ErrorKind.ROUTING, f"decision chose '{label}', which labels none of its edges",
                      {"selected_edge": label, "labels": list(node.labels)})
    return target


def _split_items(node: DagNode, output: Any) -> list[Any]:
    items = output.get("subtask_inputs") if isinstance(output, dict) else output
    if not isinstance(items, list):
        raise StageFailed(ErrorKind.ROUTING,
                      "a split must output a list, or an object with a 'subtask_inputs' list",
                      {"type": type(output).__name__})
    if not items:
        raise StageFailed(ErrorKind.ROUTING, "a split produced no subtasks (empty list)", {})
    return items
