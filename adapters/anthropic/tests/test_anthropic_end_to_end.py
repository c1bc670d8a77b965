"""The acceptance run: the desk project and examples/hello on ``anthropic/...`` through the real SDK and a fake.

Only agents.yaml's ``llm`` line and a provider_credentials.yaml entry change (``desk_kit.live_copy``); the key is
the session's canary, so everything these runs produce is checked for it. Structured answers come back as the
adapter's output tool (``final_answer``), tool calls as ``tool_use`` blocks.
"""

from __future__ import annotations

from pathlib import Path

import desk_kit as desk
import pytest
from _fake_anthropic import FakeAnthropic, text, tool_use
from agent_engine_core import Status
from agent_engine_core.testing import SecretLedger

from agent_engine_anthropic import OUTPUT_TOOL_NAME


def script_desk(server: FakeAnthropic) -> None:
    server.enqueue_message(tool_use(OUTPUT_TOOL_NAME, {"selected_edge": "billing"}), usage=(30, 4))
    server.enqueue_message(text("Let me compute."), tool_use("add", {"a": 12.5, "b": 7.5}, id="toolu_a"),
                           tool_use("shout", {"text": "refund approved"}, id="toolu_s"), usage=(50, 12))
    server.enqueue_message(tool_use(OUTPUT_TOOL_NAME, {"total": 20.0, "note": "REFUND APPROVED"}), usage=(80, 9))
    server.enqueue_message(tool_use(OUTPUT_TOOL_NAME, {"title": "Refund", "words": 2}), usage=(40, 8))


def test_a_decision_a_tool_using_agent_and_a_schema_out_agent_run_through_the_anthropic_sdk(
        tmp_path: Path, server: FakeAnthropic, ledger: SecretLedger) -> None:
    project = desk.live_copy(tmp_path / "desk", "anthropic", server.base_url)
    script_desk(server)
    desk.run_and_check_desk(project, ledger, "anthropic", ("toolu_a", "toolu_s"))
    assert server.problems == []
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 4
    assert bodies[0]["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL_NAME}
    assert bodies[0]["tools"][0]["input_schema"]["properties"]["selected_edge"]["enum"] == ["billing", "other"]
    assert [t["name"] for t in bodies[1]["tools"]] == ["add", "shout", OUTPUT_TOOL_NAME]
    assert bodies[1]["tool_choice"] == {"type": "any"}
    results = bodies[2]["messages"][2]["content"]
    assert [(b["type"], b["tool_use_id"]) for b in results] == [("tool_result", "toolu_a"), ("tool_result", "toolu_s")]
    assert all(b["system"] == "You run a help desk. Answer with JSON only." for b in bodies)


def test_an_overloaded_server_is_retried_and_every_attempt_recorded(tmp_path: Path, server: FakeAnthropic,
                                                                     ledger: SecretLedger) -> None:
    project = desk.live_copy(tmp_path / "desk", "anthropic", server.base_url)
    server.enqueue_error(429, "rate limited", headers={"retry-after": "0.05"})
    server.enqueue_error(529, "Overloaded")
    script_desk(server)
    result = desk.run_once(project, ledger)
    assert result.status is Status.SUCCESS
    triage_call = next(r for r in result.trace if r.node_id == "triage").agent_calls[0]
    assert [(a["status"], a["retry_after_s"]) for a in triage_call.attempts] == [(429, 0.05), (529, None)]


def test_a_rejected_request_fails_the_node_once_with_the_providers_message(tmp_path: Path, server: FakeAnthropic,
                                                                            ledger: SecretLedger) -> None:
    project = desk.live_copy(tmp_path / "desk", "anthropic", server.base_url)
    server.enqueue_error(400, f"model not found; your key {ledger.canary} is fine")
    result = desk.run_once(project, ledger)
    assert result.error["kind"] == "agent" and result.error["node_id"] == "triage"
    assert "400" in result.error["message"] and "model not found" in result.error["message"]
    assert len(server.requests) == 1  # a 400 is not retried


@pytest.mark.parametrize("greeting", ["greet", "farewell"])
def test_examples_hello_switches_to_anthropic_with_one_llm_line_and_a_credential(
        tmp_path: Path, server: FakeAnthropic, ledger: SecretLedger, greeting: str) -> None:
    server.enqueue_message(tool_use(OUTPUT_TOOL_NAME, {"selected_edge": greeting}))
    result = desk.run_hello_cli(tmp_path / "hello", "anthropic", server.base_url, "claude-test", ledger)
    assert result["metadata"]["agents"]["router"]["provider"] == "anthropic"
    assert server.requests[0].body["model"] == "claude-test"
