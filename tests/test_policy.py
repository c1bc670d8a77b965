"""policy.yaml: rules decide before a stage runs, record rule and reason, and never change routing (SPEC §3.5)."""

from __future__ import annotations

import itertools

import pytest
from _agent_kit import TOOLS, Kit, Script, reply

from agent_engine_core import Engine, ManifestError, PolicyDenied, Status, TaskFailed
from agent_engine_core.testing import EventRecorder

CALLS: list[str] = []


def work(payload, ctx):
    CALLS.append(ctx.node_id)
    return ctx.tools.add(a=1, b=2).output if "add" in ctx.tools else payload


def engine_with(*rules, continue_on_failure=False, recorder=None):
    nodes = [{"id": "s", "role": "start"},
             {"id": "calc", "role": "linear", "handler": "h:work", "tools": ["add"], "context": "global",
              "continue_on_failure": continue_on_failure},
             {"id": "plain", "role": "linear", "handler": "h:work"}, {"id": "x", "role": "exit"}]
    ids = [n["id"] for n in nodes]
    workflow = {"version": "1.0", "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]}
    policy = {"policies": [{"name": "house", "rules": list(rules)}]}
    return Engine.from_dict({"workflow": workflow, "tools": TOOLS, "policy": policy}, handlers={"h:work": work},
                            plugins=[Kit(Script(reply({}))), *([recorder] if recorder else [])])


@pytest.fixture(autouse=True)
def _clear():
    CALLS.clear()


@pytest.mark.parametrize(("rule", "target", "target_id"), [
    ({"target": "tool", "target_id": "add", "action": "deny", "reason": "no maths"}, "tool", "add"),
    ({"target": "context", "target_id": "global", "action": "deny", "nodes": ["calc"]}, "context", "global"),
    ({"target": "node", "target_id": "calc", "action": "deny", "reason": "frozen"}, "node", "calc"),
])
def test_a_denied_node_fails_before_anything_runs_with_the_rule_recorded(rule, target, target_id):
    recorder = EventRecorder()
    result = engine_with(rule, recorder=recorder).run(0)
    assert result.status is Status.FAILURE
    assert CALLS == []  # the handler never ran
    error = result.error
    assert (error["kind"], error["node_id"]) == ("policy", "calc")
    assert error["details"] == {"policy": "house", "rule": 0, "target": target, "target_id": target_id,
                                "reason": rule.get("reason")}
    (denied,) = recorder.of_type("policy_denied")
    assert (denied.node_id, denied.policy, denied.target, denied.target_id) == ("calc", "house", target, target_id)
    assert recorder.of_type("context_assembled") == []


def test_a_denial_never_changes_routing():
    result = engine_with({"target": "tool", "target_id": "add", "action": "deny"}, continue_on_failure=True).run(5)
    assert result.status is Status.PARTIAL
    assert [r.node_id for r in result.trace] == ["s", "calc", "plain", "x"]  # the route the DAG gives
    assert CALLS == ["plain"] and result.output == 5


@pytest.mark.parametrize("continue_on_failure", [False, True])
def test_raise_on_failure_raises_policy_denied_naming_the_rule_of_the_event(continue_on_failure):
    recorder = EventRecorder()
    engine = engine_with({"target": "tool", "target_id": "add", "action": "deny", "reason": "no maths"},
                         continue_on_failure=continue_on_failure, recorder=recorder)
    with pytest.raises(PolicyDenied, match="at node 'calc': policy 'house' denies tool 'add': no maths") as caught:
        engine.run(0, raise_on_failure=True)
    denied = caught.value
    assert isinstance(denied, TaskFailed)  # code that catches TaskFailed keeps catching a denial
    assert denied.result.status is (Status.PARTIAL if continue_on_failure else Status.FAILURE)
    (event,) = recorder.of_type("policy_denied")
    fields = ("node_id", "policy", "rule", "target", "target_id", "reason")
    assert [getattr(denied, f) for f in fields] == [getattr(event, f) for f in fields]
    assert (denied.node_id, denied.rule, denied.reason) == ("calc", 0, "no maths")


def test_raise_on_failure_raises_plain_task_failed_when_no_policy_failed_the_task():
    def broken(payload, ctx):
        raise ValueError("not a policy")

    workflow = {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                            {"id": "b", "role": "linear", "handler": "h:broken"},
                                            {"id": "x", "role": "exit"}],
                "edges": [{"from": "s", "to": "b"}, {"from": "b", "to": "x"}]}
    policy = {"policies": [{"name": "house", "rules": [{"target": "node", "target_id": "x", "action": "allow"}]}]}
    engine = Engine.from_dict({"workflow": workflow, "policy": policy}, handlers={"h:broken": broken})
    with pytest.raises(TaskFailed) as caught:
        engine.run(0, raise_on_failure=True)
    assert type(caught.value) is TaskFailed
    assert caught.value.result.error["kind"] == "handler"


def test_a_memory_layer_denial_raises_policy_denied_too():
    workflow = {"version": "1.0", "nodes": [{"id": "s", "role": "start"},
                                            {"id": "note", "role": "linear", "handler": "h:note"},
                                            {"id": "x", "role": "exit"}],
                "edges": [{"from": "s", "to": "note"}, {"from": "note", "to": "x"}]}
    rule = {"target": "memory", "target_id": "project", "action": "deny", "nodes": ["note"]}
    engine = Engine.from_dict({"workflow": workflow, "policy": {"policies": [{"name": "mem", "rules": [rule]}]}},
                              handlers={"h:note": lambda payload, ctx: ctx.memory.project.append(payload)})
    with pytest.raises(PolicyDenied) as caught:
        engine.run(1, raise_on_failure=True)
    assert (caught.value.node_id, caught.value.policy, caught.value.target_id) == ("note", "mem", "project")


def test_the_first_matching_rule_decides_so_an_allow_can_carve_an_exception():
    allowed = engine_with({"target": "tool", "target_id": "add", "action": "allow", "nodes": ["calc"]},
                          {"target": "tool", "target_id": "add", "action": "deny"})
    assert allowed.run(0).output == 3
    denied = engine_with({"target": "tool", "target_id": "add", "action": "deny", "nodes": ["plain"]})
    assert denied.run(0).status is Status.SUCCESS  # the rule is for another node


def test_rules_naming_what_does_not_exist_are_load_errors():
    with pytest.raises(ManifestError) as caught:
        engine_with({"target": "tool", "target_id": "ad", "action": "deny"},
                    {"target": "node", "target_id": "calc", "action": "deny", "nodes": ["calk"]})
    hints = sorted((i.code, i.hint) for i in caught.value.issues)
    assert hints == [("policy.unknown_reference", "did you mean 'add'?"),
                     ("policy.unknown_reference", "did you mean 'calc'?")]


def test_handlers_write_memory_through_ctx_memory_unless_the_policy_denies_the_layer():
    nodes = [{"id": "s", "role": "start"}, {"id": "note", "role": "linear", "handler": "h:note"},
             {"id": "x", "role": "exit"}]
    workflow = {"version": "1.0", "nodes": nodes, "edges": [{"from": "s", "to": "note"}, {"from": "note", "to": "x"}]}

    def note(payload, ctx):
        ctx.memory.project.append({"seen": payload}, tags=["notes"])
        ctx.memory.global_.append("shared")
        return len(ctx.memory.project.query(tags=["notes"]))

    def build(rules):
        manifests = {"workflow": workflow, **({"policy": {"policies": [{"name": "mem", "rules": rules}]}}
                                              if rules else {})}
        return Engine.from_dict(manifests, handlers={"h:note": note})

    engine = build([])
    assert engine.run(1).output == 1
    (item,) = engine.memory.project.query()
    assert (item.payload, item.tags) == ({"seen": 1}, ("note", "notes"))
    denied = build([{"target": "memory", "target_id": "global", "action": "deny", "reason": "local only"}])
    result = denied.run(1)
    assert (result.error["kind"], result.error["message"]) == ("policy", "policy 'mem' denies memory 'global': "
                                                                          "local only")
    assert denied.memory.global_.query() == []
