"""What the adapter sends: the Messages API request the real SDK builds from an ``LlmRequest``."""

from __future__ import annotations

import pytest
from _anthropic_kit import MODEL, SYSTEM, assistant, definition, make_request, tool, user
from _fake_anthropic import tool_use

from agent_engine_anthropic import DEFAULT_MAX_TOKENS, OUTPUT_TOOL_NAME

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}


def sent(server, provider, ask, request, *blocks):
    """The body of the request ``provider`` sends for ``request``, answered with ``blocks`` (default: text)."""
    server.enqueue_message(*(blocks or ('{"title": "A"}',)))
    ask(provider, request)
    assert server.problems == []
    return server.requests[-1].body


def test_a_plain_request_has_model_system_one_user_turn_and_the_default_max_tokens(server, make_provider, ask,
                                                                                   api_key, ledger):
    body = sent(server, make_provider(), ask, make_request())
    assert body == {
        "model": MODEL,
        "max_tokens": DEFAULT_MAX_TOKENS,
        "system": SYSTEM,
        "messages": [{"role": "user", "content": user()["content"]}],
    }
    (received,) = server.requests
    assert received.method == "POST" and received.path == "/v1/messages"
    assert received.headers["anthropic-version"]
    assert received.api_key == api_key  # the credential's key, as the SDK sends it
    ledger.servers_that_saw_it.add("anthropic")


def test_an_empty_system_prompt_is_left_out(server, make_provider, ask):
    assert "system" not in sent(server, make_provider(), ask, make_request(system=""))


def test_config_options_are_sent_and_engine_keys_are_not(server, make_provider, ask):
    provider = make_provider({"max_tokens": 300, "temperature": 0.2, "top_p": 0.9, "top_k": 40,
                              "stop_sequences": ["END"], "timeout_s": 30, "max_attempts": 2,
                              "responses": {"draft": {"title": "offline"}}})
    body = sent(server, provider, ask, make_request())
    assert {k: v for k, v in body.items() if k not in ("model", "system", "messages")} == {
        "max_tokens": 300, "temperature": 0.2, "top_p": 0.9, "top_k": 40, "stop_sequences": ["END"],
    }


def test_a_tool_round_maps_to_tool_use_blocks_and_one_user_turn_of_tool_results(server, make_provider, ask):
    messages = [
        user(),
        assistant("Let me look.", ("toolu_1", "read_file", {"path": "a.md"}), ("toolu_2", "list_dir", {})),
        tool("toolu_1", "read_file", '{"status": "success", "output": "# A"}'),
        tool("toolu_2", "list_dir", '{"status": "success", "output": ["a.md"]}'),
    ]
    request = make_request(messages, tools=[definition("read_file"), definition("list_dir")])
    body = sent(server, make_provider(), ask, request)
    assert body["messages"] == [
        {"role": "user", "content": user()["content"]},
        {"role": "assistant", "content": [
            {"type": "text", "text": "Let me look."},
            {"type": "tool_use", "id": "toolu_1", "name": "read_file", "input": {"path": "a.md"}},
            {"type": "tool_use", "id": "toolu_2", "name": "list_dir", "input": {}},
        ]},
        {"role": "user", "content": [
            {"type": "tool_result", "tool_use_id": "toolu_1", "content": '{"status": "success", "output": "# A"}'},
            {"type": "tool_result", "tool_use_id": "toolu_2", "content": '{"status": "success", "output": ["a.md"]}'},
        ]},
    ]
    assert "tool_choice" not in body


def test_an_assistant_turn_with_blank_text_sends_only_its_tool_use_blocks(server, make_provider, ask):
    messages = [user(), assistant("  ", ("toolu_1", "read_file", {"path": "a.md"})), tool("toolu_1", "read_file")]
    body = sent(server, make_provider(), ask, make_request(messages, tools=[definition("read_file")]))
    assert [b["type"] for b in body["messages"][1]["content"]] == ["tool_use"]


def test_tool_definitions_become_name_description_and_input_schema(server, make_provider, ask):
    read = definition("read_file", "Read a file under the root.", path={"type": "string"})
    body = sent(server, make_provider(), ask, make_request(tools=[read]))
    assert body["tools"] == [{"name": "read_file", "description": "Read a file under the root.",
                              "input_schema": read["parameters"]}]


def test_a_tool_id_the_api_cannot_name_gets_a_stand_in_that_maps_back(server, make_provider, ask):
    server.enqueue_message(tool_use("fs_read", {"path": "a.md"}, id="toolu_9"))
    reply = ask(make_provider(), make_request(tools=[definition("fs.read")]))
    assert server.requests[-1].body["tools"][0]["name"] == "fs_read"
    assert [(c.id, c.name, dict(c.arguments)) for c in reply.tool_calls] == [("toolu_9", "fs.read", {"path": "a.md"})]
    follow_up = [user(), assistant("", ("toolu_9", "fs.read", {"path": "a.md"})), tool("toolu_9", "fs.read")]
    body = sent(server, make_provider(), ask, make_request(follow_up, tools=[definition("fs.read")]))
    assert body["messages"][1]["content"][0]["name"] == "fs_read"


def test_a_response_schema_alone_is_a_forced_output_tool(server, make_provider, ask):
    body = sent(server, make_provider(), ask, make_request(schema=SCHEMA),
                tool_use(OUTPUT_TOOL_NAME, {"title": "A"}))
    (output,) = body["tools"]
    assert output["name"] == OUTPUT_TOOL_NAME == "final_answer"
    assert output["input_schema"] == SCHEMA
    assert body["tool_choice"] == {"type": "tool", "name": OUTPUT_TOOL_NAME}


def test_a_response_schema_with_tools_requires_some_tool_each_turn(server, make_provider, ask):
    body = sent(server, make_provider(), ask, make_request(schema=SCHEMA, tools=[definition("read_file")]),
                tool_use(OUTPUT_TOOL_NAME, {"title": "A"}))
    assert [t["name"] for t in body["tools"]] == ["read_file", OUTPUT_TOOL_NAME]
    assert body["tool_choice"] == {"type": "any"}


def test_the_output_tool_steps_aside_for_a_node_tool_of_the_same_name(server, make_provider, ask):
    server.enqueue_message(tool_use("final_answer_2", {"title": "A"}))
    reply = ask(make_provider(), make_request(schema=SCHEMA, tools=[definition("final_answer")]))
    assert [t["name"] for t in server.requests[-1].body["tools"]] == ["final_answer", "final_answer_2"]
    assert reply.content == '{"title": "A"}' and reply.tool_calls == ()


def test_a_schema_that_is_not_an_object_is_wrapped_and_the_answer_unwrapped(server, make_provider, ask):
    schema = {"type": "array", "items": {"$ref": "#/$defs/Section"},
              "$defs": {"Section": {"type": "string"}}}
    server.enqueue_message(tool_use(OUTPUT_TOOL_NAME, {"value": ["Intro", "End"]}))
    reply = ask(make_provider(), make_request(schema=schema))
    (output,) = server.requests[-1].body["tools"]
    assert output["input_schema"] == {
        "type": "object", "$defs": {"Section": {"type": "string"}},
        "properties": {"value": {"type": "array", "items": {"$ref": "#/$defs/Section"}}}, "required": ["value"],
    }
    assert reply.content == '["Intro", "End"]'


@pytest.mark.parametrize("messages", [
    [assistant("Hello.")],
    [{"role": "system", "content": "x"}],
])
def test_a_conversation_the_api_cannot_take_is_refused_before_sending(server, make_provider, fail, messages):
    error = fail(make_provider(), make_request(messages))
    assert not error.retryable and server.requests == []
