"""Pins and replays through the CLI: ``mcp lock`` and ``mcp list``, a changed tool list, a replay without the server."""

from __future__ import annotations

import json
import os
import stat
import sys
from pathlib import Path

import pytest
import yaml
from _mcp_kit import lock_document, write_project
from agent_engine_core import Engine
from agent_engine_core.cli import main
from click.testing import CliRunner

pytestmark = pytest.mark.usefixtures("only_this_distribution", "cli_logging_restored")


def cli(*args: str) -> tuple[int, str]:
    result = CliRunner().invoke(main, list(args))
    return result.exit_code, result.output


def config_of(project: Path) -> dict:
    return yaml.safe_load((project / "tools.yaml").read_text())["tools"][0]["config"]


def test_lock_pins_the_tool_list_in_tools_yaml_and_the_lock_file_and_a_second_lock_changes_nothing(tmp_path):
    project = write_project(tmp_path / "p")
    code, output = cli("mcp", "lock", str(project))
    assert code == 0, output
    pin = config_of(project)["pin"]
    assert output.splitlines()[0] == f"calc: {pin} (new; 7 tools, server calc 1.0.0)"
    lock = lock_document(project)
    assert lock["servers"]["calc"]["pin"] == pin
    assert [t["name"] for t in lock["servers"]["calc"]["listing"]["tools"]] == [
        "add", "crash", "divide", "echo", "slow", "sub", "whoami"]
    tools_text, lock_text = (project / "tools.yaml").read_text(), (project / "mcp.lock.json").read_text()
    code, output = cli("mcp", "lock", str(project))
    assert code == 0 and f"calc: {pin} (unchanged;" in output and "tools.yaml unchanged" in output
    assert (project / "tools.yaml").read_text() == tools_text and (project / "mcp.lock.json").read_text() == lock_text
    with Engine.from_config_dir(project, runs=False) as engine:
        assert engine.metadata["tools"]["calc"]["pinned"] is True
        assert engine.metadata["tools"]["calc"]["pin"] == pin


def test_list_shows_each_server_its_tools_and_whether_its_pin_holds(tmp_path):
    project = write_project(tmp_path / "p")
    code, output = cli("mcp", "list", str(project))
    assert code == 0, output
    lines = output.splitlines()
    assert lines[0] == "calc  stdio  python calc_server.py"
    assert lines[1].startswith("  server:  calc 1.0.0, protocol ")
    assert "(not pinned: 'agent-engine mcp lock DIR' pins it)" in lines[2]
    assert [line.split(maxsplit=1) for line in lines[4:6]] == [["calc.add", "Add two numbers"],
                                                                ["(crash)", "not exposed: not in config.tools"]]
    cli("mcp", "lock", str(project))
    raw = yaml.safe_load((project / "tools.yaml").read_text())
    raw["tools"][0]["config"]["env"] = {"CALC_VARIANT": "changed"}
    (project / "tools.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    code, output = cli("mcp", "list", str(project), "--json")
    assert code == 0, output
    (server,) = json.loads(output)["servers"]
    assert server["status"] == "changed" and server["config_pin"] != server["pin"]
    assert {t["name"]: t["exposed"] for t in server["tools"]}["mul"] is False


def test_a_changed_tool_list_fails_the_load_with_what_changed_until_it_is_locked_again(tmp_path):
    project = write_project(tmp_path / "p")
    cli("mcp", "lock", str(project))
    old_pin = config_of(project)["pin"]
    raw = yaml.safe_load((project / "tools.yaml").read_text())
    raw["tools"][0]["config"]["env"] = {"CALC_VARIANT": "changed", "CALC_VERSION": "1.1.0"}
    (project / "tools.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    code, output = cli("validate", str(project))
    assert code == 2
    assert ("the tool list of MCP server 'calc' (python calc_server.py) is not the pinned one: "
            f"config.pin is {old_pin}") in output
    assert "what changed since it was locked:\n" in output
    assert "  server version: \"1.0.0\" -> \"1.1.0\"\n" in output
    assert "  ~ tool 'add' description: \"Add two numbers\" -> \"Adds a and b\"\n" in output
    assert "  + tool 'mul' (added)\n" in output
    assert "run 'agent-engine mcp lock DIR' to pin the new list" in output
    code, output = cli("mcp", "lock", str(project))
    assert code == 0 and f"(was {old_pin};" in output
    assert cli("validate", str(project))[0] == 0


def executable_server(project: Path) -> None:
    """``./calc-server`` in the config dir: the server as a binary of its own, which a test can take away."""
    launcher = project / "calc-server"
    launcher.write_text(f"#!{sys.executable}\nimport runpy\nrunpy.run_path('calc_server.py', run_name='__main__')\n")
    launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR)


SCRIPTED = {"id": "clerk", "llm": "scripted/clerk", "prompt": "Add.", "config": {
    "responses": {"ask": {"done": True}}, "tool_calls": {"ask": [{"name": "calc.add", "arguments": {"a": 2, "b": 5}}]}}}


def test_a_replay_answers_the_mcp_calls_from_the_recording_with_the_server_gone(tmp_path):
    project = write_project(tmp_path / "p", config={"command": "./calc-server", "tools": ["add"]}, agent=SCRIPTED)
    executable_server(project)
    assert cli("mcp", "lock", str(project))[0] == 0
    recording = tmp_path / "run.json"
    code, output = cli("run", str(project), "--input", '{"start": 1}', "--record", str(recording), "--json")
    assert code == 0, output
    recorded = json.loads(output)
    os.remove(project / "calc-server")
    os.remove(project / "calc_server.py")
    code, output = cli("replay", str(project), str(recording), "--json")
    assert code == 0, output
    assert json.loads(output)["trace_digest"] == recorded["trace_digest"]
    assert json.loads(output)["metadata"]["tools"]["calc"]["described_from"] == "mcp.lock.json"
    code, output = cli("run", str(project), "--input", '{"start": 1}')
    assert code == 2 and "cannot list the tools of MCP server 'calc' (./calc-server)" in output


def test_a_replay_without_a_server_or_a_lock_says_how_to_make_one(tmp_path):
    project = write_project(tmp_path / "p", config={"command": "./calc-server", "tools": ["add"]})
    executable_server(project)
    recording = tmp_path / "run.json"
    assert cli("run", str(project), "--input", "{}", "--record", str(recording))[0] == 0
    os.remove(project / "calc-server")
    code, output = cli("replay", str(project), str(recording))
    assert code == 2
    assert "(a replay needs no server once 'mcp.lock.json' pins the entry: run 'agent-engine mcp lock')" in output


def test_mcp_commands_refuse_a_project_without_mcp_entries(tmp_path):
    project = write_project(tmp_path / "p", files={"tools.yaml": "tools: []\n"}, node_tools=())
    code, output = cli("mcp", "list", str(project))
    assert code == 2 and output.strip().endswith("tools.yaml has no entry of type mcp")
