"""Agent nodes on the built-in ``scripted`` provider: requests, replies, validation, usage (SPEC §3.2)."""

from __future__ import annotations

import json

import pytest
from _workflows import engine, node, scripted_agents, sleepy, stage, stages

from agent_engine_core import LlmReply, ManifestError, Status
from agent_engine_core.providers.scripted import ScriptedProvider

TITLE = {"type": "object", "properties": {"title": {"type": "string", "maxLength": 20}}, "required": ["title"],
         "additionalProperties": False}


def agent_node(node_id, role, **fields):
    return node(node_id, role, kind="agent", agent_id=fields.pop("agent_id", "clerk"), **fields)


def drafting(responses, **agents_config):
    """start -> draft (agent, schema_out title) -> exit."""
    return engine(
        [node("s", "start"), agent_node("draft", "linear", schema_out="title"), node("x", "exit")],
        [("s", "draft"), ("draft", "x")],
        agents=scripted_agents(responses, **agents_config), schemas={"title": TITLE},
    )


def routing(answer, **route_fields):
    """start -> route (agent decision) -> create | edit -> exits."""
    return engine(
        [node("s", "start"), agent_node("route", "decision", **route_fields),
         node("create", "linear", handler=lambda p, c: {"created": p}), node("edit", "linear"),
         node("xc", "exit"), node("xe", "exit")],
        [("s", "route"), ("route", "create", "create"), ("route", "edit", "edit"), ("create", "xc"),
         ("edit", "xe")],
        agents=scripted_agents({"route": answer}),
    )


@pytest.fixture
def sent(monkeypatch):
    """Every request the scripted provider receives, in call order."""
    requests = []
    original = ScriptedProvider.complete

    async def spy(self, request):
        requests.append(request)
        return await original(self, request)

    monkeypatch.setattr(ScriptedProvider, "complete", spy)
    return requests


# ---- decisions and linear agents ---------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [{"selected_edge": "create"}, "create"])
def test_agent_decision_routes_by_the_scripted_label(answer):
    result = routing(answer).run({"request": "a haiku"}, run_id="r")
    assert result.status is Status.SUCCESS
    assert [r.node_id for r in result.trace] == ["s", "route", "create", "xc"]
    assert stage(result, "route").output == answer
    assert result.output == {"created": {"request": "a haiku"}}  # the chosen path gets the decision's input


def test_agent_decision_with_an_unknown_label_fails_and_never_falls_back():
    result = routing({"selected_edge": "delete"}).run({}, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "routing"
    assert [r.node_id for r in result.trace] == ["s", "route"]


def test_agent_decision_requests_a_label_from_its_edges(sent):
    routing("edit").run({}, run_id="r")
    (request,) = sent
    assert request.response_schema == {
        "type": "object",
        "properties": {"selected_edge": {"enum": ["create", "edit"]}},
        "required": ["selected_edge"],
    }


def test_agent_linear_reply_is_validated_and_becomes_the_output():
    result = drafting({"draft": {"title": "Moon"}}).run({"topic": "moon"}, run_id="r")
    assert result.status is Status.SUCCESS
    assert result.output == {"title": "Moon"}
    assert stage(result, "draft").input == {"topic": "moon"}


@pytest.mark.parametrize("answer", [{"title": 3}, {"name": "Moon"}, {"title": "x" * 21}, "Moon", [["a", "list"]]])
def test_a_reply_that_violates_schema_out_fails_with_kind_schema_out(answer):
    result = drafting({"draft": answer}).run({}, run_id="r")
    assert result.status is Status.FAILURE
    assert (result.error["kind"], result.error["node_id"]) == ("schema_out", "draft")
    assert result.error["details"]["violations"]
    (call,) = stage(result, "draft").agent_calls
    assert json.loads(call.to_dict()["reply"]["content"]) == (answer[0] if isinstance(answer, list) else answer)


# ---- what is sent, and what is recorded -------------------------------------------------------------------


def test_the_exact_request_sent_is_recorded_in_the_stage(sent):
    result = drafting({"draft": {"title": "Moon"}}, prompt="You write titles.").run({"topic": "moon"}, run_id="r")
    (request,) = sent
    (call,) = stage(result, "draft").agent_calls
    recorded = call.to_dict()
    assert recorded["request"] == request.to_dict()
    assert recorded["request"] == {
        "agent_id": "clerk",
        "model": "clerk",
        "system": "You write titles.",
        "messages": [{"role": "user", "content": json.dumps({"node": "draft", "input": {"topic": "moon"}},
                                                             separators=(",", ":"))}],
        "response_schema": TITLE,
        "tools": [],
    }
    assert (recorded["provider"], recorded["model"]) == ("scripted", "clerk")
    assert recorded["reply"]["content"] == '{"title":"Moon"}'
    assert (request.node_id, request.task_id, request.sibling_index) == ("draft", "r", 0)


def test_agent_calls_are_part_of_the_canonical_trace_without_latency():
    result = drafting({"draft": {"title": "Moon"}}).run({}, run_id="r")
    canonical = result.trace.canonical().decode()
    assert '"agent_calls":[{"provider":"scripted"' in canonical
    assert "latency" not in canonical
    assert "latency_s" in stage(result, "draft").to_dict()["agent_calls"][0]


def test_a_provider_mutating_its_request_changes_neither_the_record_nor_validation(monkeypatch):
    original = ScriptedProvider.complete

    async def meddling(self, request):
        request.response_schema["properties"]["title"]["maxLength"] = 1  # e.g. a strict-mode rewrite
        request.response_schema["required"].append("extra")
        return await original(self, request)

    monkeypatch.setattr(ScriptedProvider, "complete", meddling)
    eng = drafting({"draft": {"title": "Moon"}})
    for _ in range(2):  # the second call must see the engine's schema, not the first call's edits
        result = eng.run({}, run_id="r")
        assert result.status is Status.SUCCESS, result.error
        (call,) = stage(result, "draft").agent_calls
        assert call.to_dict()["request"]["response_schema"] == TITLE


def test_provider_exception_fails_the_node_with_kind_agent(monkeypatch):
    async def broken(self, request):
        raise ConnectionError("unreachable")

    monkeypatch.setattr(ScriptedProvider, "complete", broken)
    result = drafting({"draft": {"title": "Moon"}}).run({}, run_id="r")
    assert result.status is Status.FAILURE
    assert result.error["kind"] == "agent"
    assert "unreachable" in result.error["message"]
    assert result.error["details"] == {"provider": "scripted"}
    assert "ConnectionError" in result.error["message"]


def test_reply_that_is_not_json_fails_with_kind_agent(monkeypatch):
    async def chatty(self, request):
        return LlmReply(content="Sure! Here is your title: Moon", model="clerk")

    monkeypatch.setattr(ScriptedProvider, "complete", chatty)
    result = drafting({"draft": {"title": "Moon"}}).run({}, run_id="r")
    assert result.error["kind"] == "agent"
    assert result.error["details"]["content"] == "Sure! Here is your title: Moon"
    assert len(stage(result, "draft").agent_calls) == 1  # the call is recorded even though it failed


# ---- answer lists and sibling indexes ---------------------------------------------------------------------


def split_agents(answers, delays=None):
    return engine(
        [node("s", "start"), node("sp", "split"), node("slow", "linear", handler=sleepy(delays or {})),
         agent_node("draft", "linear", schema_out="title"), node("m", "merge"), node("x", "exit")],
        [("s", "sp"), ("sp", "slow"), ("slow", "draft"), ("draft", "m"), ("m", "x")],
        agents=scripted_agents({"draft": answers}), schemas={"title": TITLE},
    )


def test_answer_list_is_consumed_by_sibling_index_and_its_last_item_repeats():
    answers = [{"title": "A"}, {"title": "B"}, {"title": "C"}]
    # the first subtask reaches the agent last: answers still follow the subtask's index
    result = split_agents(answers, {0: 0.04, 1: 0.02}).run(["p", "q", "r", "s", "t"], run_id="r")
    assert result.status is Status.SUCCESS
    assert [i["output"]["title"] for i in result.output["merge_inputs"]] == ["A", "B", "C", "C", "C"]
    assert [r.task_id for r in stages(result, "draft")] == [f"r/sp#{i}" for i in range(5)]


def test_answers_are_the_same_on_every_run_of_one_engine():
    eng = split_agents([{"title": "A"}, {"title": "B"}])
    first, second = eng.run([1, 2], run_id="r"), eng.run([1, 2], run_id="r")
    assert first.trace.digest == second.trace.digest
    assert [i["output"] for i in second.output["merge_inputs"]] == [{"title": "A"}, {"title": "B"}]


def test_a_root_task_always_gets_the_first_answer():
    eng = drafting({"draft": [{"title": "First"}, {"title": "Second"}]})
    assert [eng.run({}).output for _ in range(3)] == [{"title": "First"}] * 3


def test_an_answer_that_is_a_list_is_wrapped_in_a_list():
    eng = engine(
        [node("s", "start"), agent_node("draft", "linear"), node("x", "exit")], [("s", "draft"), ("draft", "x")],
        agents=scripted_agents({"draft": [["a", "b"]]}),
    )
    assert eng.run({}).output == ["a", "b"]


def test_usage_counts_every_agent_call():
    result = split_agents([{"title": "A"}]).run([1, 2, 3], run_id="r")
    assert result.usage == {"agent_calls": 3, "input_tokens": 0, "output_tokens": 0}
    assert sum(len(r.agent_calls) for r in result.trace) == 3
    assert drafting({"draft": {"title": "A"}}).run({}).usage["agent_calls"] == 1


def test_metadata_names_the_provider_distribution():
    result = drafting({"draft": {"title": "A"}}).run({})
    assert dict(result.metadata["providers"]) == {"scripted": "agent-engine-core"}


# ---- load-time errors: never a silent fallback ----------------------------------------------------------


def test_an_uninstalled_provider_fails_at_load_and_never_falls_back_to_scripted(sent, monkeypatch):
    monkeypatch.setenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", "1")  # as on a machine without agent-engine-openai
    agents = {"agents": [{"id": "clerk", "llm": "openai/gpt-4o-mini", "config": {"responses": {"draft": {}}}}]}
    with pytest.raises(ManifestError) as caught:
        engine([node("s", "start"), agent_node("draft", "linear"), node("x", "exit")],
               [("s", "draft"), ("draft", "x")], agents=agents)
    (issue,) = caught.value.issues
    assert issue.code == "agents.unknown_provider"
    assert "openai" in issue.message
    assert issue.hint == ("installed llm providers: replay, scripted; 'openai' is provided by agent-engine-openai: "
                          "pip install -e adapters/openai (from the root of the agent-engine repository)")
    assert sent == []


def test_a_scripted_agent_without_an_answer_for_its_node_fails_at_load():
    with pytest.raises(ManifestError) as caught:
        engine([node("s", "start"), agent_node("draft", "linear"), node("x", "exit")],
               [("s", "draft"), ("draft", "x")], agents=scripted_agents({"other": 1}))
    assert [i.code for i in caught.value.issues] == ["agents.provider_config"]
    assert "draft" in caught.value.issues[0].message


def test_a_scripted_agent_without_responses_fails_at_load():
    agents = {"agents": [{"id": "clerk", "llm": "scripted/clerk", "config": {}}]}
    with pytest.raises(ManifestError) as caught:
        engine([node("s", "start"), agent_node("draft", "linear"), node("x", "exit")],
               [("s", "draft"), ("draft", "x")], agents=agents)
    assert [i.code for i in caught.value.issues] == ["agents.provider_config"]


def test_agent_nodes_without_agents_manifest_fail_at_load():
    with pytest.raises(ManifestError) as caught:
        engine([node("s", "start"), agent_node("draft", "linear"), node("x", "exit")],
               [("s", "draft"), ("draft", "x")])
    codes = {i.code for i in caught.value.issues}
    assert "manifest.missing_file" in codes
