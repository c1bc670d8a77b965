"""The acceptance run: the desk project and examples/hello on ``openai/...`` through the real SDK and a fake server.

Only agents.yaml's ``llm`` line and a provider_credentials.yaml entry change (``desk_kit.live_copy``); the key
is the session's canary, so everything these runs produce is checked for it.
"""

from __future__ import annotations

import json
from pathlib import Path

import desk_kit as desk
import pytest
from _fake_openai import FakeOpenAI
from agent_engine_core import Status
from agent_engine_core.testing import SecretLedger


def script_desk(server: FakeOpenAI) -> None:
    server.reply_chat('{"selected_edge": "billing"}', usage=(30, 4))
    server.reply_chat(None, tool_calls=[{"id": "call_a", "name": "add", "arguments": {"a": 12.5, "b": 7.5}},
                                        {"id": "call_s", "name": "shout", "arguments": {"text": "refund approved"}}],
                      usage=(50, 12))
    server.reply_chat('{"total": 20.0, "note": "REFUND APPROVED"}', usage=(80, 9))
    server.reply_chat('Summary:\n```json\n{"title": "Refund", "words": 2}\n```', usage=(40, 8))


def test_a_decision_a_tool_using_agent_and_a_schema_out_agent_run_through_the_openai_sdk(
        tmp_path: Path, server: FakeOpenAI, ledger: SecretLedger) -> None:
    project = desk.live_copy(tmp_path / "desk", "openai", server.base_url)
    assert set(desk.changed_files(desk.HERE, project)) == {"agents.yaml", "provider_credentials.yaml"}
    script_desk(server)
    desk.run_and_check_desk(project, ledger, "openai", ("call_a", "call_s"))
    bodies = [r.body for r in server.requests]
    assert len(bodies) == 4 and all(r.authorized for r in server.requests)
    triage_format = bodies[0]["response_format"]["json_schema"]["schema"]
    assert triage_format["properties"]["selected_edge"]["enum"] == ["billing", "other"]
    assert [t["function"]["name"] for t in bodies[1]["tools"]] == ["add", "shout"]
    assert [m["role"] for m in bodies[2]["messages"]] == ["system", "user", "assistant", "tool", "tool"]
    assert bodies[3]["response_format"]["json_schema"]["schema"]["required"] == ["title", "words"]
    assert all(b["temperature"] == 0 and "max_tool_rounds" not in b and "responses" not in b for b in bodies)


def test_a_rate_limited_call_is_retried_after_retry_after_and_recorded(tmp_path: Path, server: FakeOpenAI,
                                                                       ledger: SecretLedger) -> None:
    project = desk.live_copy(tmp_path / "desk", "openai", server.base_url)
    server.reply_error(429, "Rate limit reached", headers={"Retry-After": "0.05"})
    server.reply_error(503, "overloaded")
    script_desk(server)
    result = desk.run_once(project, ledger)
    assert result.status is Status.SUCCESS
    triage_call = next(r for r in result.trace if r.node_id == "triage").agent_calls[0]
    assert [(a["status"], a["retry_after_s"]) for a in triage_call.attempts] == [(429, 0.05), (503, None)]


def test_a_server_error_that_outlasts_the_retries_fails_the_node_with_the_providers_message(
        tmp_path: Path, server: FakeOpenAI, ledger: SecretLedger) -> None:
    project = desk.live_copy(tmp_path / "desk", "openai", server.base_url)
    for _ in range(3):
        server.reply_error(500, f"internal error; you sent {ledger.canary}")
    result = desk.run_once(project, ledger)
    assert result.error["kind"] == "agent" and result.error["node_id"] == "triage"
    assert "500" in result.error["message"] and "internal error" in result.error["message"]
    assert len(server.requests) == 3


@pytest.mark.parametrize("greeting", ["greet", "farewell"])
def test_examples_hello_switches_to_openai_with_one_llm_line_and_a_credential(
        tmp_path: Path, server: FakeOpenAI, ledger: SecretLedger, greeting: str) -> None:
    server.reply_chat(json.dumps({"selected_edge": greeting}))
    result = desk.run_hello_cli(tmp_path / "hello", "openai", server.base_url, "gpt-4o-mini", ledger)
    assert result["metadata"]["agents"]["router"]["provider"] == "openai"
    assert server.requests[0].body["model"] == "gpt-4o-mini"
    assert json.loads(server.requests[0].body["messages"][1]["content"])["node"] == "route"
