"""Replay: a recorded run re-executes with agents answered from the recording, to the same digest (SPEC §6)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from _agent_kit import Kit, Script, agent_engine, reply
from click.testing import CliRunner

from agent_engine_core import Engine, ProviderError, ReplayMismatch, Status
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
