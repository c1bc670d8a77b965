"""The distribution as the engine finds it: the entry point, the tool types it registers, a light import."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

from _tools_std_kit import factories, handler_engine, plant
from agent_engine_core import Status

import agent_engine_tools_std
from agent_engine_tools_std import plugin

TYPES = ["fs.list_dir", "fs.read_file", "fs.write_file", "memory.write", "net.http_get", "proc.run_command"]


def test_the_distribution_registers_its_entry_point():
    (point,) = [p for p in importlib.metadata.entry_points(group="agent_engine") if p.name == "tools-std"]
    assert point.value == "agent_engine_tools_std.plugin"
    assert point.dist is not None and point.dist.name == "agent-engine-tools-std"


def test_the_plugin_registers_the_six_tool_types():
    assert sorted(factories()) == TYPES
    assert sorted(plugin.TOOL_TYPES) == TYPES


def test_the_public_api_is_pinned():
    assert agent_engine_tools_std.__all__ == [
        "HttpGetTool", "ListDirTool", "ReadFileTool", "RunCommandTool", "WriteFileTool", "__version__"]
    assert agent_engine_tools_std.ReadFileTool.__name__ == "ReadFileTool"


def test_discovering_the_plugin_imports_neither_httpx2_nor_the_tools():
    code = ("import sys, agent_engine_tools_std.plugin as p; p.register_tools(lambda *a: None); "
            "print(sorted(m for m in sys.modules if m.startswith(('httpx2', 'agent_engine_tools_std.'))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert done.stdout.strip() == "['agent_engine_tools_std._version', 'agent_engine_tools_std.plugin']"


def test_an_installed_engine_finds_the_tool_types_with_no_code(tmp_path):
    root = plant(tmp_path)
    engine = handler_engine(tmp_path, [{"id": "read", "type": "fs.read_file", "root": "root"}], ["read"])
    try:
        result = engine.run({"tool": "read", "args": {"path": "a/f.txt"}})
    finally:
        engine.close()
    assert result.status is Status.SUCCESS
    assert result.output["output"]["text"] == (root / "a" / "f.txt").read_text()
