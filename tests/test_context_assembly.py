"""Context assembly: profiles, sources, budgets, what handlers and agents see, and what is recorded (SPEC §3.4)."""

from __future__ import annotations

import itertools
import json
import math
from unittest import mock

import pytest
from _agent_kit import Kit, Script, reply
from hypothesis import given
from hypothesis import strategies as st

from agent_engine_core import Engine, ManifestError, hookimpl
from agent_engine_core.memory import InMemoryBackend
from agent_engine_core.testing import EventRecorder, check_context_retrieval

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


def estimated_tokens(text: str) -> int:
    """The built-in counter as docs/MEMORY.md states it: 4 characters per token, rounded up."""
    return math.ceil(len(text) / 4)


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
    assert event.tokens == sum(estimated_tokens(json.dumps(e, separators=(",", ":"))) for e in
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
    assert sent["context"] == [{"store": "global", "tags": ["fact"], "payload": "remember the moon"},
                               {"store": "task", "tags": ["s"], "payload": {"q": 1}}]  # oldest first


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


# ---- what the policies choose ---------------------------------------------------------------------------------


def test_recency_ranks_by_write_time_across_sources_not_by_source_order():
    engine = engine_with([profile({"store": "task"}, {"store": "project"}, max_tokens=60)])
    for n in range(3):  # written before the run: older than anything the run writes
        engine.memory.project.append(f"note {n}: written before the run, long enough")
    engine.run("hi")
    assert [(e["store"], e["payload"]) for e in SEEN[0]] == [
        ("project", "note 2: written before the run, long enough"), ("task", "hi"), ("task", {"a": "hi"})]


def test_hybrid_scores_every_item_not_only_the_newest_that_could_fit():
    engine = engine_with([profile({"store": "project"}, retrieval_policy="hybrid", max_tokens=60)])
    engine.memory.project.append({"fruit": "banana"})  # the oldest of 100
    for n in range(99):
        engine.memory.project.append({"fruit": "apple", "n": n})
    engine.run({"q": "banana"})
    payloads = [e["payload"] for e in SEEN[0]]
    assert payloads[0] == {"fruit": "banana"}  # first on the timeline, as the oldest
    assert payloads[1:] == [{"fruit": "apple", "n": n} for n in range(99 - len(payloads) + 1, 99)]


def test_hybrid_skips_a_relevant_entry_that_does_not_fit_and_takes_the_next():
    engine = engine_with([profile({"store": "project"}, retrieval_policy="hybrid", max_tokens=40)])
    engine.memory.project.append({"fruit": "banana", "note": "small"})
    engine.memory.project.append({"fruit": "banana", "note": "x" * 200})  # the newest match: too big
    engine.memory.project.append("unrelated")
    engine.run({"q": "banana"})
    assert [e["payload"] for e in SEEN[0]] == [{"fruit": "banana", "note": "small"}, "unrelated"]


def test_all_reads_a_store_beyond_what_the_budget_could_hold():
    engine = engine_with([profile({"store": "project"}, retrieval_policy="all", max_tokens=40)])
    for n in range(30):
        engine.memory.project.append(n)
    engine.run("x")
    assert [e["payload"] for e in SEEN[0]] == [0, 1, 29]  # the store's own oldest and newest (3 fit)


def test_items_written_at_the_same_clock_reading_keep_their_write_order(monkeypatch):
    from agent_engine_core import memory as memory_module

    frozen = memory_module.time.time() + 3_600  # later than any earlier write: every write reads the same time
    monkeypatch.setattr(memory_module.time, "time", lambda: frozen)
    engine = engine_with([profile({"store": "project"}, {"store": "task"}, max_tokens=25)])  # room for two
    engine.memory.project.append("before")
    engine.run("hi")
    assert [(e["store"], e["payload"]) for e in SEEN[0]] == [("task", "hi"), ("task", {"a": "hi"})]
    times = [i.created_at for i in engine.memory.task.query()]
    assert times == sorted(set(times)) and len(times) == 4  # s, a, look and x: strictly increasing


def test_context_policies_keep_their_rules_over_the_in_memory_backend():
    check_context_retrieval(InMemoryBackend)


@given(st.lists(st.floats(0, 2e9, allow_nan=False), min_size=1, max_size=30))
def test_write_time_strictly_increases_whatever_the_wall_clock_does(readings):
    from agent_engine_core import memory as memory_module

    clock = memory_module._WriteClock()
    with mock.patch.object(memory_module.time, "time", side_effect=readings):
        stamps = [clock() for _ in readings]
    assert all(a < b for a, b in itertools.pairwise(stamps))
    assert all(stamp >= reading for stamp, reading in zip(stamps, readings, strict=True))
