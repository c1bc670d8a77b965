"""The fake OpenAI server refuses what the real API refuses, so the adapter's shape tests mean something."""

from __future__ import annotations

import json
import urllib.error
import urllib.request

import pytest
from _fake_openai import FakeOpenAI, for_node, validate_chat_request

USER = {"role": "user", "content": "hi"}
CALL = {"role": "assistant", "content": None,
        "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "search", "arguments": "{}"}}]}
ANSWER = {"role": "tool", "tool_call_id": "c1", "content": "{}"}


def _post(server: FakeOpenAI, body: object, *, key: str | None, path: str = "/v1/chat/completions"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    request = urllib.request.Request(server.base_url.removesuffix("/v1") + path, data=data, method="POST",
                                     headers={"Content-Type": "application/json"})
    if key is not None:
        request.add_header("Authorization", f"Bearer {key}")
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        with error:
            return error.code, json.loads(error.read())


@pytest.mark.parametrize(("body", "expected"), [
    ({"messages": [USER]}, "model"),
    ({"model": "m"}, "Missing required parameter: 'messages'"),
    ({"model": "m", "messages": []}, "non-empty"),
    ({"model": "m", "messages": [USER], "stream": True}, "does not stream"),
    ({"model": "m", "messages": [USER], "temprature": 1}, "Unrecognized request argument supplied: temprature"),
    ({"model": "m", "messages": [{"role": "robot", "content": "x"}]}, "Invalid value: 'robot'"),
    ({"model": "m", "messages": [{"role": "user"}]}, "messages[0].content"),
    ({"model": "m", "messages": [USER, {"role": "assistant", "content": None}]}, "messages[1].content"),
    ({"model": "m", "messages": [USER, ANSWER]}, "must be a response to a preceeding message with 'tool_calls'"),
    ({"model": "m", "messages": [USER, CALL]}, "did not have response messages: c1"),
    ({"model": "m", "messages": [USER, CALL, USER]}, "did not have response messages: c1"),
    ({"model": "m", "messages": [USER, CALL, ANSWER, ANSWER]}, "must be a response"),
    ({"model": "m", "messages": [USER, {**CALL, "tool_calls": [{"id": "c1", "type": "function",
                                                                  "function": {"name": "a.b", "arguments": "{}"}}]},
                                 ANSWER]}, "function.name"),
    ({"model": "m", "messages": [USER], "tools": [{"type": "function", "function": {"name": "fs.read"}}]},
     "tools[0].function.name"),
    ({"model": "m", "messages": [USER], "tool_choice": "auto"}, "'tool_choice' is only allowed"),
    ({"model": "m", "messages": [USER], "response_format": {"type": "json_schema",
                                                            "json_schema": {"name": "a b", "schema": {}}}},
     "json_schema.name"),
    ({"model": "m", "messages": [USER], "response_format": {"type": "xml"}}, "response_format.type"),
    ({"model": "m", "messages": [USER], "temperature": 3}, "out of range"),
    ({"model": "m", "messages": [USER], "max_tokens": 0}, "below minimum"),
    ({"model": "m", "messages": [USER], "stop": ["a", "b", "c", "d", "e"]}, "at most 4"),
])
def test_openai_fake_refuses_requests_the_api_refuses(body, expected):
    problem = validate_chat_request(body)

    assert problem is not None
    assert expected in problem


def test_openai_fake_accepts_a_complete_tool_round():
    body = {"model": "m", "messages": [{"role": "system", "content": "s"}, USER, CALL, ANSWER],
            "tools": [{"type": "function", "function": {"name": "search", "parameters": {"type": "object"}}}],
            "response_format": {"type": "json_schema", "json_schema": {"name": "n", "schema": {}, "strict": False}},
            "stream": False, "temperature": 0.5}

    assert validate_chat_request(body) is None


def test_openai_fake_answers_401_without_the_expected_key_and_masks_the_key_it_records():
    with FakeOpenAI(expected_api_key="sk-expected-0123456789") as server:
        server.reply_chat("{}")

        missing = _post(server, {"model": "m", "messages": [USER]}, key=None)
        wrong = _post(server, {"model": "m", "messages": [USER]}, key="sk-wrong-0123456789")
        right = _post(server, {"model": "m", "messages": [USER]}, key="sk-expected-0123456789")

    assert missing[0] == 401 and "didn't provide an API key" in missing[1]["error"]["message"]
    assert wrong[0] == 401 and wrong[1]["error"]["code"] == "invalid_api_key"
    assert "sk-wrong-0123456789" not in wrong[1]["error"]["message"]
    assert right[0] == 200 and right[1]["choices"][0]["message"]["content"] == "{}"
    assert [(r.authorized, r.status) for r in server.requests] == [(False, 401), (False, 401), (True, 200)]
    assert server.requests[2].headers["authorization"] == "Bearer ********"
    assert server.accepted_key


def test_openai_fake_refused_requests_consume_no_scripted_reply_and_an_empty_queue_is_an_error():
    with FakeOpenAI(expected_api_key="k") as server:
        server.reply_chat("{}")

        invalid = _post(server, {"model": "m", "messages": [ANSWER]}, key="k")
        wrong_path = _post(server, {"model": "m", "messages": [USER]}, key="k", path="/v1/responses")
        not_json = _post(server, b"{", key="k")
        assert server.pending == 1
        served = _post(server, {"model": "m", "messages": [USER]}, key="k")
        exhausted = _post(server, {"model": "m", "messages": [USER]}, key="k")

    assert (invalid[0], invalid[1]["error"]["type"]) == (400, "invalid_request_error")
    assert (wrong_path[0], wrong_path[1]["error"]["message"]) == (404, "Invalid URL (POST /v1/responses)")
    assert not_json[0] == 400 and "could not parse the JSON body" in not_json[1]["error"]["message"]
    assert served[0] == 200
    assert (exhausted[0], exhausted[1]["error"]["type"]) == (400, "fake_server_exhausted")
    assert server.requests[2].body is None


def test_openai_fake_serves_replies_scripted_for_a_node_to_that_nodes_requests_whatever_their_order():
    def ask(node: str):
        return _post(server, {"model": "m", "messages": [
            {"role": "system", "content": "s"}, {"role": "user", "content": json.dumps({"node": node, "input": 1})}]},
            key="k")

    with FakeOpenAI(expected_api_key="k") as server:
        server.reply_chat("for review", when=for_node("review"))
        server.reply_chat("for draft", when=for_node("draft"))
        server.reply_chat("for anyone")
        server.reply_chat("broken predicate", when=lambda body: body["no such key"])

        answers = [ask(node)[1]["choices"][0]["message"]["content"] for node in ("draft", "other", "review")]
        leftover = ask("other")

    assert answers == ["for draft", "for anyone", "for review"]
    assert leftover[1]["error"]["type"] == "fake_server_exhausted"
    assert server.pending == 1


def test_openai_fake_stops_by_itself_after_its_lifetime():
    server = FakeOpenAI(expected_api_key="k", lifetime_s=0.1).start()

    assert server.wait_stopped(10)
    with pytest.raises(RuntimeError, match="not running"):
        _ = server.base_url
    server.stop()  # still idempotent
