"""What the provider makes of the server's replies: content, tool calls, usage, and replies it cannot use."""

from __future__ import annotations

import pytest
from _openai_helpers import make_request

SEARCH = {"name": "search", "description": "Search.", "parameters": {"type": "object"}}


def test_openai_maps_content_model_usage_finish_reason_and_id(server, make_provider, ask):
    server.reply_chat('{"title": "A"}', model="gpt-test-2025", usage=(123, 45), finish_reason="length",
                      response_id="chatcmpl-42")

    reply = ask(make_provider(), make_request())

    assert reply.content == '{"title": "A"}'
    assert reply.model == "gpt-test-2025"
    assert dict(reply.usage) == {"input_tokens": 123, "output_tokens": 45}
    assert reply.finish_reason == "length"
    assert reply.response_id == "chatcmpl-42"
    assert reply.tool_calls == ()


def test_openai_parses_tool_calls_into_tool_call_records(server, make_provider, ask):
    server.reply_chat("Let me look.", tool_calls=[
        {"id": "call_1", "name": "search", "arguments": {"q": "dag", "limit": 2}},
        {"id": "call_2", "name": "search", "arguments": '{"q": "nested", "filter": {"tags": ["a"]}}'},
        {"id": "call_3", "name": "search", "arguments": ""},
    ])

    reply = ask(make_provider(), make_request(tools=[SEARCH]))

    assert reply.content == "Let me look."
    assert reply.finish_reason == "tool_calls"
    assert [call.to_dict() for call in reply.tool_calls] == [
        {"id": "call_1", "name": "search", "arguments": {"q": "dag", "limit": 2}},
        {"id": "call_2", "name": "search", "arguments": {"q": "nested", "filter": {"tags": ["a"]}}},
        {"id": "call_3", "name": "search", "arguments": {}},
    ]


def test_openai_reads_the_minimal_replies_of_compatible_servers(server, make_provider, ask):
    # no id, no model, no usage, no finish_reason, a tool call without id: what small local servers send
    server.reply_status(200, {"choices": [{"message": {"role": "assistant", "content": None, "tool_calls": [
        {"type": "function", "function": {"name": "search", "arguments": "{}"}}]}}]})

    reply = ask(make_provider(model="llama3.1"), make_request(model="llama3.1", tools=[SEARCH]))

    assert (reply.content, reply.model, dict(reply.usage)) == ("", "llama3.1", {})
    assert (reply.finish_reason, reply.response_id) == (None, None)
    assert [(call.id, call.name) for call in reply.tool_calls] == [("call_0", "search")]


@pytest.mark.parametrize("arguments", ["[1, 2]", '"text"', "not json", '{"q": '])
def test_openai_refuses_tool_arguments_that_are_not_a_json_object(server, make_provider, fail, arguments):
    server.reply_chat(None, tool_calls=[{"id": "call_1", "name": "search", "arguments": arguments}])

    failure = fail(make_provider(), make_request(tools=[SEARCH]))

    assert "tool 'search'" in str(failure)
    assert "not a JSON object" in str(failure)
    assert failure.retryable is False


@pytest.mark.parametrize(("body", "content_type"), [
    ('{"id": "chatcmpl-broken", "choices": [', "application/json"),
    ("<html><body>502 Bad Gateway</body></html>", "text/html"),
    ("", "application/json"),
])
def test_openai_reports_a_reply_that_is_not_json_without_retrying(server, make_provider, fail, body, content_type):
    server.reply_malformed(body, content_type=content_type)

    failure = fail(make_provider(), make_request())

    assert "not JSON" in str(failure)
    assert failure.retryable is False
    assert failure.status is None


@pytest.mark.parametrize(("body", "expected"), [
    ([], "not an object"),
    ({"id": "x", "choices": []}, "no choices"),
    ({"choices": [{"finish_reason": "stop"}]}, "no message"),
    ({"choices": [{"message": {"content": {"title": "A"}}}]}, "not text"),
    ({"choices": [{"message": {"content": None, "tool_calls": {"id": "c"}}}]}, "not a list"),
    ({"choices": [{"message": {"tool_calls": [{"type": "custom", "custom": {"name": "x"}}]}}]}, "type 'custom'"),
    ({"choices": [{"message": {"tool_calls": [{"type": "function", "function": {"arguments": "{}"}}]}}]},
     "no function name"),
    ({"error": {"message": "model is loading"}}, "model is loading"),
])
def test_openai_reports_a_json_reply_it_cannot_use(server, make_provider, fail, body, expected):
    server.reply_status(200, body)

    failure = fail(make_provider(), make_request())

    assert "unusable chat completion" in str(failure)
    assert expected in str(failure)
    assert failure.retryable is False


def test_openai_reports_a_refusal_as_a_provider_error(server, make_provider, fail):
    server.reply_chat(None, refusal="I can't help with that.")

    failure = fail(make_provider(), make_request())

    assert "refused" in str(failure)
    assert "I can't help with that." in str(failure)
    assert failure.retryable is False
