"""The mcp tool type against the real calc server over stdio: tools, one process per run, results, failures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _mcp_kit import alive, stage, starts, wait_for, write_project
from agent_engine_core import Engine, ManifestError, Status

pytestmark = pytest.mark.usefixtures("only_this_distribution")

EXAMPLE = "tools:\n  - {id: calc, type: mcp, config: {command: python, args: [calc_server.py], tools: [add]}}\n"
"""The issue's example entry, as written."""

def counted(counter: Path, **config: object) -> dict[str, object]:
    """The calc server's config, counting its starts in ``counter``."""
    return {"command": "python", "args": ["calc_server.py"], "env": {"CALC_STARTS": str(counter)}, **config}


def test_the_example_entry_loads_as_written_and_a_handler_calls_calc_add(tmp_path):
    project = write_project(tmp_path / "p", files={"tools.yaml": EXAMPLE})
    with Engine.from_config_dir(project, runs=False) as engine:
        described = engine.metadata["tools"]["calc"]
        result = engine.run({"start": 0}, run_id="example")
    assert result.status is Status.SUCCESS, result.error
    assert result.output == {"total": 45}
    assert dict(described["server"]) == {"name": "calc", "version": "1.0.0"}
    assert (described["transport"], described["pinned"], tuple(described["tools"]), described["type"]) == \
           ("stdio", False, ("add",), "mcp")
    assert described["pin"].startswith("sha256:") and described["protocol_version"]
    calls = stage(result, "work").tool_calls
    assert [c.tool_id for c in calls] == ["calc.add"] * 10
    assert {c.meta_json for c in calls} == {json.dumps({"server": "calc 1.0.0", "pin": described["pin"]},
                                                       separators=(",", ":"))}
    assert calls[3].to_dict()["output"] == {"sum": 6} and calls[3].to_dict()["arguments"] == {"a": 3, "b": 3}
    assert described["pin"] in result.trace.canonical().decode()  # the pin is part of what the digest covers
    assert result.metadata["tools"]["calc"]["pin"] == described["pin"]


SPLIT = {"version": "1.0", "nodes": [
    {"id": "s", "role": "start"}, {"id": "fan", "role": "split"},
    {"id": "work", "role": "linear", "handler": "nodes:add_ten_times", "tools": ["calc.add"]},
    {"id": "join", "role": "merge"}, {"id": "x", "role": "exit"}],
    "edges": [{"from": "s", "to": "fan"}, {"from": "fan", "to": "work"}, {"from": "work", "to": "join"},
              {"from": "join", "to": "x"}]}


def test_a_run_uses_one_server_process_for_all_its_calls_and_stops_it_when_it_ends(tmp_path):
    counter = tmp_path / "starts"
    project = write_project(tmp_path / "p", config=counted(counter, tools=["add"]), files={"workflow.yaml": SPLIT})
    with Engine.from_config_dir(project, runs=False) as engine:
        assert starts(counter) == 1  # the load lists the tools, then lets the server go
        result = engine.run([{"start": 0}, {"start": 100}, {"start": 1000}], run_id="first")
        assert result.status is Status.SUCCESS, result.error
        assert [r.output for r in result.trace if r.node_id == "work"] == [{"total": 45}, {"total": 145},
                                                                           {"total": 1045}]
        assert sum(len(r.tool_calls) for r in result.trace) == 30  # ten calls in each of three concurrent tasks
        assert starts(counter) == 2
        load_pid, run_pid = (int(line) for line in counter.read_text().split())
        assert wait_for(lambda: not alive(run_pid)) and not alive(load_pid)
        engine.run([{"start": 0}], run_id="second")
        assert starts(counter) == 3


def test_results_map_to_tool_results_and_misuse_is_refused_before_the_server(tmp_path):
    counter = tmp_path / "starts"
    project = write_project(tmp_path / "p", config=counted(counter, tools=["add", "echo", "divide"]),
                            handler="nodes:call", node_tools=("calc.add", "calc.echo", "calc.divide"))
    with Engine.from_config_dir(project, runs=False) as engine:
        ok = engine.run({"calls": [["calc.add", {"a": 1, "b": 2}], ["calc.echo", {"text": "hi"}]]})
        refused = engine.run({"calls": [["calc.divide", {"a": 1, "b": 0}]]})
        not_exposed = engine.run({"calls": [["calc.sub", {"a": 1, "b": 0}]]})
        bad_arguments = engine.run({"calls": [["calc.add", {"a": "1", "b": 2}]]})
    assert ok.output["results"] == [
        {"status": "success", "output": {"sum": 3}, "error": None},   # structured content
        {"status": "success", "output": "hi", "error": None},         # text
    ]
    assert refused.status is Status.FAILURE and refused.error["kind"] == "tool_misuse"
    assert refused.error["message"] == "MCP tool 'calc.divide' reported an error: cannot divide by zero"
    assert [str(c.status) for c in stage(refused, "work").tool_calls] == ["failure"]
    assert not_exposed.error["kind"] == "tool_misuse"
    assert not_exposed.error["message"] == ("node 'work' may not use tool 'calc.sub' (allowed: calc.add, calc.divide, "
                                            "calc.echo)")
    assert bad_arguments.error["kind"] == "tool_misuse" and "bad arguments for tool 'calc.add' at /a" in \
        bad_arguments.error["message"]
    # the load, then one process for each run that reached the server: not the two refused before it
    assert starts(counter) == 3


def test_a_session_outlives_a_timeout_is_reopened_once_after_a_crash_and_not_twice(tmp_path):
    counter = tmp_path / "starts"
    entry = {"id": "calc", "type": "mcp", "timeout_s": 1.0,
             "config": counted(counter, tools=["add", "slow", "crash"])}
    project = write_project(tmp_path / "p", entry=entry, handler="nodes:call",
                            node_tools=("calc.add", "calc.slow", "calc.crash"))
    add = ["calc.add", {"a": 1, "b": 1}]
    with Engine.from_config_dir(project, runs=False) as engine:
        result = engine.run({"calls": [["calc.slow", {"seconds": 5}], add, ["calc.crash", {}], add,
                                       ["calc.crash", {}], add]})
    assert result.status is Status.SUCCESS, result.error  # environment errors are the handler's to judge
    slow, after_slow, crash, reopened, crash_again, refused = result.output["results"]
    assert slow == {"status": "error", "output": None,
                    "error": "MCP tool 'calc.slow' gave no answer within 1 s (timeout_s)"}
    assert after_slow["output"] == {"sum": 2}  # the same session, still usable
    assert crash["status"] == "error" and crash["error"].startswith("lost MCP server 'calc' (python calc_server.py)")
    assert "crashing on purpose" in crash["error"] and crash["error"].endswith("the next call starts it again")
    assert reopened["output"] == {"sum": 2}
    assert crash_again["status"] == "error"
    assert refused == {"status": "error", "output": None, "error": "MCP server 'calc' went away again and is not "
                                                                   "started a third time in this run"}
    assert starts(counter) == 3  # the load, the run's session, its one reopening
    recorded = stage(result, "work").tool_calls
    assert [str(c.status) for c in recorded] == ["error", "success", "error", "success", "error", "error"]


def test_a_server_that_changes_its_tool_list_under_a_loaded_engine_fails_the_next_runs_calls(tmp_path):
    variant = tmp_path / "variant"
    project = write_project(tmp_path / "p", config={"command": "python", "args": ["calc_server.py"],
                                                    "env": {"CALC_VARIANT_FILE": str(variant)}},
                            handler="nodes:call")
    with Engine.from_config_dir(project, runs=False) as engine:
        before = engine.run({"calls": [["calc.add", {"a": 1, "b": 1}]]})
        variant.write_text("changed")
        after = engine.run({"calls": [["calc.add", {"a": 1, "b": 1}], ["calc.add", {"a": 2, "b": 2}]]})
    assert before.output["results"][0]["output"] == {"sum": 2}
    first, second = after.output["results"]
    assert first["status"] == "error" and first == second
    assert first["error"].startswith("MCP server 'calc' changed its tool list since the engine was loaded")
    assert "~ tool 'add' description: \"Add two numbers\" -> \"Adds a and b\"" in first["error"]
    assert "+ tool 'mul' (added)" in first["error"]


def test_a_server_that_will_not_start_is_a_located_load_error_quoting_its_stderr(tmp_path):
    project = write_project(tmp_path / "p", config={"command": "python", "args": ["missing_server.py"]})
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(project, runs=False)
    (issue,) = caught.value.issues
    assert (issue.code, Path(issue.file).name, issue.line) == ("tools.bad_config", "tools.yaml", 5)
    assert issue.message.startswith("tool 'calc': cannot list the tools of MCP server 'calc' (python "
                                    "missing_server.py): ")
    assert "its stderr ended with:" in issue.message and "missing_server.py" in issue.message


def test_an_allow_list_naming_a_tool_the_server_lacks_is_a_load_error_listing_what_it_has(tmp_path):
    project = write_project(tmp_path / "p", config={"command": "python", "args": ["calc_server.py"],
                                                    "tools": ["add", "modulo"]})
    with pytest.raises(ManifestError) as caught:
        Engine.from_config_dir(project, runs=False)
    (issue,) = caught.value.issues
    assert issue.message == ("tool 'calc': config.tools names 'modulo', which MCP server 'calc' does not list; it "
                             "lists: add, crash, divide, echo, slow, sub, whoami")


def test_a_policy_denial_fails_the_node_before_any_session_is_opened(tmp_path):
    counter = tmp_path / "starts"
    policy = {"policies": [{"name": "no_calc", "rules": [
        {"target": "tool", "target_id": "calc.add", "action": "deny", "reason": "not today"}]}]}
    project = write_project(tmp_path / "p", config=counted(counter, tools=["add"]), files={"policy.yaml": policy})
    with Engine.from_config_dir(project, runs=False) as engine:
        result = engine.run({"start": 0})
    assert result.error["kind"] == "policy" and "denies tool 'calc.add': not today" in result.error["message"]
    assert starts(counter) == 1


def test_every_tool_is_exposed_without_an_allow_list(tmp_path):
    """The calc server lists one tool per page: all seven are seen only by following every ``nextCursor``."""
    project = write_project(tmp_path / "p", config={"command": "python", "args": ["calc_server.py"]},
                            handler="nodes:call", node_tools=("calc.sub",))
    with Engine.from_config_dir(project, runs=False) as engine:
        assert tuple(engine.metadata["tools"]["calc"]["tools"]) == ("add", "crash", "divide", "echo", "slow", "sub",
                                                                    "whoami")
        result = engine.run({"calls": [["calc.sub", {"a": 5, "b": 3}]]})
    assert result.output["results"] == [{"status": "success", "output": "2", "error": None}]
