"""Agent calls: tool rounds, retries and timeouts done by the engine, sync providers, JSON extraction (SPEC §3.2)."""

from __future__ import annotations

import asyncio
import json

import pytest
from _agent_kit import Script, agent_engine, reply
from hypothesis import given
from hypothesis import strategies as st

from agent_engine_core import ManifestError, ProviderError, Status
from agent_engine_core._run.agent import extract_json
from agent_engine_core.errors import StageFailed
from agent_engine_core.testing import EventRecorder

ANSWER = {"type": "object", "properties": {"sum": {"type": "number"}, "shout": {"type": "string"}},
          "required": ["sum", "shout"]}


def ask(result):
    return next(r for r in result.trace if r.node_id == "ask")


# ---- tool rounds ----------------------------------------------------------------------------------------------


@pytest.mark.parametrize("provider", ["scriptable", "scriptable_sync"])
def test_the_engine_runs_the_tools_a_model_asks_for_and_returns_their_results(provider):
    script = Script(
        reply("", ("c1", "add", {"a": 2, "b": 3}), ("c2", "upper", {"text": "moon"})),
        lambda request: reply({"sum": json.loads(request.messages[2]["content"])["output"],
                               "shout": json.loads(request.messages[3]["content"])["output"]}),
    )
    recorder = EventRecorder()
    engine, kit = agent_engine(script, tools=["add", "upper"], schema_out=ANSWER, provider=provider,
                               plugins=(recorder,))
    result = engine.run({"q": "go"})
    assert result.status is Status.SUCCESS, result.error
    assert result.output == {"sum": 5, "shout": "MOON"}
    assert kit.tool_log == [("add", {"a": 2, "b": 3}), ("upper", {"text": "moon"})]
    first, second = script.requests
    assert [t["name"] for t in first.tools] == ["add", "upper"]  # the node's list, in its order
    assert first.tools[0]["parameters"]["required"] == ["a", "b"]
    assert second.messages[1] == {"role": "assistant", "content": "", "tool_calls": [
        {"id": "c1", "name": "add", "arguments": {"a": 2, "b": 3}},
        {"id": "c2", "name": "upper", "arguments": {"text": "moon"}}]}
    assert second.messages[2]["role"] == "tool"
    assert second.messages[2]["tool_call_id"] == "c1"
    record = ask(result)
    assert [(c.tool_id, c.call_id, str(c.status), c.result.output) for c in record.tool_calls] == [
        ("add", "c1", "success", 5), ("upper", "c2", "success", "MOON")]
    assert len(record.agent_calls) == 2  # one call per round, each with the exact request sent
    assert json.loads(record.agent_calls[1].request_json)["messages"] == [dict(m) for m in second.messages]
    invoked = recorder.of_type("tool_invoked")
    assert [(e.tool_id, e.call_id, e.status) for e in invoked] == [("add", "c1", "success"), ("upper", "c2", "success")]
    assert result.usage["agent_calls"] == 2


def test_an_agent_asking_for_a_tool_its_node_does_not_list_fails_the_node_as_misuse():
    script = Script(reply("", ("c1", "upper", {"text": "x"})), reply({"sum": 1, "shout": "X"}))
    engine, kit = agent_engine(script, tools=["add"])
    result = engine.run({})
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "tool_misuse"
    assert "may not use" in result.error["message"] and "upper" in result.error["message"]
    assert kit.tool_log == []  # nothing ran
    (call,) = ask(result).tool_calls
    assert (call.tool_id, str(call.status)) == ("upper", "failure")
    assert len(script.requests) == 1  # the model is not asked again


@pytest.mark.parametrize("arguments", [{"a": 1}, {"a": 1, "b": "2"}, {"a": 1, "b": 2, "c": 3}])
def test_bad_tool_arguments_from_a_model_are_misuse_and_never_reach_the_tool(arguments):
    engine, kit = agent_engine(Script(reply("", ("c1", "add", arguments))), tools=["add"])
    result = engine.run({})
    assert result.error["kind"] == "tool_misuse"
    assert "bad arguments for tool 'add'" in result.error["message"]
    assert kit.tool_log == []


def test_a_tool_refusing_a_call_fails_the_node_but_an_environment_error_goes_back_to_the_model():
    refused, _ = agent_engine(Script(reply("", ("c1", "refuse", {}))), tools=["refuse"])
    assert refused.run({}).error["message"] == "path outside root"
    script = Script(reply("", ("c1", "disk", {})), reply({"ok": True}))
    engine, _ = agent_engine(script, tools=["disk"])
    result = engine.run({})
    assert result.status is Status.SUCCESS
    assert json.loads(script.requests[1].messages[2]["content"]) == {
        "status": "error", "output": None, "error": "disk full"}


def test_a_model_that_keeps_asking_for_tools_stops_at_max_tool_rounds():
    script = Script(reply("", ("c", "add", {"a": 1, "b": 1})))
    engine, kit = agent_engine(script, tools=["add"], config={"max_tool_rounds": 2})
    result = engine.run({})
    assert result.error["kind"] == "agent"
    assert "max_tool_rounds (2)" in result.error["message"]
    assert len(script.requests) == 3 and len(kit.tool_log) == 2


# ---- retries and timeouts ---------------------------------------------------------------------------------


def test_retryable_errors_are_retried_honouring_retry_after_and_every_attempt_is_recorded():
    script = Script(ProviderError("rate limited (429)", retryable=True, status=429, retry_after=0.01),
                    ProviderError("bad gateway (502)", retryable=True, status=502),
                    reply({"sum": 1, "shout": "A"}))
    engine, _ = agent_engine(script, config={"retry_backoff_s": 0.001})
    result = engine.run({}, run_id="r")
    assert result.status is Status.SUCCESS
    (call,) = ask(result).agent_calls
    first, second = call.attempts
    assert (first["status"], first["retry_after_s"], first["waited_s"]) == (429, 0.01, 0.01)
    assert second["status"] == 502 and 0 < second["waited_s"] <= 0.002  # backoff with jitter
    clean, _ = agent_engine(Script(reply({"sum": 1, "shout": "A"})))
    assert clean.run({}, run_id="r").trace.digest == result.trace.digest  # retries are the network's, not the run's


def test_a_non_retryable_error_is_tried_once_and_fails_the_node_with_kind_agent():
    script = Script(ProviderError("invalid model (400)", status=400), reply({}))
    engine, _ = agent_engine(script, config={"max_attempts": 5})
    result = engine.run({})
    assert result.error["kind"] == "agent"
    assert result.error["message"] == "provider 'scriptable' failed: invalid model (400)"
    assert len(script.requests) == 1
    (call,) = ask(result).agent_calls
    assert call.error == "invalid model (400)" and call.reply_json == "null"


def test_the_last_failure_is_reported_after_max_attempts():
    script = Script(ProviderError("overloaded (529)", retryable=True, status=529))
    engine, _ = agent_engine(script, config={"max_attempts": 3, "retry_backoff_s": 0})
    result = engine.run({})
    assert len(script.requests) == 3
    assert "overloaded (529)" in result.error["message"]
    assert len(ask(result).agent_calls[0].attempts) == 2


def test_an_attempt_that_outlives_timeout_s_is_abandoned_and_retried():
    first_call = [True]

    async def slow_once(request):
        if first_call:
            first_call.pop()
            await asyncio.sleep(5)
        return reply({"sum": 2, "shout": "B"})

    engine, _ = agent_engine(Script(reply({})), config={"timeout_s": 0.05, "retry_backoff_s": 0})
    engine._built.plans["ask"].agent.provider.complete = slow_once  # a provider that hangs once
    result = engine.run({})
    assert result.status is Status.SUCCESS
    (call,) = ask(result).agent_calls
    assert call.attempts[0]["error"] == "no answer within 0.05 s"


@pytest.mark.parametrize(("config", "key"), [({"max_tool_rounds": -1}, "max_tool_rounds"),
                                             ({"timeout_s": "10"}, "timeout_s"),
                                             ({"max_attempts": 0}, "max_attempts"),
                                             ({"max_attempts": True}, "max_attempts")])
def test_unusable_engine_settings_in_an_agent_config_are_load_errors(config, key):
    with pytest.raises(ManifestError) as caught:
        agent_engine(Script(reply({})), config=config)
    (issue,) = caught.value.issues
    assert issue.code == "agents.provider_config" and f"config.{key}" in issue.message


def test_metadata_names_each_agents_provider_model_and_sdk():
    engine, _ = agent_engine(Script(reply({})))
    agents = engine.run({}).metadata["agents"]
    assert dict(agents["bot"]) == {"provider": "scriptable", "model": "m-1", "sdk": "scriptable", "sdk_version": "1.0",
                                   "distribution": "_agent_kit", "version": agents["bot"]["version"]}


# ---- JSON extraction ----------------------------------------------------------------------------------------

json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
objects = st.dictionaries(st.text(max_size=5), json_values, min_size=1, max_size=3)


@given(objects, st.sampled_from(["{}", "Here it is:\n```json\n{}\n```\nDone.", "Sure! {} Hope that helps.",
                                  "```\n{}\n```"]))
def test_the_answer_is_found_in_bare_fenced_or_prose_wrapped_replies(value, template):
    assert extract_json(template.replace("{}", json.dumps(value), 1)) == value


@pytest.mark.parametrize("content", ["", "no json here", "{broken", "NaN", "[1, Infinity]"])
def test_a_reply_without_json_fails_the_node(content):
    with pytest.raises(StageFailed) as caught:
        extract_json(content)
    assert caught.value.error[0] == "agent"
