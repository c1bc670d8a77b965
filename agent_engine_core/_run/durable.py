"""Durable runs: the stage journal a run appends to, what a resume takes from it, and approval gates.

A durable run (memory.yaml ``runs: {durability: stage}``) begins its journal with a header (the start node,
the input, the hashes of every manifest, schema and handler module) and appends each stage's record before its
task moves on. A resume walks the run again from its start: a stage the journal holds is taken from it instead
of being executed (so no handler, agent or tool is called again), and every stage after the last journaled one
of its task runs live. Since a run is deterministic, the walk reaches the same stages in the same order, fan-out
children resume one by one and merges fire once their group is complete, and the resumed trace is the trace
the run would have had.

An approval gate (a node's ``approval``, a tool's ``approval: required``) pauses a task until a decision for
exactly that input or those arguments (their SHA-256 fingerprint) is journaled; the run returns ``waiting``
with its pending approvals once every task that can go on has. Decisions are appended to the journal and put
into the stage records they applied to, so a replay of the finished run decides as the run did.
"""

from __future__ import annotations

import hashlib
import inspect
import json
import time
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from types import MappingProxyType
from typing import Any

from agent_engine_core._build.context import Assembled
from agent_engine_core._build.plan import Plan
from agent_engine_core.codec import compose, dumps, loads
from agent_engine_core.errors import ApprovalPending, ApprovalRefused, ApprovalRejected, InvalidInput
from agent_engine_core.journal import JOURNAL_FORMAT, JournalRun, RunJournal
from agent_engine_core.llm import LlmReply, LlmRequest, ToolCall
from agent_engine_core.records import AgentCall, StageRecord, Trace
from agent_engine_core.tools import BoundTool, Tool, ToolResult, current_scope

__all__ = [
    "AnsweredFirst",
    "Gates",
    "Journaled",
    "Journaling",
    "StageGate",
    "answered_first",
    "canonical_decision",
    "changed_files",
    "choose_pending",
    "decision_for",
    "fingerprint",
    "gate_tools",
    "gated_tool_ids",
    "header",
    "node_item",
    "run_hashes",
]


def fingerprint(text: str) -> str:
    """The SHA-256 (hex) of a JSON value given as text, its keys sorted: what an approval names what it approves by.

    Sorting the keys makes the fingerprint of ``{"a": 1, "b": 2}`` the fingerprint of ``{"b": 2, "a": 1}``: an
    approver who writes the input out again (``approve --input``) need not reproduce the key order.
    """
    canonical = json.dumps(loads(text), sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


# ----------------------------------------------------------------------------------------------------------
# Hashes: what ran the run, compared by a resume.
# ----------------------------------------------------------------------------------------------------------


def run_hashes(sources: Mapping[str, Any], plans: Mapping[str, Plan], base_dir: Path | None) -> dict[str, str]:
    """File name -> SHA-256 of every manifest and schema the run depends on and every handler module it imports.

    Names are relative to the config dir where they are inside it. Handler modules are those of the project's
    handlers (installed modules are the environment's, named by the deployment fingerprint instead).
    """
    found: dict[str, str] = {}
    for stem, source in sources.items():
        if stem in ("evaluations", "cli_profiles") or not source.sha256:
            continue
        found[_name(Path(source.file), base_dir)] = source.sha256
    for plan in plans.values():
        handler = plan.handler
        if handler is None:
            continue
        try:
            file = inspect.getsourcefile(inspect.unwrap(handler.function))
        except TypeError:  # a builtin or a callable object without a source file
            file = None
        if file is None:
            continue
        path = Path(file).resolve()
        if base_dir is not None and not path.is_relative_to(base_dir.resolve()):
            continue
        found[_name(path, base_dir)] = hashlib.sha256(path.read_bytes()).hexdigest()
    return dict(sorted(found.items()))


def _name(path: Path, base_dir: Path | None) -> str:
    if base_dir is not None:
        try:
            return path.resolve().relative_to(base_dir.resolve()).as_posix()
        except ValueError:
            pass
    return path.as_posix()


def changed_files(journaled: Mapping[str, str], current: Mapping[str, str]) -> list[str]:
    """The files whose hash differs between the journal and now (added and removed ones included), sorted."""
    return sorted(name for name in set(journaled) | set(current) if journaled.get(name) != current.get(name))


# ----------------------------------------------------------------------------------------------------------
# The journal as one run writes and reads it.
# ----------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class Journaling:
    """One durable run's writer: a stage's record goes to the journal before its task moves on."""

    journal: RunJournal
    run_id: str

    def stage(self, record: StageRecord, context: Assembled | None) -> None:
        """Append ``record`` (one transaction), with what its context cost (for its ``context_assembled`` event)."""
        stored = record.stored()
        if context is not None:
            stored["assembled"] = {"profile": context.profile, "tokens": context.tokens, "dropped": context.dropped}
        self.journal.append(self.run_id, (("stage", compose(stored)),))

    def paused(self, task_id: str, seq: int, node_id: str, calls: Sequence[AgentCall]) -> None:
        """Append the agent calls of a stage that waits for a tool's approval (its resume is answered from them)."""
        self.journal.append(self.run_id, (("paused", compose({
            "task_id": task_id, "seq": seq, "node_id": node_id, "agent_calls": [c.stored() for c in calls]})),))


@dataclass(frozen=True, slots=True)
class Journaled:
    """What a journal holds for a resume: its header and its stages and decisions."""

    run_id: str
    start: str
    input_json: str
    hashes: Mapping[str, str]
    status: str
    pending: tuple[Mapping[str, Any], ...]
    stages: Mapping[tuple[str, int], StageRecord]
    contexts: Mapping[tuple[str, int], Assembled]
    """The assembled contexts of journaled stages that had one (their entries are the record's)."""
    decisions: tuple[Mapping[str, Any], ...]
    paused: Mapping[tuple[str, int], tuple[AgentCall, ...]] = field(default_factory=dict)
    """The agent calls of stages that stopped at a gated tool, by ``(task_id, seq)`` (the last pause's)."""

    @classmethod
    def of(cls, kept: JournalRun) -> Journaled:
        """Decode a journal; ``InvalidInput`` for one of a format this engine does not read."""
        header = loads(kept.header_json)
        if not isinstance(header, dict) or header.get("format") != JOURNAL_FORMAT:
            raise InvalidInput(f"the journal of run '{kept.summary.run_id}' is of a format this engine does not "
                               f"read (format {header.get('format') if isinstance(header, dict) else '?'})")
        stages = [loads(text) for kind, text in kept.entries if kind == "stage"]
        records = Trace.from_dict({"run_id": kept.summary.run_id, "tasks": [], "records": stages}).records
        decisions = tuple(loads(text) for kind, text in kept.entries if kind == "approval")
        paused = [loads(text) for kind, text in kept.entries if kind == "paused"]
        calls = Trace.from_dict({"run_id": kept.summary.run_id, "tasks": [], "records": [
            {**p, "status": "success", "input": None, "output": None, "error": None, "route": []} for p in paused
        ]}).records
        contexts = {(r.task_id, r.seq): Assembled(d["assembled"]["profile"], r.context_json,
                                                  d["assembled"]["tokens"], d["assembled"]["dropped"])
                    for r, d in zip(records, stages, strict=True) if "assembled" in d}
        return cls(kept.summary.run_id, header["start"], dumps(header["input"]), header["hashes"],
                   kept.summary.status, tuple(loads(kept.summary.detail_json)),
                   {(r.task_id, r.seq): r for r in records}, contexts, decisions,
                   {(r.task_id, r.seq): r.agent_calls for r in calls})


def header(start: str, input_json: str, hashes: Mapping[str, str]) -> str:
    """A journal's header: what the run is and what ran it."""
    return dumps({"format": JOURNAL_FORMAT, "start": start, "input": loads(input_json), "hashes": dict(hashes)})


# ----------------------------------------------------------------------------------------------------------
# Approval gates.
# ----------------------------------------------------------------------------------------------------------


@dataclass(slots=True)
class StageGate:
    """The decisions a stage with gated tools may use, and which it used (its record's ``approvals``)."""

    gates: Gates
    task_id: str
    node_id: str
    used: list[dict[str, Any]] = field(default_factory=list)


@dataclass(slots=True)
class Gates:
    """One run's approval decisions, by the gate they open, and the approvals it still waits for."""

    run_id: str
    decisions: dict[tuple[str, str, str, str | None, str], dict[str, Any]] = field(default_factory=dict)
    """``(task_id, node_id, target, tool_id, fingerprint)`` -> the decision."""
    asked: dict[tuple[str, str, str, str | None, str], float] = field(default_factory=dict)
    """When each approval was first asked for (a gate's ``timeout`` counts from there)."""
    pending: list[dict[str, Any]] = field(default_factory=list)

    @classmethod
    def of(cls, run_id: str, decisions: Iterable[Mapping[str, Any]],
           pending: Iterable[Mapping[str, Any]] = ()) -> Gates:
        """The gates of run ``run_id`` opened by ``decisions`` (journaled or recorded), ``pending`` asked before."""
        gates = cls(run_id)
        for decision in decisions:
            gates.decisions[_key(decision)] = dict(decision)
        for item in pending:
            gates.asked[_key(item)] = float(item["asked_at"])
        return gates

    @classmethod
    def of_trace(cls, trace: Trace) -> Gates:
        """The gates a recorded run's stages were decided by (what a replay decides by)."""
        return cls.of(trace.run_id, ({**d, "task_id": r.task_id} for r in trace.records for d in r.approvals))

    def decide(self, item: dict[str, Any], timeout: float | None = None) -> dict[str, Any] | None:
        """The decision for ``item`` (a pending approval's fields), or ``None`` after adding it to the pending."""
        key = _key(item)
        decision = self.decisions.get(key)
        if decision is None:
            asked = self.asked.setdefault(key, time.time())
            self.pending.append({**item, "run_id": self.run_id, "asked_at": asked, "timeout": timeout})
        return decision


def _key(item: Mapping[str, Any]) -> tuple[str, str, str, str | None, str]:
    return (str(item["task_id"]), str(item["node_id"]), str(item["target"]), item.get("tool_id"),
            str(item["fingerprint"]))


def node_item(task_id: str, node_id: str, input_json: str, prompt: str | None) -> dict[str, Any]:
    """A node gate's pending approval: the exact input and its fingerprint."""
    return {"task_id": task_id, "node_id": node_id, "target": "node", "tool_id": None,
            "fingerprint": fingerprint(input_json), "input": loads(input_json), "prompt": prompt}


def canonical_decision(decision: Mapping[str, Any]) -> dict[str, Any]:
    """A decision as a stage record keeps it (``by``, ``at`` and ``reason`` are kept but not in the digest)."""
    return {key: decision.get(key) for key in ("target", "node_id", "tool_id", "fingerprint", "decision", "reason",
                                                "by", "at")}


class _GatedTool:
    """A tool whose every call waits for an approval of its exact arguments (tools.yaml ``approval: required``)."""

    def __init__(self, tool: Tool, tool_id: str, book: dict[tuple[str, str, str], StageGate]) -> None:
        self._tool, self._id, self._book = tool, tool_id, book
        self.description = tool.description
        self.parameters = tool.parameters

    def __getattr__(self, name: str) -> Any:  # external, describe, finish_run...: the tool's own
        return getattr(self._tool, name)

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        scope = current_scope()
        stage = None if scope is None else self._book.get((scope.run_id, scope.task_id, scope.node_id))
        if stage is None:  # a call outside a run's stage (a test calling the tool): nobody could approve it
            return ToolResult.misuse(f"tool '{self._id}' needs an approval, which only a run's stage can wait for")
        arguments_json = dumps(dict(arguments))
        item = {"task_id": stage.task_id, "node_id": stage.node_id, "target": "tool", "tool_id": self._id,
                "fingerprint": fingerprint(arguments_json), "arguments": loads(arguments_json)}
        decision = stage.gates.decide(item)
        if decision is None:
            raise ApprovalPending
        stage.used.append(canonical_decision(decision))
        if decision["decision"] != "approved":
            reason = decision.get("reason") or "no reason given"
            raise ApprovalRejected(f"the call of tool '{self._id}' was rejected: {reason}",
                                   {"tool_id": self._id, "fingerprint": item["fingerprint"],
                                    "reason": decision.get("reason")})
        return self._tool.invoke(arguments)


class AnsweredFirst:
    """A provider that answers a resumed stage's calls from those its paused run made, then asks the real one.

    A recorded call answers only the very request it was made for (the same round, the same request JSON): a
    stage whose request changed (an edited prompt, with ``allow_changed``) asks the model.
    """

    def __init__(self, calls: Sequence[AgentCall], provider: Any) -> None:
        self._calls, self._provider = tuple(calls), provider

    def __getattr__(self, name: str) -> Any:  # describe, close...: the real provider's
        return getattr(self._provider, name)

    async def complete(self, request: LlmRequest) -> LlmReply:
        """The recorded reply to this request, else the real provider's."""
        import asyncio  # noqa: PLC0415 - with the first run, as every part of a run's loop

        round_number = sum(1 for message in request.messages if message.get("role") == "assistant")
        if round_number < len(self._calls):
            call = self._calls[round_number]
            if call.error is None and call.request_json == dumps(request.to_dict()):
                reply = loads(call.reply_json)
                return LlmReply(
                    content=reply["content"], model=reply["model"], usage=MappingProxyType(dict(call.usage)),
                    finish_reason=reply["finish_reason"], response_id=reply["response_id"],
                    tool_calls=tuple(ToolCall(c["id"], c["name"], c["arguments"]) for c in reply["tool_calls"]),
                )
        complete = self._provider.complete
        if inspect.iscoroutinefunction(complete):
            answer: LlmReply = await complete(request)
            return answer
        return await asyncio.get_running_loop().run_in_executor(None, complete, request)


def answered_first(plan: Plan, calls: Sequence[AgentCall]) -> Plan:
    """``plan`` with its agent answering from ``calls`` first (a stage resumed after a tool approval)."""
    if plan.agent is None or not calls:
        return plan
    return plan._replace(agent=replace(plan.agent, provider=AnsweredFirst(calls, plan.agent.provider)))


def gated_tool_ids(tool_specs: Sequence[Any]) -> frozenset[str]:
    """The tools.yaml entries with ``approval: required``."""
    return frozenset(spec.id for spec in tool_specs if spec.approval == "required")


def gate_tools(plans: Mapping[str, Plan], gated: frozenset[str],
               book: dict[tuple[str, str, str], StageGate]) -> dict[str, Plan]:
    """``plans`` with every gated tool wrapped so that its calls wait for approvals (recorded in ``book``)."""
    if not gated:
        return dict(plans)
    wrapped: dict[str, BoundTool] = {}
    out = {}
    for node_id, plan in plans.items():
        if not gated.intersection(plan.tools):
            out[node_id] = plan
            continue
        tools = {}
        for tool_id, bound in plan.tools.items():
            if tool_id in gated and tool_id not in wrapped:
                wrapped[tool_id] = replace(bound, tool=_GatedTool(bound.tool, tool_id, book))
            tools[tool_id] = wrapped[tool_id] if tool_id in gated else bound
        out[node_id] = plan._replace(tools=MappingProxyType(tools))
    return out


def choose_pending(
    journaled: Journaled, node: str, task_id: str | None, pinned: str | None, fingerprint_: str | None
) -> Mapping[str, Any]:
    """The pending approval of ``journaled`` a decision at ``node`` is for; ``ApprovalRefused`` saying why none is.

    ``pinned`` (the fingerprint of the input or arguments the decider approves) and ``fingerprint_`` must be
    the waiting approval's; ``task_id`` chooses among several tasks waiting at ``node``.
    """
    if journaled.status != "waiting" or not journaled.pending:
        raise ApprovalRefused(f"run '{journaled.run_id}' waits for no approval (it is {journaled.status})")
    at_node = [p for p in journaled.pending if p["node_id"] == node]
    if not at_node:
        nodes = ", ".join(sorted({str(p["node_id"]) for p in journaled.pending}))
        raise ApprovalRefused(f"run '{journaled.run_id}' waits for no approval at '{node}'; it waits at {nodes}")
    if task_id is not None:
        at_node = [p for p in at_node if p["task_id"] == task_id]
        if not at_node:
            raise ApprovalRefused(f"task '{task_id}' does not wait for an approval at '{node}'")
    for given, what in ((pinned, "the input given"), (fingerprint_, "the fingerprint given")):
        if given is not None:
            matching = [p for p in at_node if p["fingerprint"] == given]
            if not matching:
                waiting = ", ".join(str(p["fingerprint"]) for p in at_node)
                raise ApprovalRefused(f"{what} is not what waits at '{node}': fingerprint {given} was not asked "
                                      f"for (waiting: {waiting}); an approval names exactly what it approves")
            at_node = matching
    if len(at_node) > 1:
        listed = "; ".join(f"task {p['task_id']} fingerprint {p['fingerprint']}" for p in at_node)
        raise ApprovalRefused(f"{len(at_node)} approvals wait at '{node}' ({listed}): name one by task or fingerprint")
    return at_node[0]


def decision_for(
    item: Mapping[str, Any], *, approve: bool, reason: str | None, by: str | None, now: float | None = None
) -> dict[str, Any]:
    """The decision to journal for the pending ``item``: a rejection when asked for after the gate's timeout."""
    if not approve and not (reason and reason.strip()):
        raise InvalidInput("a rejection needs a reason (--reason TEXT)")
    at = time.time() if now is None else now
    timeout = item.get("timeout")
    decision, why = ("approved", reason) if approve else ("rejected", reason)
    if timeout is not None and at > float(item["asked_at"]) + float(timeout):
        decision, why = "rejected", f"the approval timed out ({float(timeout):g} s after it was asked for)"
    return {"task_id": item["task_id"], "node_id": item["node_id"], "target": item["target"],
            "tool_id": item.get("tool_id"), "fingerprint": item["fingerprint"], "decision": decision,
            "reason": why, "by": by, "at": at}
