"""A workflow whose deterministic node and whose agent node both call MCP tools: scripted, and the openai SDK.

The agent sees each MCP tool as a definition with the server's input schema, asks for ``calc.add`` (on the wire
``calc_add``: the openai adapter maps names the API refuses), the engine calls the server in the run's session,
and the model gets the structured result back.
"""

from __future__ import annotations

import json
from pathlib import Path

from _fake_openai import FakeOpenAI
from _mcp_kit import PLUGIN, stage, write_project
from agent_engine_core import Engine, Status
from agent_engine_core.testing import CANARY_ENV, SecretLedger

NUMBERS = {"additionalProperties": False, "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
           "required": ["a", "b"], "type": "object"}
"""The calc server's input schema of add, as a model is sent it (keys sorted, as the pin reads them)."""


def check_run(result) -> None:
    assert result.status is Status.SUCCESS, result.error
    assert stage(result, "work").output == {"total": 45}
    (asked,) = stage(result, "ask").tool_calls
    assert (asked.tool_id, asked.to_dict()["arguments"], asked.to_dict()["output"]) == \
           ("calc.add", {"a": 2, "b": 5}, {"sum": 7})
    assert asked.to_dict()["meta"]["server"] == "calc 1.0.0"


def test_a_scripted_agent_and_a_handler_both_call_the_mcp_tool(tmp_path, fake_entry_points):
    fake_entry_points(PLUGIN)
    agent = {"id": "clerk", "llm": "scripted/clerk", "prompt": "Add.", "config": {
        "responses": {"ask": {"done": True}},
        "tool_calls": {"ask": [{"name": "calc.add", "arguments": {"a": 2, "b": 5}}]}}}
    project = write_project(tmp_path / "p", agent=agent)
    with Engine.from_config_dir(project, runs=False) as engine:
        result = engine.run({"start": 0})
    check_run(result)
    first_request = json.loads(stage(result, "ask").agent_calls[0].request_json)
    assert first_request["tools"] == [{"name": "calc.add", "description": "Add two numbers", "parameters": NUMBERS}]


def test_an_openai_agent_calls_the_mcp_tool_through_the_sdk_and_the_fake_server(
        tmp_path: Path, fake_entry_points, ledger: SecretLedger) -> None:
    fake_entry_points(PLUGIN, ("openai", "agent_engine_openai.plugin", "agent-engine-openai"))
    credentials = ("provider_credentials:\n  - id: openai_test\n    provider: openai\n"
                   f"    auth: {{type: api_key, source: env, env_var: {CANARY_ENV}}}\n"
                   '    config: {base_url: "%s"}\n')
    agent = {"id": "clerk", "llm": "openai/gpt-test", "prompt": "Add."}
    with FakeOpenAI(expected_api_key=ledger.canary) as server:
        server.reply_chat(None, tool_calls=[{"id": "call_1", "name": "calc_add", "arguments": {"a": 2, "b": 5}}])
        server.reply_chat('{"done": true}')
        project = write_project(tmp_path / "p", agent=agent,
                                files={"provider_credentials.yaml": credentials % server.base_url})
        with Engine.from_config_dir(project, runs=False) as engine:
            result = engine.run({"start": 0})
        ledger.add(result.to_dict(with_trace=True))
        first, second = (r.body for r in server.requests)
    if server.accepted_key:
        ledger.servers_that_saw_it.add("openai")
    check_run(result)
    assert first["tools"] == [{"type": "function", "function": {
        "name": "calc_add", "description": "Add two numbers", "parameters": NUMBERS}}]
    tool_message = second["messages"][-1]
    assert tool_message["role"] == "tool" and tool_message["tool_call_id"] == "call_1"
    assert json.loads(tool_message["content"]) == {"status": "success", "output": {"sum": 7}, "error": None}
