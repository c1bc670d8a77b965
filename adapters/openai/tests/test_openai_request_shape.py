"""What the provider sends: messages, tools, response format, options and credentials, as the API receives them."""

from __future__ import annotations

import json

import pytest
from _fake_openai import validate_chat_request
from _openai_helpers import make_request
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_openai._mapping import ToolNames, build_body, build_messages

SCHEMA = {"type": "object", "properties": {"title": {"type": "string"}}, "required": ["title"]}
SEARCH = {"name": "search", "description": "Search the notes.",
          "parameters": {"type": "object", "properties": {"q": {"type": "string"}}, "required": ["q"]}}


def test_openai_sends_a_whole_tool_round_as_chat_completions_messages(server, make_provider, ask):
    server.reply_chat('{"title": "A"}')
    provider = make_provider({"temperature": 0.2, "max_tokens": 300, "seed": 7, "stop": ["END"],
                              "max_tool_rounds": 3, "timeout_s": 30, "responses": {"draft": {}}})
    request = make_request(
        [
            {"role": "user", "content": '{"node": "draft", "input": "x"}'},
            {"role": "assistant", "content": "",
             "tool_calls": [{"id": "call_a", "name": "search", "arguments": {"q": "ä"}},
                            {"id": "call_b", "name": "search", "arguments": {}}]},
            {"role": "tool", "tool_call_id": "call_a", "name": "search", "content": '{"hits": 1}'},
            {"role": "tool", "tool_call_id": "call_b", "name": "search", "content": '{"hits": 0}'},
        ],
        tools=[SEARCH], response_schema=SCHEMA, model="gpt-test",
    )

    ask(provider, request)

    [received] = server.requests
    assert (received.method, received.path, received.status) == ("POST", "/v1/chat/completions", 200)
    assert received.body == {
        "model": "gpt-test",
        "stream": False,
        "messages": [
            {"role": "system", "content": "You write."},
            {"role": "user", "content": '{"node": "draft", "input": "x"}'},
            {"role": "assistant", "content": None, "tool_calls": [
                {"id": "call_a", "type": "function", "function": {"name": "search", "arguments": '{"q": "ä"}'}},
                {"id": "call_b", "type": "function", "function": {"name": "search", "arguments": "{}"}},
            ]},
            {"role": "tool", "tool_call_id": "call_a", "content": '{"hits": 1}'},
            {"role": "tool", "tool_call_id": "call_b", "content": '{"hits": 0}'},
        ],
        "tools": [{"type": "function", "function": SEARCH}],
        "response_format": {"type": "json_schema",
                            "json_schema": {"name": "draft", "schema": SCHEMA, "strict": False}},
        "temperature": 0.2,
        "max_tokens": 300,
        "seed": 7,
        "stop": ["END"],
    }


def test_openai_sends_no_system_message_tools_or_response_format_when_there_are_none(server, make_provider, ask):
    server.reply_chat("{}")

    ask(make_provider(), make_request(system="", response_schema=None))

    body = server.requests[0].body
    assert body["messages"] == [{"role": "user", "content": '{"node": "draft", "input": "x"}'}]
    assert "tools" not in body
    assert "response_format" not in body
    assert body["stream"] is False


def test_openai_sends_no_response_format_when_structured_output_is_off(server, make_provider, ask):
    server.reply_chat('{"title": "A"}')

    ask(make_provider({"structured_output": False, "temperature": 1}), make_request(response_schema=SCHEMA))

    body = server.requests[0].body
    assert "response_format" not in body
    assert "structured_output" not in body
    assert body["temperature"] == 1


def test_openai_names_the_json_schema_after_the_node_in_the_characters_the_api_accepts(server, make_provider, ask):
    server.reply_chat("{}")

    ask(make_provider(), make_request(node_id="review.final", response_schema=SCHEMA))

    assert server.requests[0].body["response_format"]["json_schema"]["name"] == "review_final"


def test_openai_sends_tool_ids_with_dots_under_accepted_names_and_maps_calls_back(server, make_provider, ask):
    tools = [{"name": "fs.read", "description": "Read.", "parameters": {"type": "object"}},
             {"name": "fs_read", "description": "Also read.", "parameters": {"type": "object"}}]
    server.reply_chat(None, tool_calls=[{"id": "c1", "name": "fs_read_2", "arguments": {}},
                                        {"id": "c2", "name": "fs_read", "arguments": {}}])

    reply = ask(make_provider(), make_request(tools=tools))

    sent = [tool["function"]["name"] for tool in server.requests[0].body["tools"]]
    assert sent == ["fs_read_2", "fs_read"]
    assert [(call.id, call.name) for call in reply.tool_calls] == [("c1", "fs.read"), ("c2", "fs_read")]


def test_openai_sends_the_credentials_key_and_endpoint_whatever_the_environment_says(
    server, make_provider, ask, monkeypatch
):
    monkeypatch.setenv("OPENAI_API_KEY", "sk-from-the-environment")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("OPENAI_CUSTOM_HEADERS", "Authorization: Bearer sk-from-custom-headers")
    server.reply_chat("{}")

    ask(make_provider(), make_request())

    [received] = server.requests
    assert received.authorized
    assert received.headers["authorization"] == "Bearer ********"


# ------------------------------------------------------------------------------------------------------------
# Property: every conversation the engine can build maps to a request the API accepts, and back to itself
# ------------------------------------------------------------------------------------------------------------

_tool_names = st.from_regex(r"[A-Za-z0-9_.-]{1,20}", fullmatch=True)
_text = st.text(max_size=30)
int64 = st.integers(-(2**63), 2**64 - 1)  # the engine refuses integers beyond 64 bits
_arguments = st.dictionaries(st.text(max_size=8), st.none() | st.booleans() | int64 | st.text(max_size=8),
                             max_size=3)


@st.composite
def _conversations(draw: st.DrawFn) -> list[dict]:
    """A user message, then rounds of an assistant turn with tool calls answered by tool messages."""
    messages: list[dict] = [{"role": "user", "content": draw(_text)}]
    for round_number in range(draw(st.integers(0, 3))):
        names = draw(st.lists(_tool_names, min_size=1, max_size=3))
        calls = [{"id": f"call_{round_number}_{i}", "name": name, "arguments": draw(_arguments)}
                 for i, name in enumerate(names)]
        messages.append({"role": "assistant", "content": draw(_text), "tool_calls": calls})
        for call in draw(st.permutations(calls)):
            messages.append({"role": "tool", "tool_call_id": call["id"], "name": call["name"],
                             "content": draw(_text)})
    return messages


def _back(wire: list[dict], names: ToolNames) -> tuple[str, list[dict]]:
    """The normalised conversation a list of wire messages stands for (the inverse of ``build_messages``)."""
    system = wire[0]["content"] if wire and wire[0]["role"] == "system" else ""
    called: dict[str, str] = {}
    back: list[dict] = []
    for message in wire[1:] if system else wire:
        if message["role"] == "assistant":
            calls = [{"id": c["id"], "name": names.original(c["function"]["name"]),
                      "arguments": json.loads(c["function"]["arguments"])} for c in message["tool_calls"]]
            called.update({c["id"]: c["name"] for c in calls})
            back.append({"role": "assistant", "content": message["content"] or "", "tool_calls": calls})
        elif message["role"] == "tool":
            back.append({"role": "tool", "tool_call_id": message["tool_call_id"],
                         "name": called[message["tool_call_id"]], "content": message["content"]})
        else:
            back.append(message)
    return system, back


@settings(max_examples=150, deadline=None)
@given(system=_text, messages=_conversations())
def test_openai_message_mapping_is_accepted_by_the_api_and_round_trips(system, messages):
    tools = [{"name": name, "description": "", "parameters": {"type": "object"}}
             for name in sorted({c["name"] for m in messages for c in m.get("tool_calls", [])})]
    request = make_request(messages, system=system, tools=tools, response_schema=SCHEMA)

    wire = build_body(request, {})

    assert validate_chat_request(wire.body) is None
    assert _back(wire.body["messages"], wire.names) == (system, messages)


@settings(max_examples=200, deadline=None)
@given(st.lists(_tool_names, max_size=12))
def test_openai_tool_names_map_one_to_one_onto_names_the_api_accepts(names):
    mapping = ToolNames(names)

    wire = [mapping.wire(name) for name in dict.fromkeys(names)]

    assert len(set(wire)) == len(wire)
    assert all(validate_chat_request({"model": "m", "messages": [{"role": "user", "content": ""}],
                                      "tools": [{"type": "function", "function": {"name": w}}]}) is None
               for w in wire)
    assert [mapping.original(w) for w in wire] == list(dict.fromkeys(names))


def test_openai_refuses_a_message_role_it_cannot_send():
    from agent_engine_core.errors import ProviderError

    with pytest.raises(ProviderError, match="role 'function'"):
        build_messages("", [{"role": "function", "content": "x"}])
