"""The engine keeps every finished run in its run store; the inspector reads it; replay from a node (issue 13)."""

from __future__ import annotations

import gc
import itertools
import json
import threading
from pathlib import Path
from typing import Any

import pytest
from _agent_kit import Script, agent_engine, reply
from _workflows import branch_merge, node
from _workflows import engine as workflow_engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, InvalidInput, ManifestError, PluginError, Status, hookimpl
from agent_engine_core.inspector import first_difference
from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun, select_runs

MAP_REDUCE = Path(__file__).resolve().parents[1] / "examples" / "map_reduce"
KEEP_EVENTS = {"runs": {"backend": "memory"}}


def tool_round() -> Script:
    return Script(reply("", ("c1", "add", {"a": 2, "b": 3})), reply({"sum": 5, "shout": "OK"}))


def plain(value: Any) -> Any:
    return json.loads(json.dumps(value))


def test_the_inspector_shows_each_stage_as_the_run_recorded_it_with_its_tool_and_agent_calls():
    engine, _ = agent_engine(tool_round(), tools=["add"])
    result = engine.run({"q": 1})
    view = engine.inspector.run(result.task_id)
    stage = view.stage("ask")
    recorded = next(r for r in result.trace.records if r.node_id == "ask")
    assert stage == plain(recorded.to_dict())
    assert [(c["tool_id"], c["arguments"], c["output"]) for c in stage["tool_calls"]] == [
        ("add", {"a": 2, "b": 3}, recorded.tool_calls[0].result.output)]
    assert len(stage["agent_calls"]) == 2
    assert stage["agent_calls"][1]["reply"]["content"] == json.dumps({"sum": 5, "shout": "OK"})
    assert view.result == plain(result.to_dict())
    assert view.trace.canonical() == result.trace.canonical()
    assert [p["node_id"] for p in view.path()] == ["s", "ask", "x"]
    assert {a["kind"] for a in view.artifacts()} == {"node_output", "tool_result"}


def test_the_context_a_handler_saw_is_the_one_the_inspector_shows():
    seen: list[Any] = []

    def look(payload, ctx):
        seen.append([entry["payload"] for entry in ctx.context])
        return payload

    engine = workflow_engine(
        [node("s", "start", lambda p, ctx: {"said": p}), node("look", "linear", look, context="recent"),
         node("x", "exit")], [("s", "look"), ("look", "x")],
        memory={"context_profiles": [{"id": "recent", "sources": [{"store": "task"}]}]})
    result = engine.run("hello")
    context = engine.inspector.run(result.task_id).stage("look")["context"]
    assert [entry["payload"] for entry in context] == seen[0] == [{"said": "hello"}]


def test_events_are_kept_where_runs_names_a_store_and_not_by_the_default_one():
    kept, _ = agent_engine(tool_round(), tools=["add"], memory=KEEP_EVENTS)
    events = kept.inspector.run(kept.run({}).task_id).events()
    assert events is not None
    types = [e["type"] for e in events]
    assert types[0] == "task_started" and types[-1] == "task_finished"
    assert types.count("agent_call") == 2 and types.count("tool_invoked") == 1
    default, _ = agent_engine(tool_round(), tools=["add"])
    assert default.inspector.run(default.run({}).task_id).events() is None


def test_an_engine_built_with_runs_false_keeps_nothing_and_says_so():
    engine = Engine.from_dict(branch_merge("inc"), handlers={"inc": lambda p, ctx: p + 1}, runs=False)
    engine.run(1)
    with pytest.raises(InvalidInput, match="keeps no runs"):
        _ = engine.inspector


def test_runs_are_listed_newest_first_filtered_and_bounded_by_retention():
    engine = Engine.from_dict({**branch_merge("inc"), "memory": {"runs": {"retention": {"max_items": 3}}}},
                              handlers={"inc": lambda p, ctx: p + 1 if p >= 0 else ctx.fail("negative")})
    for index, payload in enumerate([1, -1, 2, -2, 3]):
        engine.run(payload, run_id=f"r{index}")
    listed = engine.inspector.runs()
    assert [s.run_id for s in listed] == ["r4", "r3", "r2"]
    assert [s.run_id for s in engine.inspector.runs(status="success")] == ["r4", "r2"]
    assert [s.run_id for s in engine.inspector.runs(limit=1)] == ["r4"]
    assert listed[0].nodes == 6 and all(s.task_id == s.run_id for s in listed)
    with pytest.raises(InvalidInput, match="no stored run 'r0'; the newest: r4, r3, r2"):
        engine.inspector.run("r0")
    assert engine.inspector.run("r4/fan#1").summary.run_id == "r4"  # a task id names its run


def test_a_run_the_store_drops_unread_is_freed_without_the_cycle_collector():
    """A dropped run must not wait for ``gc`` with its whole trace: at thousands of runs per second that is
    memory held and collections paid by every run (201 objects per 5 runs of this workflow, once)."""
    engine = Engine.from_dict({**branch_merge("inc"), "memory": {"runs": {"retention": {"max_items": 1}}}},
                              handlers={"inc": lambda p, ctx: p + 1})
    for payload in range(3):  # warm: imports, caches, the first run's one-off objects
        engine.run(payload)
    gc.collect()
    gc.disable()
    try:
        for payload in range(5):
            engine.run(payload)
        assert gc.collect() == 0
    finally:
        gc.enable()
    assert [s.status for s in engine.inspector.runs()] == ["success"]


def test_a_stage_of_several_tasks_needs_the_task_named():
    engine = Engine.from_dict(branch_merge("inc"), handlers={"inc": lambda p, ctx: p + 1})
    run_id = engine.run(1, run_id="r").task_id
    view = engine.inspector.run(run_id)
    assert view.stage("a", "r/fan#0")["output"] == 2
    with pytest.raises(InvalidInput, match="has no stage at node 'a' in task 'r'"):
        view.stage("a", "r")
    with pytest.raises(InvalidInput, match="has no task 'r/fan#9'; its tasks: r, r/fan#0, r/fan#1"):
        view.stage("a", "r/fan#9")


def test_an_unknown_run_store_is_a_located_load_error_naming_its_distribution():
    with pytest.raises(ManifestError) as caught:
        Engine.from_dict({**branch_merge("inc"), "memory": {"runs": {"backend": "sqlite3"}}},
                         handlers={"inc": lambda p, ctx: p}, plugins=[])
    issue = next(i for i in caught.value.issues if i.code == "runs.unknown_backend")
    assert "run store 'sqlite3', which is not installed" in issue.message
    assert issue.hint is not None and "sqlite" in issue.hint


def test_an_evaluation_verdict_is_kept_with_the_run_it_judged():
    engine = Engine.from_config_dir(MAP_REDUCE)
    verdicts = engine.evaluate()
    for verdict in verdicts:
        artifacts = engine.inspector.run(verdict.task_id).artifacts()
        evaluation = [a for a in artifacts if a["kind"] == "evaluation"]
        assert [a["payload"] for a in evaluation] == [plain(verdict.to_dict())]


def test_replaying_a_stored_run_checks_it_and_leaves_the_original_as_stored():
    engine, _ = agent_engine(tool_round(), tools=["add"])
    original = engine.run({"q": 1}, run_id="orig")
    before = engine._keeper.runs.store.get("orig").document_json
    assert engine.replay("orig").trace.digest == original.trace.digest
    assert engine._keeper.runs.store.get("orig").document_json == before


# ---- replay from a node ------------------------------------------------------------------------------------------

def chain_engine(length: int) -> Engine:
    """start -> n1 .. n<length> -> exit, each node appending its id to the list it is given."""
    nodes = [node("s", "start", lambda p, ctx: [p])]
    for index in range(1, length + 1):
        nodes.append(node(f"n{index}", "linear", lambda p, ctx: [*p, ctx.node_id]))
    nodes.append(node("x", "exit"))
    ids = [n["id"] for n in nodes]
    return workflow_engine(nodes, list(itertools.pairwise(ids)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(length=st.integers(1, 6), data=st.data(),
       edited=st.none() | st.lists(st.integers(-2**63, 2**63 - 1), max_size=3))
def test_replay_from_a_node_keeps_the_prefix_byte_for_byte_and_reruns_the_rest(length, data, edited):
    engine = chain_engine(length)
    original = engine.run("go", run_id="first")
    at = data.draw(st.integers(1, length))
    kwargs = {} if edited is None else {"input": edited}
    replayed = engine.replay_from("first", f"n{at}", run_id="second", **kwargs)
    old, new = original.trace.records, replayed.trace.records
    assert new[:at] == tuple(r._replace(task_id="second") for r in old[:at])  # every field, timings included
    assert new[at].node_id == f"n{at}"
    expected_input = old[at].input if edited is None else edited
    assert new[at].input == expected_input
    assert replayed.output == [*expected_input, *[f"n{i}" for i in range(at, length + 1)]]
    stored = engine.inspector.run("second")
    assert stored.origin == {"run_id": "first", "from_node": f"n{at}",
                             "input_changed": edited is not None and edited != old[at].input}
    assert stored.summary.origin == "first"
    difference = first_difference(original.trace, replayed.trace)
    if edited is None or edited == old[at].input:
        assert difference is None
    else:
        assert difference is not None and difference.index == at and "input" in difference.fields


def test_replay_from_a_node_after_nested_fan_outs_takes_every_child_from_the_recording():
    engine = Engine.from_config_dir(MAP_REDUCE)
    document = {"text": "One two three.\n\nFour five."}
    original = engine.run(document, run_id="mr")
    replayed = engine.replay_from("mr", "report", run_id="mr2")
    assert engine.inspector.diff("mr", "mr2") is None  # the merge's recorded inputs name the original's tasks
    assert first_difference(original.trace, replayed.trace, aliases=["mr"]) is None
    assert len(replayed.trace.tasks) == len(original.trace.tasks) > 1
    assert [r.task_id.replace("mr2", "mr", 1) for r in replayed.trace.records] == [
        r.task_id for r in original.trace.records]


def test_replay_from_refuses_a_merge_a_node_never_visited_and_the_same_run_id():
    engine = Engine.from_dict(branch_merge("inc"), handlers={"inc": lambda p, ctx: p + 1})
    engine.run(1, run_id="r")
    with pytest.raises(InvalidInput, match="'join' is a merge"):
        engine.replay_from("r", "join")
    with pytest.raises(InvalidInput, match="no stage of its root task at node 'a'; its root task ran: s, fan"):
        engine.replay_from("r", "a")
    with pytest.raises(InvalidInput, match="no node 'zz'"):
        engine.replay_from("r", "zz")
    with pytest.raises(InvalidInput, match="a new run"):
        engine.replay_from("r", "fan", run_id="r")


def test_offline_agents_after_the_node_answer_from_the_recording_and_online_ones_from_their_provider():
    script = tool_round()
    engine, _ = agent_engine(script, tools=["add"])
    engine.run({"q": 1}, run_id="r")
    asked = len(script.requests)
    offline = engine.replay_from("r", "ask", offline=True, run_id="r2")
    assert offline.status is Status.SUCCESS and len(script.requests) == asked
    assert offline.output == {"sum": 5, "shout": "OK"}
    engine.replay_from("r", "ask", run_id="r3")
    assert len(script.requests) > asked  # the configured provider answered


# ---- a persistent store: the writer thread ----------------------------------------------------------------------

class ListStore:
    """A run store kept in a list of written batches, standing in for a persistent one (written by the writer)."""

    def __init__(self, setup: RunStoreSetup, fail: bool = False) -> None:
        self.batches: list[list[str]] = []
        self.documents: dict[str, str] = {}
        self.summaries: dict[str, RunSummary] = {}
        self.fail = fail
        self.threads: set[str] = set()

    def write(self, runs):
        self.threads.add(threading.current_thread().name)
        if self.fail:
            raise OSError("disk full")
        self.batches.append([run.run_id for run in runs])
        for run in runs:
            self.documents[run.run_id] = run.document_json
            self.summaries[run.run_id] = run.summary

    def runs(self, *, status=None, since=None, limit=None):
        return select_runs(list(self.summaries.values()), status=status, since=since, limit=limit)

    def get(self, run_id):
        text = self.documents.get(run_id)
        return None if text is None else StoredRun(self.summaries[run_id], text)

    def close(self):
        self.closed = True


def store_plugin(fail: bool = False) -> tuple[object, list[ListStore]]:
    made: list[ListStore] = []

    class Plugin:
        @hookimpl
        def register_run_stores(self, register):
            def factory(setup):
                made.append(ListStore(setup, fail))
                return made[-1]
            register("listed", factory)

    return Plugin(), made


def test_a_persistent_store_is_written_by_the_writer_thread_and_has_every_run_once_the_engine_closes():
    plugin, made = store_plugin()
    engine = Engine.from_dict({**branch_merge("inc"), "memory": {"runs": {"backend": "listed"}}},
                              handlers={"inc": lambda p, ctx: p + 1}, plugins=[plugin])
    results = [engine.run(i) for i in range(40)]
    ids = [result.task_id for result in results]
    engine.close()
    store = made[0]
    assert store.threads == {"agent-engine-run-store"}
    assert sorted(run for batch in store.batches for run in batch) == sorted(ids)
    assert store.closed
    document = json.loads(store.documents[ids[7]])
    expected = plain(results[7].to_dict())
    del expected["trace_digest"]  # not stored: a reader computes it from the stored trace
    assert document["result"] == expected
    assert document["events"] is not None  # runs: names the store: events kept by default


def test_a_failing_store_write_is_raised_by_the_next_flush_with_the_runs_it_lost():
    plugin, _ = store_plugin(fail=True)
    engine = Engine.from_dict({**branch_merge("inc"), "memory": {"runs": {"backend": "listed"}}},
                              handlers={"inc": lambda p, ctx: p + 1}, plugins=[plugin])
    engine.run(1)
    engine.run(2)
    with pytest.raises(PluginError, match=r"run store 'listed' failed to write 2 run\(s\): OSError: disk full"):
        engine.flush_runs()
    engine.flush_runs()  # reported once
    engine.close()
