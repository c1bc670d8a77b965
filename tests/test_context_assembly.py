"""Context assembly: profiles, sources, budgets, what handlers and agents see, and what is recorded (SPEC §3.4)."""

from __future__ import annotations

import itertools
import json

import pytest
from _agent_kit import Kit, Script, reply
from hypothesis import given
from hypothesis import strategies as st

from agent_engine_core import Engine, ManifestError, hookimpl
from agent_engine_core._context import ContextAssembler, estimate_tokens
from agent_engine_core.manifests.models import ContextProfile, ContextSource
from agent_engine_core.memory import InMemoryBackend, Memory, MemorySetup
from agent_engine_core.testing import EventRecorder

SEEN: list = []


def look(payload, ctx):
    SEEN.append(ctx.context)
    return payload


def engine_with(profiles, *, context="ctx", extra_nodes=(), plugins=(), **memory):
    nodes = [{"id": "s", "role": "start"}, {"id": "a", "role": "linear", "handler": "h:a"},
             *extra_nodes, {"id": "look", "role": "linear", "handler": "h:look", "context": context},
             {"id": "x", "role": "exit"}]
    ids = [n["id"] for n in nodes]
    workflow = {"version": "1.0", "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]}
    manifests = {"workflow": workflow, "memory": {"context_profiles": profiles, **memory}}
    return Engine.from_dict(manifests, handlers={"h:a": lambda p, c: {"a": p}, "h:look": look},
                            plugins=[Kit(Script(lambda r: reply({"seen": json.loads(r.messages[0]["content"])}))),
                                     *plugins])


def profile(*sources, **fields):
    return {"id": "ctx", "sources": list(sources), **fields}


@pytest.fixture(autouse=True)
def _clear():
    SEEN.clear()


def test_a_handler_sees_its_tasks_earlier_outputs_frozen_and_the_history_records_them():
    recorder = EventRecorder()
    engine = engine_with([profile({"store": "task"})], plugins=(recorder,))
    result = engine.run("hi", run_id="r")
    (seen,) = SEEN
    assert [dict(e) for e in seen] == [{"store": "task", "tags": ("s",), "payload": "hi"},
                                       {"store": "task", "tags": ("a",), "payload": {"a": "hi"}}]
    with pytest.raises(TypeError):
        seen[1]["payload"]["a"] = "changed"  # frozen all the way down
    record = next(r for r in result.trace if r.node_id == "look")
    assert json.loads(record.context_json)[1] == {"store": "task", "tags": ["a"], "payload": {"a": "hi"}}
    assert '"context":[{"store":"task"' in result.trace.canonical().decode()
    (event,) = recorder.of_type("context_assembled")
    assert (event.node_id, event.profile, event.dropped) == ("look", "ctx", 0)
    assert event.tokens == sum(estimate_tokens(json.dumps(e, separators=(",", ":"))) for e in
                               json.loads(record.context_json))
    assert engine.run("hi", run_id="r").trace.digest == result.trace.digest  # earlier runs do not leak in


def test_project_sources_filter_by_tag_and_agents_receive_the_context():
    engine = engine_with([profile({"store": "project", "tags": ["style"]})])
    engine.memory.project.append({"tone": "dry"}, tags=["style"])
    engine.memory.project.append({"noise": True}, tags=["other"])
    engine.run("x")
    assert [e["payload"] for e in SEEN[0]] == [{"tone": "dry"}]


def test_an_agent_node_sends_its_context_in_the_user_message():
    nodes = [{"id": "s", "role": "start"}, {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "bot",
                                            "context": "global"}, {"id": "x", "role": "exit"}]
    workflow = {"version": "1.0", "nodes": nodes, "edges": [{"from": "s", "to": "ask"}, {"from": "ask", "to": "x"}]}
    script = Script(reply({"ok": True}))
    engine = Engine.from_dict({"workflow": workflow, "agents": {"agents": [{"id": "bot", "llm": "scriptable/m"}]}},
                              plugins=[Kit(script)])
    engine.memory.global_.append("remember the moon", tags=["fact"])
    engine.run({"q": 1})
    sent = json.loads(script.requests[0].messages[0]["content"])
    assert sent["context"] == [{"store": "task", "tags": ["s"], "payload": {"q": 1}},
                               {"store": "global", "tags": ["fact"], "payload": "remember the moon"}]


def test_children_see_their_ancestors_task_memory_but_not_their_siblings():
    nodes = [{"id": "s", "role": "start"}, {"id": "fan", "role": "split"}, {"id": "step", "role": "linear"},
             {"id": "look", "role": "linear", "handler": "h:look", "context": "ctx"},
             {"id": "join", "role": "merge"}, {"id": "x", "role": "exit"}]
    ids = [n["id"] for n in nodes]
    workflow = {"version": "1.0", "nodes": nodes, "edges": [{"from": a, "to": b} for a, b in itertools.pairwise(ids)]}
    engine = Engine.from_dict({"workflow": workflow, "memory": {"context_profiles": [profile({"store": "task"})]}},
                              handlers={"h:look": look})
    engine.run([1, 2])
    seen_by_child = sorted([e["payload"] for e in seen] for seen in SEEN)
    assert seen_by_child == [[(1, 2), (1, 2), 1], [(1, 2), (1, 2), 2]]  # root's s and fan, then its own step


def test_replay_sees_the_recorded_context_even_after_memory_changed():
    engine = engine_with([profile({"store": "project"})])
    engine.memory.project.append("before")
    result = engine.run("x")
    engine.memory.project.append("after")
    assert engine.replay(result.trace).trace.digest == result.trace.digest


def test_profiles_are_checked_at_load():
    with pytest.raises(ManifestError) as caught:
        engine_with([profile({"store": "task"}, token_counter="tiktoken"), {"id": "global",
                                                                           "sources": [{"store": "task"}]}],
                    context="ctxx")
    codes = {i.code for i in caught.value.issues}
    assert codes == {"memory.unknown_token_counter", "memory.duplicate_profile", "dag.unknown_context"}


def test_a_registered_token_counter_sets_the_budget():
    class Chars:
        @hookimpl
        def register_token_counters(self, register):
            register("chars", len)

    engine = engine_with([profile({"store": "project"}, token_counter="chars", max_tokens=60)], plugins=(Chars(),))
    for word in ("one", "two", "three"):
        engine.memory.project.append(word * 3)
    engine.run("x")
    texts = [json.dumps(dict(e), separators=(",", ":")) for e in SEEN[0]]
    assert sum(len(t) for t in texts) <= 60 and [e["payload"] for e in SEEN[0]] == ["threethreethree"]


# ---- the budget, as a property ---------------------------------------------------------------------------------

payloads = st.lists(st.text(max_size=40), max_size=12)


@given(payloads, st.integers(1, 200), st.sampled_from(["recency", "all", "hybrid"]), st.text(max_size=20))
def test_the_assembled_context_never_exceeds_its_budget(items, budget, policy, node_input):
    backend = InMemoryBackend(MemorySetup("project", "p", None))
    memory = Memory({"task": InMemoryBackend(MemorySetup("task", "p", None)), "project": backend,
                     "global": InMemoryBackend(MemorySetup("global", "p", None))}, "p")
    for text in items:
        memory.project.append(text)
    assembler = ContextAssembler(ContextProfile(id="c", sources=[ContextSource(store="project")],
                                                retrieval_policy=policy, max_tokens=budget), memory, estimate_tokens)
    assembled = assembler.assemble("t", 0, json.dumps(node_input), {})
    entries = json.loads(assembled.entries_json)
    costs = [estimate_tokens(json.dumps(e, separators=(",", ":"), ensure_ascii=False)) for e in entries]
    assert sum(costs) == assembled.tokens <= budget
    smallest = estimate_tokens('{"store":"project","tags":[],"payload":0}')
    assert len(entries) + assembled.dropped == min(len(items), budget // smallest)  # candidates: what could fit
    kept = [e["payload"] for e in entries]
    remaining = iter(items)
    assert all(any(text == item for item in remaining) for text in kept)  # a subsequence: chronological order
    if policy == "recency":
        assert kept == items[len(items) - len(kept):]  # the newest that fit, in order
