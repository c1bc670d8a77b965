"""Replay: a recorded run re-executes with agents answered from the recording, to the same digest (SPEC §6)."""

from __future__ import annotations

import json
import shutil
import types
import warnings
from pathlib import Path
from typing import Any

import pytest
from _agent_kit import TOOLS, Kit, Script, agent_engine, reply
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import (
    Engine,
    InvalidInput,
    ManifestError,
    ProviderError,
    ReplayMismatch,
    Status,
    Trace,
    hookimpl,
)
from agent_engine_core.cli import main

HELLO = Path(__file__).resolve().parents[1] / "examples" / "hello"


def tool_round_script():
    return Script(reply("", ("c1", "add", {"a": 2, "b": 3})), reply({"sum": 5, "shout": "OK"}))


def recorded(tmp_path, result):
    path = tmp_path / "recording.json"
    path.write_text(json.dumps(result.to_dict(with_trace=True)))
    return path


def test_a_replay_reproduces_the_digest_without_calling_the_provider(tmp_path):
    script = tool_round_script()
    engine, kit = agent_engine(script, tools=["add"])
    original = engine.run({"q": 1})
    assert original.status is Status.SUCCESS
    calls_before = len(script.requests)
    replayed = engine.replay(recorded(tmp_path, original))
    assert replayed.trace.digest == original.trace.digest
    assert replayed.output == original.output
    assert len(script.requests) == calls_before  # every answer came from the recording
    assert kit.tool_log == [("add", {"a": 2, "b": 3})] * 2  # handlers and tools run again


def test_a_recorded_provider_failure_replays_as_the_same_failure(tmp_path):
    engine, _ = agent_engine(Script(ProviderError("invalid model (400)", status=400)))
    original = engine.run({})
    assert original.error["kind"] == "agent"
    assert engine.replay(original.trace).trace.digest == original.trace.digest


@pytest.mark.parametrize(("edit", "node", "field"), [
    (lambda rec: rec["records"][1]["agent_calls"][1]["reply"].update(content='{"sum": 6, "shout": "OK"}'),
     "ask", "output"),
    (lambda rec: rec["records"][2].update(output={"sum": 7}), "x", "output"),
])
def test_a_modified_recording_fails_with_replay_mismatch_naming_the_first_differing_stage(tmp_path, edit, node,
                                                                                         field):
    engine, _ = agent_engine(tool_round_script(), tools=["add"])
    data = engine.run({"q": 1}).to_dict(with_trace=True)
    edit(data["trace"])
    with pytest.raises(ReplayMismatch) as caught:
        engine.replay(data)
    assert caught.value.node_id == node
    assert f"(node '{node}'): differs in {field}" in str(caught.value)


def test_fan_out_children_are_answered_by_their_own_recorded_calls(tmp_path):
    kit = Kit(Script(lambda request: reply({"n": json.loads(request.messages[0]["content"])["input"] * 10})))
    workflow = {"version": "1.0", "nodes": [
        {"id": "s", "role": "start"}, {"id": "fan", "role": "split"},
        {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "bot"},
        {"id": "join", "role": "merge"}, {"id": "x", "role": "exit"}],
        "edges": [{"from": "s", "to": "fan"}, {"from": "fan", "to": "ask"}, {"from": "ask", "to": "join"},
                  {"from": "join", "to": "x"}]}
    engine = Engine.from_dict({"workflow": workflow, "agents": {"agents": [{"id": "bot", "llm": "scriptable/m"}]}},
                              plugins=[kit])
    original = engine.run([1, 2, 3, 4])
    assert [i["output"] for i in original.output["merge_inputs"]] == [{"n": 10}, {"n": 20}, {"n": 30}, {"n": 40}]
    assert engine.replay(original.trace).trace.digest == original.trace.digest


def test_the_replay_provider_answers_an_agent_from_a_recording_named_in_agents_yaml(tmp_path):
    engine, _ = agent_engine(tool_round_script(), tools=["add"])
    path = recorded(tmp_path, engine.run({"q": 1}, run_id="first"))
    replaying, _ = agent_engine(Script(ProviderError("must not be called")), tools=["add"], provider="replay",
                                config={"recording": str(path)})
    result = replaying.run({"q": 1}, run_id="another-run")
    assert result.status is Status.SUCCESS and result.output == {"sum": 5, "shout": "OK"}


def test_cli_run_record_then_replay(tmp_path):
    project = shutil.copytree(HELLO, tmp_path / "hello")
    recording = tmp_path / "out" / "hello.json"
    runner = CliRunner()
    ran = runner.invoke(main, ["run", str(project), "--input", '{"request": "Hello!"}', "--record", str(recording)])
    assert ran.exit_code == 0, ran.output
    replayed = runner.invoke(main, ["replay", str(project), str(recording)])
    assert replayed.exit_code == 0, replayed.output
    digest = json.loads(recording.read_text())["trace_digest"]
    assert f"digest: {digest}" in replayed.output and "matches the recording" in replayed.output
    data = json.loads(recording.read_text())
    route = next(r for r in data["trace"]["records"] if r["agent_calls"])
    route["agent_calls"][0]["reply"]["content"] = '{"selected_edge": "farewell"}'
    recording.write_text(json.dumps(data))
    diverged = runner.invoke(main, ["replay", str(project), str(recording)])
    assert diverged.exit_code == 1
    assert f"replay diverged at stage {route['seq']} of task" in diverged.output
    assert "Traceback" not in diverged.output


def test_cli_replay_refuses_what_is_not_a_recording(tmp_path):
    junk = tmp_path / "junk.json"
    junk.write_text('{"status": "success"}')
    result = CliRunner().invoke(main, ["replay", str(HELLO), str(junk)])
    assert result.exit_code == 2
    assert "is not a recording: run_id: Field required" in result.output and "Traceback" not in result.output


# --------------------------------------------------------------------------------------------------------------
# A trace rebuilt from events (Trace.from_events), and trace files read by a plugin (read_trace_events)
# --------------------------------------------------------------------------------------------------------------


class EventLog:
    """An observer keeping every event as the dict a sink would write."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    @hookimpl
    def on_event(self, event: Any) -> None:
        self.events.append(event.to_dict())


FAN_OUTS = {"version": "1.0", "nodes": [
    {"id": "s", "role": "start"}, {"id": "fan", "role": "split"},
    {"id": "ask", "role": "linear", "kind": "agent", "agent_id": "bot", "tools": ["add"]},
    {"id": "join", "role": "merge"}, {"id": "unpack", "role": "linear", "handler": "test:unpack"},
    {"id": "again", "role": "split"}, {"id": "ask2", "role": "linear", "kind": "agent", "agent_id": "bot"},
    {"id": "join2", "role": "merge"}, {"id": "x", "role": "exit"}],
    "edges": [{"from": "s", "to": "fan"}, {"from": "fan", "to": "ask"}, {"from": "ask", "to": "join"},
              {"from": "join", "to": "unpack"}, {"from": "unpack", "to": "again"}, {"from": "again", "to": "ask2"},
              {"from": "ask2", "to": "join2"}, {"from": "join2", "to": "x"}]}
"""Two successive fan-outs of agents with a tool round: children, agent and tool calls, lineage order."""


def _answer(request: Any) -> Any:
    if any(m.get("role") == "tool" for m in request.messages):
        return reply({"done": True})
    if request.node_id == "ask":
        return reply("", ("c1", "add", {"a": 2, "b": 3}))
    return reply({"n": len(request.messages)})


@pytest.fixture(scope="module")
def fan_out_run() -> tuple[Any, list[dict[str, Any]]]:
    log = EventLog()
    engine = Engine.from_dict({"workflow": FAN_OUTS, "agents": {"agents": [{"id": "bot", "llm": "scriptable/m"}]},
                               "tools": TOOLS}, plugins=[Kit(Script(_answer)), log],
                              handlers={"test:unpack": lambda payload, ctx: [i["output"] for i in
                                                                            payload["merge_inputs"]]})
    with engine:
        result = engine.run([1, 2, 3], run_id="fan-run")
    assert result.status is Status.SUCCESS
    assert any(r.tool_calls for r in result.trace.records) and any(r.agent_calls for r in result.trace.records)
    return result, log.events


def test_the_events_of_a_run_rebuild_its_trace_and_digest(fan_out_run):
    result, events = fan_out_run
    rebuilt = Trace.from_events(events)
    assert rebuilt.canonical().decode().splitlines() == result.trace.canonical().decode().splitlines()
    assert rebuilt.digest == result.trace.digest
    assert [r.duration_s for r in rebuilt.records] == [r.duration_s for r in result.trace.records]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(rng=st.randoms(use_true_random=False))
def test_any_interleaving_of_the_tasks_events_rebuilds_the_same_trace(fan_out_run, rng):
    """Tasks' events interleave differently at every concurrency: only each task's own order, and the root's
    ``task_started`` first (it starts the run), are kept by this shuffle, which covers every real interleaving."""
    result, events = fan_out_run
    queues: dict[str, list[dict[str, Any]]] = {}
    for event in events[1:]:
        queues.setdefault(event["task_id"], []).append(event)
    interleaved = [events[0]]
    while queues:
        task = rng.choice(sorted(queues))
        interleaved.append(queues[task].pop(0))
        if not queues[task]:
            del queues[task]
    assert Trace.from_events(interleaved).digest == result.trace.digest


def test_events_that_are_not_one_whole_run_are_refused_saying_what_is_missing(fan_out_run):
    _, events = fan_out_run
    child = next(e for e in events if e["type"] == "subtask_created")
    with pytest.raises(ValueError, match=r"task fan-run jumps to seq \d+ after \d+ \(events were lost"):
        Trace.from_events([e for e in events if e is not child])
    with pytest.raises(ValueError, match=r"no start or no end for fan-run$"):
        Trace.from_events(events[:-1])
    with pytest.raises(ValueError, match=r"exactly one run are needed, got 2 \(fan-run, other\)"):
        Trace.from_events([*events, {**events[0], "run_id": "other"}])


def test_a_rerun_of_the_same_run_id_rebuilds_the_last_run(fan_out_run):
    result, events = fan_out_run
    earlier = [{**e, "output": "earlier"} if e["type"] == "task_finished" else e for e in events]
    assert Trace.from_events([*earlier, *events]).digest == result.trace.digest


EVENTS_READER = "events-reader"


def events_reader_plugin() -> types.ModuleType:
    """A plugin reading ``*.events`` files (a JSON list of events) and nothing else."""
    module = types.ModuleType("acme_events")

    @hookimpl
    def read_trace_events(path, run_id):
        if path.suffix != ".events":
            return None
        events = json.loads(path.read_text())
        if events and events[-1] == "torn":
            warnings.warn(f"{path}:{len(events)}: skipped a torn entry", UserWarning, stacklevel=2)
            events = events[:-1]
        return [e for e in events if run_id is None or e["run_id"] == run_id]

    module.read_trace_events = read_trace_events
    return module


def test_a_plugin_reads_its_trace_files_for_replay_through_its_entry_point(fake_entry_points, tmp_path):
    fake_entry_points((EVENTS_READER, events_reader_plugin(), "agent-engine-acme-events"))
    log = EventLog()
    engine = Engine.from_config_dir(HELLO, plugins=[log])
    original = engine.run({"request": "Hello there"}, run_id="r1")
    path = tmp_path / "r1.events"
    path.write_text(json.dumps(log.events))
    assert engine.replay(path).trace.digest == original.trace.digest
    done = CliRunner().invoke(main, ["replay", str(HELLO), str(path)])
    assert done.exit_code == 0, done.output
    assert f"digest: {original.trace.digest}" in done.output and "matches the recording of run r1" in done.output


def test_what_a_reader_skipped_is_a_warning_or_part_of_the_refusal(fake_entry_points, tmp_path):
    fake_entry_points((EVENTS_READER, events_reader_plugin(), "agent-engine-acme-events"))
    log = EventLog()
    engine = Engine.from_config_dir(HELLO, plugins=[log])
    original = engine.run({"request": "Hello there"}, run_id="r1")
    events = list(log.events)
    whole, cut = tmp_path / "whole.events", tmp_path / "cut.events"
    whole.write_text(json.dumps([*events, "torn"]))
    cut.write_text(json.dumps([*events[:-1], "torn"]))
    with pytest.warns(UserWarning, match=r"whole\.events:\d+: skipped a torn entry"):
        assert engine.replay(whole).trace.digest == original.trace.digest
    with pytest.raises(InvalidInput) as caught:
        engine.replay(cut)
    assert str(caught.value).startswith(f"cannot replay {cut}:{len(events)}: skipped a torn entry; "
                                        "without what was skipped: incomplete trace of run 'r1': no start or no end")


def test_with_no_installed_reader_a_trace_file_is_refused_naming_the_distribution(fake_entry_points, tmp_path):
    fake_entry_points((EVENTS_READER, events_reader_plugin(), "agent-engine-acme-events"))
    path = tmp_path / "r1.jsonl"  # a telemetry-jsonl file; the only reader installed reads *.events
    path.write_text('{"type": "task_started"}\n')
    done = CliRunner().invoke(main, ["replay", str(HELLO), str(path)])
    assert done.exit_code == 2
    first, hint = done.stderr.splitlines()
    assert first.startswith(f"error: cannot replay {path}: not a .json file, and no installed plugin reads it")
    assert "agent-engine-telemetry-jsonl: pip install -e agent_engine_plugins/telemetry-jsonl" in first
    assert hint.startswith("A recording is a run id in the project's run store")
    assert "Traceback" not in done.stderr


def test_the_replay_provider_refuses_a_recording_that_is_not_json_at_load(tmp_path):
    trace = tmp_path / "r1.jsonl"
    trace.write_text("")
    with pytest.raises(ManifestError, match=r"the replay provider reads a result saved as \.json, not .*r1\.jsonl"):
        agent_engine(Script(reply({})), provider="replay", config={"recording": str(trace)})
