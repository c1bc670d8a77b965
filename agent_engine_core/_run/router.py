"""Drive tasks through the DAG: follow edges, fan out to clones and subtasks, merge, decide final status.

Each task is a coroutine walking the graph. Branch and split stages start their children concurrently
(bounded by ``fanout_concurrency``) and wait for all of them; the group then either merges — once, at the
merge node its children arrived at, with inputs ordered by child index — or completes without a merge. Nothing
here depends on timing: every order is lineage order, every id derived from the lineage.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from agent_engine_core._build.context import Assembled
from agent_engine_core._build.dag import FAN_OUT, DagNode, Role
from agent_engine_core._build.plan import Plan
from agent_engine_core._run.durable import (
    Gates,
    Journaling,
    StageGate,
    answered_first,
    canonical_decision,
    node_item,
)
from agent_engine_core._run.observe import ObserverRun
from agent_engine_core._run.stage import COPY, StageOutcome, TaskState, new_tuple, recorded_outcome, run_stage
from agent_engine_core.codec import dumps
from agent_engine_core.errors import ApprovalPending
from agent_engine_core.events import (
    AgentCallEvent,
    ChildCreated,
    ContextAssembled,
    CredentialLoaded,
    Event,
    MergeFired,
    NodeFinished,
    NodeStarted,
    PolicyDenied,
    RoutingDecision,
    TaskFinished,
    TaskStarted,
    ToolInvoked,
)
from agent_engine_core.ids import child_task_id
from agent_engine_core.memory import Artifact, Memory, write_time
from agent_engine_core.records import (
    AgentCall,
    ErrorKind,
    Lineage,
    LineageStep,
    StageError,
    StageRecord,
    Status,
    TaskSummary,
)

if TYPE_CHECKING:
    from agent_engine_core._build.credentials import LoadedCredential

__all__ = ["Finished", "RunState", "Waiting", "walk"]


FAST_HANDLER_S = 0.0005
"""A sync handler measured to take less than this runs inline even beside siblings."""


@dataclass(slots=True)
class RunState:
    """Shared by all tasks of one run: the collected records and how many tasks are in flight.

    ``timings`` (node id -> its sync handler's measured run time, see ``learn``) belongs to the engine and
    outlives the run: it is how the engine learns which handlers are cheap enough to run on the event loop.
    """

    run_id: str
    plans: Mapping[str, Plan]
    fanout_concurrency: int
    executor: Executor | None
    timings: dict[str, float] | None = None
    records: list[StageRecord] = field(default_factory=list)
    summaries: list[TaskSummary] = field(default_factory=list)
    active: int = 1
    observers: ObserverRun | None = None
    memory: Memory | None = None
    task_items: dict[str, list[tuple[tuple[str, ...], str, float]]] = field(default_factory=dict)
    """This run's task memory (what ``task`` context sources read), dropped with the run."""
    regions: dict[str, tuple[str, ...]] = field(default_factory=dict)
    """Fan-out node -> the nodes its children can run a stage at (see ``_region``); kept by the engine."""
    slowed: int = 0
    """How many sync handler calls of this run were measured slow: a change makes inline groups use tasks."""
    credentials: tuple[LoadedCredential, ...] = ()
    """The credentials the engine read at load, announced after the root task's ``task_started``."""
    artifacts: list[Artifact] | None = None
    """The artifacts this run stored, in order, when the run store keeps them with the run."""
    beside_others: bool = False
    """Other runs are in flight on the same loop (``run_queued`` with ``max_concurrency`` > 1): a sync handler
    runs in a worker thread even while its task is alone, so that blocking handlers of different tasks overlap."""
    journal: Journaling | None = None
    """A durable run's journal: every stage is appended before its task moves on."""
    journaled: Mapping[tuple[str, int], StageRecord] | None = None
    """A resumed run's journaled stages by ``(task_id, seq)``: taken as they are instead of being executed."""
    journaled_contexts: Mapping[tuple[str, int], Assembled] = field(default_factory=dict)
    """Their assembled contexts, announced again in their ``context_assembled`` events."""
    paused_calls: Mapping[tuple[str, int], tuple[AgentCall, ...]] | None = None
    """A resumed run's stages that stopped at a gated tool: the agent calls they made (answered from, again)."""
    gates: Gates | None = None
    """The run's approval decisions and pending approvals (``None``: the workflow has no gates)."""
    gate_book: dict[tuple[str, str, str], StageGate] | None = None
    """``(run_id, task_id, node_id)`` -> the gate of a running stage whose node has gated tools (the engine's)."""
    gated_nodes: frozenset[str] = frozenset()
    """Nodes that may call a gated tool."""
    waiting: dict[str, Lineage] = field(default_factory=dict)
    """Tasks that wait for approvals (they have no summary yet): their lineage orders their records."""

    def remember(self, task: TaskState, plan: Plan, record: StageRecord) -> None:
        """Keep a successful stage's output: task memory, ``memory_write``, and artifacts."""
        memory = self.memory
        if memory is None:
            return
        node = plan.node
        node_id = node.id
        tags = (node_id,)  # the task id names the run and the task; the tag names the node
        output = record.output_json
        now = write_time()
        self.task_items.setdefault(task.id, []).append((tags, output, now))
        stage_id = f"{task.id}@{record.seq}"
        memory.task.append_json(output, tags=tags, task_id=task.id, item_id=stage_id, created_at=now)
        if node.spec.memory_write is not None:
            layer = memory.store(node.spec.memory_write)
            layer.append_json(output, tags=tags, task_id=task.id, item_id=f"{stage_id}:{layer.name}", created_at=now)
        schema = node.spec.schema_out if isinstance(node.spec.schema_out, str) else None
        artifacts = memory.artifacts
        put = [artifacts.put("node_output", task.id, output, node_id=node_id, schema=schema,
                             artifact_id=f"{stage_id}:output", created_at=now)]
        for index, call in enumerate(record.tool_calls):
            put.append(artifacts.put("tool_result", task.id, dumps(call.to_dict()), node_id=node_id,
                                     artifact_id=f"{stage_id}:tool{index}", created_at=now))
        if self.artifacts is not None:
            self.artifacts.extend(put)

    def handler_executor(self, node_id: str) -> Executor | None:
        """Where a sync handler runs.

        Inline while its task is alone, or when its node has been measured fast; in a worker thread while
        siblings are in flight, so that blocking handlers really run concurrently.
        """
        if self.active <= 1 and not self.beside_others:
            return None
        if self.timings is not None and self.timings.get(node_id, FAST_HANDLER_S) < FAST_HANDLER_S:
            return None
        return self.executor

    def learn(self, node_id: str, seconds: float, *, inline: bool) -> None:
        """Record a sync handler's run time.

        A call on the loop's thread is timed exactly and replaces what was known (so a handler that turns slow
        goes back to threads at once); a call in a worker may be stretched by waiting for the GIL, so only the
        fastest such call counts.
        """
        if self.timings is not None:
            known = self.timings.get(node_id)
            self.timings[node_id] = seconds if inline or known is None else min(known, seconds)
        if seconds >= FAST_HANDLER_S:
            self.slowed += 1

    def never_waits(self, fan_out_node: str) -> bool:
        """True when no stage the children of ``fan_out_node`` can reach would wait for anything.

        That is: no agent, no async handler, no nested fan-out, and every sync handler measured fast enough to
        run inline. Such children would each run to the end in one step of their own asyncio task, one after
        another; running them one after another without tasks gives the same records and events, cheaper.
        """
        region = self.regions.get(fan_out_node)
        if region is None:
            region = self.regions[fan_out_node] = _region(self.plans, fan_out_node)
        timings = self.timings
        for node_id in region:
            plan = self.plans[node_id]
            if plan.agent is not None or plan.node.role in FAN_OUT:
                return False
            handler = plan.handler
            if handler is not None and (
                handler.is_async or timings is None or timings.get(node_id, FAST_HANDLER_S) >= FAST_HANDLER_S
            ):
                return False
        return True


def _region(plans: Mapping[str, Plan], fan_out_node: str) -> tuple[str, ...]:
    """The nodes a child of ``fan_out_node`` may run a stage at: all it can reach before arriving at a merge."""
    seen: set[str] = set()
    pending = [edge.target for edge in plans[fan_out_node].node.out_edges]
    while pending:
        node_id = pending.pop()
        node = plans[node_id].node
        if node_id in seen or node.role is Role.MERGE:  # a child arrives at a merge without running a stage
            continue
        seen.add(node_id)
        pending.extend(edge.target for edge in node.out_edges)
    return tuple(sorted(seen))


@dataclass(frozen=True, slots=True)
class Finished:
    """A task that ended (at an exit, on a failure, or after its children completed without a merge)."""

    task: TaskState
    status: Status
    output_json: str
    error: StageError | None
    last_node: str


@dataclass(frozen=True, slots=True)
class Waiting:
    """A task that paused at an approval gate, or whose children did: it goes on once the run is resumed."""

    task: TaskState


@dataclass(frozen=True, slots=True)
class Arrived:
    """A child that reached a merge node and waits there for its group."""

    task: TaskState
    merge_node: str
    status: Status
    output_json: str
    entry: str
    """Its ``merge_inputs`` item, made on arrival: while its siblings still run, not after the last one."""


def _arrive(task: TaskState, merge_node: str, from_node: str, output_json: str) -> Arrived:
    status = _provisional(task)
    return Arrived(task, merge_node, status, output_json, _entry(task, from_node, status, output_json))


async def walk(run: RunState, task: TaskState, node_id: str, input_json: str) -> Finished | Arrived | Waiting:
    """Move ``task`` from ``node_id`` until it ends, waits for an approval or, as a child, arrives at a merge."""
    if run.observers is not None:
        _emit(run, task, TaskStarted, "task_started", task.lineage, node_id, input_json)
        if task.id == run.run_id:
            for credential in run.credentials:
                _emit(run, task, CredentialLoaded, "credential_loaded", *credential)
    outcome = await _walk(run, task, node_id, input_json)
    if isinstance(outcome, Waiting):
        run.waiting[task.id] = task.lineage
        return outcome  # not finished: its summary and task_finished come with the resumed run
    if isinstance(outcome, Finished):
        summary = TaskSummary(task.id, task.lineage, outcome.status, outcome.output_json, outcome.error)
    else:
        summary = TaskSummary(task.id, task.lineage, outcome.status, outcome.output_json, None)
    run.summaries.append(summary)
    if run.observers is not None:
        waiting_at = outcome.merge_node if isinstance(outcome, Arrived) else None
        _emit(run, task, TaskFinished, "task_finished", str(summary.status), summary.output_json, summary.error,
              waiting_at)
    return outcome


def _emit(run: RunState, task: TaskState, event_class: type[Event], name: str, *fields: object) -> None:
    """Build one frozen event for ``task`` and hand it to the run's observers.

    ``fields`` are the event class's own fields, in declaration order (positional: this is the hot path of a
    run with observers, and keyword construction of a tuple costs twice as much).
    """
    assert run.observers is not None
    task.events += 1
    run.observers.emit(event_class(name, run.run_id, task.id, task.events, time.time(), *fields))  # type: ignore[call-arg]


def _emit_stage(run: RunState, task: TaskState, node: DagNode, outcome: StageOutcome, record: StageRecord) -> None:
    """The events that follow a stage: its context or denial, its agent and tool calls, its end, its route."""
    if outcome.context is not None or record.error is not None or record.agent_calls or record.tool_calls:
        _emit_calls(run, task, node, outcome, record)
    assert run.observers is not None
    task.events += 1
    run.observers.emit(new_tuple(NodeFinished, (
        "node_failed" if outcome.failed else "node_finished", run.run_id, task.id, task.events, time.time(),
        node.id, record.seq, record.status, record.input_json, record.output_json, record.error, record.route,
        record.duration_s, record.approvals_json,
    )))
    if outcome.children:
        kind = "clones" if node.role is Role.BRANCH else "subtasks"
        _emit(run, task, RoutingDecision, "routing_decision", node.id, kind, record.route, None)
    elif node.role is Role.DECISION and outcome.next_node is not None:
        label = next((e.label for e in node.out_edges if e.target == outcome.next_node), None)
        _emit(run, task, RoutingDecision, "routing_decision", node.id, "edge", record.route, label)


def _emit_calls(run: RunState, task: TaskState, node: DagNode, outcome: StageOutcome, record: StageRecord) -> None:
    """The events of what happened inside a stage: its context or policy denial, its agent and tool calls."""
    if outcome.context is not None:
        context = outcome.context
        _emit(run, task, ContextAssembled, "context_assembled", node.id, context.profile, context.entries_json,
              context.tokens, context.dropped)
    if record.error is not None and record.error.kind is ErrorKind.POLICY:
        rule = record.error.details
        _emit(run, task, PolicyDenied, "policy_denied", node.id, rule["policy"], rule["rule"], rule["target"],
              rule["target_id"], rule["reason"])
    for call in record.agent_calls:
        _emit(run, task, AgentCallEvent, "agent_call", node.id, call.provider, call.model, call.request_json,
              call.reply_json, call.usage, call.latency_s, call.error, len(call.attempts) + 1)
    for invocation in record.tool_calls:
        _emit(run, task, ToolInvoked, "tool_invoked", node.id, invocation.tool_id, invocation.arguments_json,
              str(invocation.status), dumps(invocation.outcome()), invocation.call_id)


async def _walk(run: RunState, task: TaskState, node_id: str, input_json: str) -> Finished | Arrived | Waiting:
    from_node = node_id
    merging: StageError | bool | None = False  # False: walked in; None/StageError: a group merges here
    handoff: list[Any] = []  # the previous stage's output value, when it may be handed on undecoded
    while True:
        plan = run.plans[node_id]
        node = plan.node
        if node.role is Role.MERGE and merging is False:
            if task.lineage.depth > 0:
                return _arrive(task, node_id, from_node, input_json)
            input_json = _merge_input([_entry(task, from_node, _provisional(task), input_json)])
            handoff.clear()  # the merge's input wraps the previous output: that value is not its input
        forced = merging if isinstance(merging, StageError) else None
        merging = False
        staged = await _stage(run, task, plan, input_json, forced, handoff)
        if staged is None:
            return Waiting(task)
        outcome, record = staged
        del staged  # the outcome's only holders are these names (see ``del outcome`` below)
        handoff.clear()
        if outcome.failed:
            goes_on = outcome.next_node is not None or outcome.children or node.role is Role.EXIT
            if not (node.spec.continue_on_failure and goes_on) or node.spec.always_fail:
                return Finished(task, Status.FAILURE, record.output_json, record.error, node_id)
            task.degraded = True
        if node.role is Role.EXIT:
            return Finished(task, _provisional(task), record.output_json, None, node_id)
        if node.role is Role.MERGE and task.lineage.depth > node.merge_out_depth:
            return _arrive(task, node_id, node_id, record.output_json)
        if outcome.children:
            resolved = await _fan_out(run, task, node_id, record, outcome)
            if isinstance(resolved, (Finished, Waiting)):
                return resolved
            node_id, input_json, merging = resolved
            from_node = node_id
            continue
        assert outcome.next_node is not None  # every other role has exactly one way on
        # a decision routes; what it decided on (its input) is what the chosen path receives
        passed_on = record.input_json if node.role is Role.DECISION else record.output_json
        from_node, node_id, input_json = node_id, outcome.next_node, passed_on
        if outcome.output is not COPY:
            handoff.append(outcome.output)
        del outcome  # the next stage's handler must be the only holder of its payload


async def _stage(
    run: RunState, task: TaskState, plan: Plan, input_json: str, forced: StageError | None, handoff: list[Any],
) -> tuple[StageOutcome, StageRecord] | None:
    """Run one stage of ``task`` and record it: events around it, where its handler ran and how long it took.

    ``None`` when the stage waits for an approval (nothing of it is recorded: it runs when the run resumes).
    """
    node = plan.node
    if run.journaled is not None:
        journaled = run.journaled.get((task.id, task.seq))
        if journaled is not None and journaled.node_id == node.id:
            return _journaled_stage(run, task, plan, journaled, input_json)
    decided: list[dict[str, Any]] = []
    gate: StageGate | None = None
    if run.gates is not None:
        opened = _open_gates(run, run.gates, task, plan, input_json, forced)
        if opened is None:
            return None
        forced, decided, gate, plan = opened
    observers = run.observers
    if observers is not None:
        task.events += 1  # inlined _emit: this and node_finished are the per-stage events
        started = ("node_started", run.run_id, task.id, task.events, time.time(), node.id, task.seq, input_json)
        observers.emit(new_tuple(NodeStarted, started))
    executor = run.handler_executor(node.id)
    try:
        outcome = await run_stage(plan, task, input_json, executor=executor, forced=forced,
                                  task_items=run.task_items, handoff=handoff)
    except ApprovalPending as pending:  # a gated tool was asked for: the stage runs again when the run resumes
        if run.journal is not None and pending.agent_calls:
            run.journal.paused(task.id, task.seq, node.id, pending.agent_calls)
        return None
    finally:
        if gate is not None and run.gate_book is not None:
            del run.gate_book[(run.run_id, task.id, node.id)]
    if gate is not None:
        decided += gate.used
    if decided:
        outcome = outcome._replace(record=outcome.record._replace(approvals_json=dumps(decided)))
    return _recorded(run, task, plan, outcome, executor)


def _recorded(
    run: RunState, task: TaskState, plan: Plan, outcome: StageOutcome, executor: Executor | None
) -> tuple[StageOutcome, StageRecord]:
    """Keep a stage that ran: memory, what the engine learnt of its handler, the run's records and journal, events."""
    node = plan.node
    record = outcome.record
    if record.status is Status.SUCCESS:
        run.remember(task, plan, record)
    if task.handler_s is not None:
        run.learn(node.id, task.handler_s, inline=executor is None)
        task.handler_s = None
    if node.role is Role.MERGE and task.lineage.depth > node.merge_out_depth and record.route:
        # an inner group's parent waits at this same merge for its own group: it goes nowhere yet
        record = record._replace(route=())
    run.records.append(record)
    if run.journal is not None:
        run.journal.stage(record, outcome.context)
    if run.observers is not None:
        _emit_stage(run, task, node, outcome, record)
    return outcome, record


def _open_gates(
    run: RunState, gates: Gates, task: TaskState, plan: Plan, input_json: str, forced: StageError | None
) -> tuple[StageError | None, list[dict[str, Any]], StageGate | None, Plan] | None:
    """A stage's gates: ``None`` while its node's gate waits, else what the stage runs with.

    That is: its forced error, the node decision it runs on, the gate its gated tools consult (``None`` for a
    node without any) and its plan (answered from the agent calls it made before it paused at a tool, if it did).
    """
    node = plan.node
    opened = _node_gate(gates, task, node, input_json, forced)
    if opened is None:
        return None
    gate = None
    if node.id in run.gated_nodes and run.gate_book is not None:
        gate = run.gate_book[(run.run_id, task.id, node.id)] = StageGate(gates, task.id, node.id)
    if run.paused_calls is not None and (task.id, task.seq) in run.paused_calls:
        plan = answered_first(plan, run.paused_calls[(task.id, task.seq)])
    return (*opened, gate, plan)


def _node_gate(
    gates: Gates, task: TaskState, node: DagNode, input_json: str, forced: StageError | None
) -> tuple[StageError | None, list[dict[str, Any]]] | None:
    """A node's approval gate: ``None`` while it waits, else the stage's forced error and the decision it ran on.

    A stage already failed (a merge of failed children) is not asked about: it runs nothing to approve.
    """
    approval = node.spec.approval
    if approval is None or not approval.required or forced is not None:
        return forced, []
    decision = gates.decide(node_item(task.id, node.id, input_json, approval.prompt), approval.timeout)
    if decision is None:
        return None
    if decision["decision"] != "approved":
        reason = decision.get("reason") or "no reason given"
        forced = StageError(node.id, ErrorKind.APPROVAL, f"the approval of '{node.id}' was rejected: {reason}",
                            dumps({"fingerprint": decision["fingerprint"], "reason": decision.get("reason")}))
    return forced, [canonical_decision(decision)]


def _journaled_stage(
    run: RunState, task: TaskState, plan: Plan, record: StageRecord, input_json: str
) -> tuple[StageOutcome, StageRecord]:
    """A resumed run's stage taken from its journal: recorded, remembered and announced, not executed."""
    outcome = recorded_outcome(plan, task, record)._replace(context=run.journaled_contexts.get((task.id, record.seq)))
    if record.status is Status.SUCCESS:
        run.remember(task, plan, record)
    run.records.append(record)
    if run.observers is not None:
        task.events += 1
        run.observers.emit(new_tuple(NodeStarted, ("node_started", run.run_id, task.id, task.events, time.time(),
                                                   plan.node.id, record.seq, input_json)))
        _emit_stage(run, task, plan.node, outcome, record)
    return outcome, record


async def _fan_out(
    run: RunState, parent: TaskState, node_id: str, record: StageRecord, outcome: StageOutcome
) -> Finished | Waiting | tuple[str, str, StageError | None]:
    """Run the children of a branch/split stage; returns how the parent goes on."""
    kind = "clone" if run.plans[node_id].node.role is Role.BRANCH else "subtask"
    children = [
        TaskState(
            id=child_task_id(parent.id, node_id, index),
            lineage=Lineage(kind, parent.id, (*parent.lineage.path, LineageStep(node_id, index, record.seq))),
            run_id=run.run_id,
        )
        for index in range(len(outcome.children))
    ]
    if run.observers is not None:
        for child, (target, _) in zip(children, outcome.children, strict=True):
            _emit(run, parent, ChildCreated, f"{kind}_created", node_id, record.seq, child.id, child.lineage.index,
                  target)
    run.active += len(children)
    pairs = list(zip(children, outcome.children, strict=True))
    results: list[Finished | Arrived | Waiting] = []
    if run.never_waits(node_id):
        slowed = run.slowed
        while len(results) < len(pairs) and run.slowed == slowed:  # a handler turned slow: tasks for the rest
            child, (target, input_json) = pairs[len(results)]
            try:
                results.append(await walk(run, child, target, input_json))
            finally:
                run.active -= 1
    if len(results) < len(pairs):
        results += await _concurrently(run, pairs[len(results):])
    return _resolve_group(run, parent, node_id, kind, results)


async def _concurrently(
    run: RunState, pairs: Sequence[tuple[TaskState, tuple[str, str]]]
) -> list[Finished | Arrived | Waiting]:
    """Walk each ``(child, (target, input_json))`` in its own asyncio task, at most ``fanout_concurrency`` at once."""
    limit = asyncio.Semaphore(run.fanout_concurrency) if len(pairs) > run.fanout_concurrency else None

    async def one(child: TaskState, target: str, input_json: str) -> Finished | Arrived | Waiting:
        try:
            if limit is None:
                return await walk(run, child, target, input_json)
            async with limit:
                return await walk(run, child, target, input_json)
        finally:
            run.active -= 1

    return await asyncio.gather(*(one(child, target, input_json) for child, (target, input_json) in pairs))


def _resolve_group(
    run: RunState, parent: TaskState, fan_out_node: str, kind: str, results: Sequence[Finished | Arrived | Waiting]
) -> Finished | Waiting | tuple[str, str, StageError | None]:
    if any(isinstance(r, Waiting) for r in results):  # the group is complete once its waiting children are
        return Waiting(parent)
    arrivals = [r for r in results if isinstance(r, Arrived)]
    failed = [r for r in results if isinstance(r, Finished) and r.status is Status.FAILURE]
    if not arrivals:
        return _complete_without_merge(parent, fan_out_node, kind, results)
    merge_nodes = sorted({a.merge_node for a in arrivals})
    if len(merge_nodes) > 1:
        error = StageError(
            fan_out_node, ErrorKind.ROUTING,
            f"the children of '{fan_out_node}' arrived at different merge nodes ({', '.join(merge_nodes)}); "
            "a fan-out group merges at one node",
            dumps({"merge_nodes": merge_nodes}),
        )
        parent.first_error = parent.first_error or error
        return Finished(parent, Status.FAILURE, dumps(None), error, fan_out_node)
    merge_node = merge_nodes[0]
    policy = run.plans[merge_node].node.spec.merge
    on_failure = policy.on_failure if policy else "fail_on_any"
    entries = []
    for result in results:
        if isinstance(result, Arrived):
            parent.degraded = parent.degraded or result.status is Status.PARTIAL
            entries.append(result.entry)
        elif isinstance(result, Finished) and result.status is Status.FAILURE and on_failure != "ignore_failures":
            entries.append(_entry(result.task, result.last_node, Status.FAILURE, result.output_json, result.error))
    forced = None
    if failed and on_failure == "fail_on_any":
        forced = StageError(
            merge_node, ErrorKind.CHILD_FAILURE,
            f"{len(failed)} of {len(results)} children of '{fan_out_node}' failed (merge on_failure: fail_on_any)",
            dumps({"failed": [f.task.id for f in failed]}),
        )
    elif failed:
        parent.degraded = True
    if run.observers is not None:
        merged = tuple(r.task.id for r in results if isinstance(r, Arrived))
        _emit(run, parent, MergeFired, "merge_fired", merge_node, fan_out_node, merged,
              tuple(f.task.id for f in failed), on_failure)
    return merge_node, _merge_input(entries), forced


def _complete_without_merge(
    parent: TaskState, fan_out_node: str, kind: str, results: Sequence[Finished | Arrived | Waiting]
) -> Finished:
    finished = [r for r in results if isinstance(r, Finished)]
    succeeded = [r for r in finished if r.status is not Status.FAILURE]
    if kind == "clone":
        best = next((r for r in succeeded if r.status is Status.SUCCESS), succeeded[0] if succeeded else None)
        if best is not None:
            degraded = parent.degraded or best.status is Status.PARTIAL
            status = Status.PARTIAL if degraded else Status.SUCCESS
            return Finished(parent, status, best.output_json, None, fan_out_node)
        message = f"every clone of '{fan_out_node}' failed"
    else:
        outputs = "[" + ",".join(r.output_json if r.status is not Status.FAILURE else "null" for r in finished) + "]"
        if len(succeeded) == len(finished):
            partial = parent.degraded or any(r.status is Status.PARTIAL for r in finished)
            return Finished(parent, Status.PARTIAL if partial else Status.SUCCESS, outputs, None, fan_out_node)
        if succeeded:
            parent.degraded = True
            return Finished(parent, Status.PARTIAL, outputs, None, fan_out_node)
        message = f"every subtask of '{fan_out_node}' failed"
    error = StageError(fan_out_node, ErrorKind.CHILD_FAILURE, message,
                       dumps({"failed": [r.task.id for r in finished]}))
    parent.first_error = parent.first_error or error
    return Finished(parent, Status.FAILURE, dumps(None), error, fan_out_node)


def _provisional(task: TaskState) -> Status:
    return Status.PARTIAL if task.degraded else Status.SUCCESS


def _entry(
    task: TaskState, from_node: str, status: Status, output_json: str, error: StageError | None = None
) -> str:
    """One ``merge_inputs`` item as JSON text (child outputs are embedded without re-encoding)."""
    text = (
        f'{{"task_id":{dumps(task.id)},"lineage":{dumps(task.lineage.to_dict())},'
        f'"from_node":{dumps(from_node)},"status":"{status}","output":{output_json}'
    )
    if error is not None:
        text += f',"error":{dumps(error.to_dict(with_traceback=False))}'
    return text + "}"


def _merge_input(entries: Sequence[str]) -> str:
    return '{"merge_inputs":[' + ",".join(entries) + "]}"


def first_failure(records: Sequence[StageRecord]) -> StageError | None:
    """The first failed stage's error, in canonical order (what a partial result reports)."""
    return next((r.error for r in records if r.error is not None), None)


def ordered(run: RunState, root: TaskState) -> tuple[tuple[TaskSummary, ...], tuple[StageRecord, ...]]:
    """Summaries and records in canonical order: by lineage, then stage sequence."""
    if len(run.summaries) == 1:  # the root alone: its records were appended in sequence order
        return tuple(run.summaries), tuple(run.records)
    keys = {s.task_id: s.lineage.sort_key() for s in run.summaries}
    keys.update((task_id, lineage.sort_key()) for task_id, lineage in run.waiting.items())
    keys.setdefault(root.id, ())
    summaries = tuple(sorted(run.summaries, key=lambda s: keys[s.task_id]))
    records = tuple(sorted(run.records, key=lambda r: (keys[r.task_id], r.seq)))
    return summaries, records

