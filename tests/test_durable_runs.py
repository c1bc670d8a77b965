"""Durable runs in one process: approval gates on nodes and tools, decisions in the trace, resume refusals.

The kill-and-resume acceptance test is tests/test_durable_kill.py; the worked example's test is
tests/test_example_approval.py.
"""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any

import pytest
from _workflows import edges, engine, node, scripted_agents, workflow
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, ManifestError, Status, hookimpl
from agent_engine_core.errors import ApprovalRefused, InvalidInput
from agent_engine_core.journal import InMemoryRunJournal
from agent_engine_core.llm import LlmReply, LlmRequest, ToolCall
from agent_engine_core.runs import RunStoreSetup
from agent_engine_core.testing import FunctionTool, ToolPack, check_run_journal

DURABLE = {"runs": {"durability": "stage"}}


def _fingerprint(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def _fan_out(calls: list[str], *, gated_item: int = 7, on_failure: str = "fail_on_any"):
    """A 16-way split; each child decides whether it needs a person (only item ``gated_item`` does)."""

    def items(payload, ctx):
        return list(range(16))

    def decide(payload, ctx):
        return "ask" if payload == gated_item else "go"

    def free(payload, ctx):
        calls.append(f"free:{payload}")
        return {"item": payload}

    def gated(payload, ctx):
        calls.append(f"gated:{payload}")
        return {"item": payload, "approved": True}

    def total(payload, ctx):
        calls.append("total")
        return {"items": sorted(entry["output"]["item"] for entry in payload["merge_inputs"])}

    nodes = [node("s", "start"), node("fan", "split", handler=items), node("d", "decision", handler=decide),
             node("go", "linear", handler=free),
             node("ask", "linear", handler=gated, approval={"prompt": "Is this item fine?"}),
             node("m", "merge", handler=total, merge={"on_failure": on_failure}), node("x", "exit")]
    flow = [("s", "fan"), ("fan", "d"), ("d", "go", "go"), ("d", "ask", "ask"), ("go", "m"), ("ask", "m"),
            ("m", "x")]
    return engine(nodes, flow, memory=DURABLE)


def test_a_paused_child_of_a_16_way_fan_out_leaves_its_15_siblings_running_and_the_merge_waiting():
    calls: list[str] = []
    eng = _fan_out(calls)
    first = eng.run(None, run_id="r")
    assert first.status is Status.WAITING
    assert sorted(calls) == sorted(f"free:{i}" for i in range(16) if i != 7)  # 15 siblings ran, the merge did not
    assert {r.node_id for r in first.trace.records if r.task_id == "r"} == {"s", "fan"}
    (pending,) = first.metadata["approvals"]
    assert (pending["run_id"], pending["task_id"], pending["node_id"]) == ("r", "r/fan#7", "ask")
    assert pending["input"] == 7 and pending["fingerprint"] == _fingerprint(7)
    assert pending["prompt"] == "Is this item fine?"
    assert [w["run_id"] for w in eng.waiting()] == ["r"]

    done = eng.approve("r", "ask", approve=True, input=7, by="alice")
    assert done.status is Status.SUCCESS
    assert done.output == {"items": list(range(16))}
    assert sorted(calls) == sorted([*(f"free:{i}" for i in range(16) if i != 7), "gated:7", "total"])
    (record,) = [r for r in done.trace.records if r.node_id == "ask"]
    assert [(a["decision"], a["fingerprint"], a["by"]) for a in record.approvals] == [
        ("approved", _fingerprint(7), "alice")]
    assert eng.waiting() == []

    uninterrupted = _fan_out([], gated_item=99).run(None, run_id="r")  # nobody asked: no gate on the path
    assert uninterrupted.output == done.output


def test_an_approval_for_other_input_or_another_fingerprint_is_refused_and_changes_nothing():
    eng = _fan_out([])
    eng.run(None, run_id="r")
    with pytest.raises(ApprovalRefused, match="fingerprint"):
        eng.approve("r", "ask", approve=True, input=8)
    with pytest.raises(ApprovalRefused, match="fingerprint"):
        eng.approve("r", "ask", approve=True, fingerprint="0" * 64)
    with pytest.raises(ApprovalRefused, match="no approval at 'go'"):
        eng.approve("r", "go", approve=True)
    with pytest.raises(InvalidInput, match="needs a reason"):
        eng.approve("r", "ask", approve=False)
    assert eng.waiting()[0]["approvals"][0]["task_id"] == "r/fan#7"  # still waiting for the same thing
    assert eng.approve("r", "ask", approve=True, fingerprint=_fingerprint(7)).status is Status.SUCCESS


def test_a_rejection_fails_the_stage_with_kind_approval_and_the_decision_is_in_the_digest():
    calls: list[str] = []
    eng = _fan_out(calls, on_failure="ignore_failures")
    eng.run(None, run_id="r")
    rejected = eng.approve("r", "ask", approve=False, reason="looks wrong", by="bob")
    (record,) = [r for r in rejected.trace.records if r.node_id == "ask"]
    assert record.status is Status.FAILURE and record.error is not None
    assert record.error.kind == "approval" and "looks wrong" in record.error.message
    assert "gated:7" not in calls  # the rejected stage's handler never ran
    assert rejected.output == {"items": [i for i in range(16) if i != 7]}
    assert '"decision":"rejected"' in rejected.trace.canonical().decode()
    assert "bob" not in rejected.trace.canonical().decode()  # who decided is kept, outside the digest

    approved_by_someone_else = _fan_out([], on_failure="ignore_failures")
    approved_by_someone_else.run(None, run_id="r")
    other = approved_by_someone_else.approve("r", "ask", approve=False, reason="looks wrong", by="carol")
    assert other.trace.digest == rejected.trace.digest


def test_replaying_an_approved_run_decides_as_the_run_did_and_reproduces_its_digest():
    eng = _fan_out([])
    eng.run(None, run_id="r")
    done = eng.approve("r", "ask", approve=True)
    replayed = eng.replay("r")
    assert replayed.trace.digest == done.trace.digest
    assert eng.waiting() == []  # a replay journals nothing and waits for nobody


def _gated_tool_engine(tool: FunctionTool) -> Engine:
    agents = scripted_agents({"act": {"done": True}},
                             tool_calls={"act": [{"name": "pay", "arguments": {"amount": "{{ input.amount }}"}}]})
    flow, _ = workflow([node("s", "start"), node("act", "linear", kind="agent", agent_id="clerk", tools=["pay"]),
                        node("x", "exit")], [("s", "act"), ("act", "x")])
    return Engine.from_dict({"workflow": flow, "agents": agents, "memory": DURABLE,
                             "tools": {"tools": [{"id": "pay", "type": "kit.pay", "approval": "required"}]}},
                            plugins=[ToolPack({"kit.pay": tool})])


def _pay_tool() -> FunctionTool:
    return FunctionTool("Pay an amount.", {"type": "object", "properties": {"amount": {"type": "number"}}},
                        lambda arguments: {"paid": arguments["amount"]})


def test_an_agent_asking_for_a_gated_tool_waits_and_the_tool_runs_once_when_approved():
    tool = _pay_tool()
    with _gated_tool_engine(tool) as eng:
        _approve_the_payment(eng, tool)


def _approve_the_payment(eng: Engine, tool: FunctionTool) -> None:
    first = eng.run({"amount": 12}, run_id="t")
    assert first.status is Status.WAITING and tool.calls == []
    (pending,) = first.metadata["approvals"]
    assert (pending["target"], pending["tool_id"], pending["node_id"]) == ("tool", "pay", "act")
    assert pending["arguments"] == {"amount": 12} and pending["fingerprint"] == _fingerprint({"amount": 12})
    with pytest.raises(ApprovalRefused):
        eng.approve("t", "act", approve=True, input={"amount": 13})
    done = eng.approve("t", "act", approve=True, input={"amount": 12})
    assert done.status is Status.SUCCESS and tool.calls == [{"amount": 12}]
    (record,) = [r for r in done.trace.records if r.node_id == "act"]
    assert [c.tool_id for c in record.tool_calls] == ["pay"]
    assert [(a["target"], a["tool_id"], a["decision"]) for a in record.approvals] == [("tool", "pay", "approved")]


def test_a_rejected_tool_call_fails_the_stage_with_kind_approval_without_calling_the_tool():
    tool = _pay_tool()
    with _gated_tool_engine(tool) as eng:
        eng.run({"amount": 12}, run_id="t")
        failed = eng.approve("t", "act", approve=False, reason="too much")
    assert failed.status is Status.FAILURE and failed.error is not None
    assert failed.error["kind"] == "approval" and "too much" in failed.error["message"]
    assert tool.calls == []


def test_a_decision_after_the_gates_timeout_is_a_rejection():
    def handler(payload, ctx):
        return payload

    eng = engine([node("s", "start"), node("g", "linear", handler=handler, approval={"timeout": 0.01}),
                  node("x", "exit")], [("s", "g"), ("g", "x")], memory=DURABLE)
    assert eng.run(1, run_id="late").metadata["approvals"][0]["timeout"] == 0.01
    time.sleep(0.05)
    late = eng.approve("late", "g", approve=True)
    assert late.status is Status.FAILURE and late.error is not None
    assert late.error["kind"] == "approval" and "timed out" in late.error["message"]


def test_gates_without_a_journal_are_a_located_load_error():
    with pytest.raises(ManifestError) as raised:
        engine([node("s", "start"), node("g", "linear", approval={"required": True}), node("x", "exit")],
               [("s", "g"), ("g", "x")])
    assert "needs memory.yaml runs: {durability: stage}" in str(raised.value)
    assert raised.value.issues[0].code == "runs.approval_without_journal"


def test_a_gate_that_is_not_required_asks_nobody():
    eng = engine([node("s", "start"), node("g", "linear", approval={"required": False}), node("x", "exit")],
                 [("s", "g"), ("g", "x")])
    assert eng.run(5, run_id="free").output == 5


def test_resuming_a_run_without_a_journal_says_why():
    eng = engine([node("s", "start"), node("x", "exit")], edges(("s", "x")), memory=DURABLE)
    eng.run(1, run_id="over")
    with pytest.raises(InvalidInput, match="has finished"):
        eng.resume("over")
    with pytest.raises(InvalidInput, match="no journal"):
        eng.resume("never")
    plain = engine([node("s", "start"), node("x", "exit")], edges(("s", "x")))
    with pytest.raises(InvalidInput, match="durability: stage"):
        plain.resume("over")


def test_the_memory_journal_keeps_entries_in_order_and_status_per_run():
    journal = InMemoryRunJournal(RunStoreSetup("p", None, None, {}))
    journal.begin("a", '{"format":1}')
    journal.append("a", [("stage", "1"), ("stage", "2")])
    journal.set_status("a", "waiting", "[1]")
    kept = journal.read("a")
    assert kept is not None and kept.entries == (("stage", "1"), ("stage", "2"))
    assert [s.run_id for s in journal.runs(status="waiting")] == ["a"]
    journal.begin("a", '{"format":1}')  # starting again drops what was journaled
    again = journal.read("a")
    assert again is not None and again.entries == () and again.summary.status == "running"
    journal.finish("a")
    assert journal.read("a") is None and journal.runs() == []


def test_the_memory_journal_keeps_the_journal_contract(tmp_path):
    check_run_journal(InMemoryRunJournal, tmp_path, persistent=False)


def test_the_events_of_an_approved_run_rebuild_its_trace_with_the_decisions():
    from agent_engine_core.records import Trace
    from agent_engine_core.testing import EventRecorder

    def handler(payload, ctx):
        return payload

    recorder = EventRecorder()
    flow, registry = workflow([node("s", "start"), node("m", "linear", handler=handler, context="recent"),
                               node("g", "linear", handler=handler, approval={}), node("x", "exit")],
                              [("s", "m"), ("m", "g"), ("g", "x")])
    memory = {**DURABLE, "context_profiles": [{"id": "recent", "sources": [{"store": "task"}]}]}
    with Engine.from_dict({"workflow": flow, "memory": memory}, handlers=registry, plugins=[recorder]) as eng:
        eng.run(3, run_id="ev")
        recorder.events.clear()  # the resumed run's events are the whole run's: its journaled stages included
        done = eng.approve("ev", "g", approve=True, by="dana")
    rebuilt = Trace.from_events([event.to_dict() for event in recorder.events])
    assert rebuilt.digest == done.trace.digest
    assert rebuilt.records[1].context_json != "[]"  # the journaled stage's context, announced again
    assert rebuilt.records[2].approvals[0]["decision"] == "approved"


def test_a_handler_calling_a_gated_tool_waits_even_if_it_catches_every_exception():
    tool = _pay_tool()
    attempts: list[int] = []

    def pay(payload, ctx):
        attempts.append(payload["amount"])
        try:
            return ctx.tools.pay(amount=payload["amount"]).output
        except Exception:  # a careless handler: the pause is not an Exception, so it is not swallowed
            return {"swallowed": True}

    flow, registry = workflow([node("s", "start"), node("h", "linear", handler=pay, tools=["pay"]),
                               node("x", "exit")], [("s", "h"), ("h", "x")])
    with Engine.from_dict({"workflow": flow, "memory": DURABLE,
                           "tools": {"tools": [{"id": "pay", "type": "kit.pay", "approval": "required"}]}},
                          handlers=registry, plugins=[ToolPack({"kit.pay": tool})]) as eng:
        first = eng.run({"amount": 5}, run_id="h")
        assert first.status is Status.WAITING and tool.calls == []
        done = eng.approve("h", "h", approve=True, input={"amount": 5})
    assert done.output == {"paid": 5} and tool.calls == [{"amount": 5}]
    assert attempts == [5, 5]  # the paused stage was in flight: it runs again, whole


class _CountingModel:
    """A model that asks for ``pay`` once and then answers; it counts what it is asked."""

    def __init__(self) -> None:
        self.asked: list[int] = []

    @hookimpl
    def register_llm_providers(self, register):
        register("counting", lambda setup: self)

    def check(self, node_ids):
        return []

    def complete(self, request: LlmRequest) -> LlmReply:
        rounds = sum(1 for m in request.messages if m.get("role") == "assistant")
        self.asked.append(rounds)
        if rounds == 0:
            return LlmReply("", "m", tool_calls=(ToolCall("c1", "pay", {"amount": 9}),))
        return LlmReply('{"done": true}', "m")


def test_a_stage_resumed_after_a_tool_approval_does_not_ask_the_model_again():
    model, tool = _CountingModel(), _pay_tool()
    flow, _ = workflow([node("s", "start"), node("act", "linear", kind="agent", agent_id="clerk", tools=["pay"]),
                        node("x", "exit")], [("s", "act"), ("act", "x")])
    with Engine.from_dict({"workflow": flow, "memory": DURABLE,
                           "agents": {"agents": [{"id": "clerk", "llm": "counting/m", "prompt": "Pay."}]},
                           "tools": {"tools": [{"id": "pay", "type": "kit.pay", "approval": "required"}]}},
                          plugins=[ToolPack({"kit.pay": tool}), model]) as eng:
        assert eng.run({}, run_id="m").status is Status.WAITING
        assert model.asked == [0]
        done = eng.approve("m", "act", approve=True, input={"amount": 9})
    assert done.status is Status.SUCCESS and done.output == {"done": True}
    assert model.asked == [0, 1]  # the first call was answered from the journal, only the second went out
    (record,) = [r for r in done.trace.records if r.node_id == "act"]
    assert len(record.agent_calls) == 2 and tool.calls == [{"amount": 9}]


def test_queued_durable_runs_that_wait_are_counted_as_waiting():
    eng = _fan_out([])
    first, second = eng.enqueue(None, run_id="q1"), eng.enqueue(None, run_id="q2")
    results = eng.run_queued()
    assert [r.status for r in results] == [Status.WAITING, Status.WAITING]
    assert eng.queue_status().counts["waiting"] == 2
    assert sorted(w["run_id"] for w in eng.waiting()) == sorted([first, second])


def test_durable_runs_are_refused_on_an_executor_that_runs_them_elsewhere():
    with pytest.raises(ManifestError) as raised:
        engine([node("s", "start"), node("x", "exit")], edges(("s", "x")), memory=DURABLE,
               scheduler={"scheduler": {"executor": "dask"}})
    assert any(issue.code == "runs.journal_not_local" for issue in raised.value.issues)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=8)


def _reordered(value: Any) -> Any:
    """The same JSON value with every object's keys in reverse order."""
    if isinstance(value, dict):
        return {key: _reordered(value[key]) for key in reversed(list(value))}
    if isinstance(value, list):
        return [_reordered(item) for item in value]
    return value


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(asked=_JSON, offered=_JSON)
def test_an_approval_opens_the_gate_for_exactly_the_input_it_names(asked, offered):
    def handler(payload, ctx):
        return {"ran": payload}

    eng = engine([node("s", "start"), node("g", "linear", handler=handler, approval={}), node("x", "exit")],
                 [("s", "g"), ("g", "x")], memory=DURABLE)
    try:
        waiting = eng.run(asked, run_id="p")
        assert waiting.metadata["approvals"][0]["fingerprint"] == _fingerprint(asked)
        if _fingerprint(offered) != _fingerprint(asked):
            with pytest.raises(ApprovalRefused):
                eng.approve("p", "g", approve=True, input=offered)
        done = eng.approve("p", "g", approve=True, input=_reordered(asked))  # key order is not what is approved
        assert done.status is Status.SUCCESS and done.output == {"ran": asked}
    finally:
        eng.close()
