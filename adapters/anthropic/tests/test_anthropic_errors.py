"""Failed calls: which are retryable, what ``retry_after`` says, and that messages never hold the key."""

from __future__ import annotations

import email.utils
import json
import socket
import time

import pytest
from _anthropic_kit import make_request
from agent_engine_core.llm import Credential
from agent_engine_core.secrets import Secret


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 504, 529])
def test_transient_statuses_are_retryable(server, make_provider, fail, status):
    server.enqueue_error(status, "try again")
    error = fail(make_provider(), make_request())
    assert (error.retryable, error.status, error.provider) == (True, status, "anthropic")
    assert f"HTTP {status}" in str(error) and "try again" in str(error)
    assert len(server.requests) == 1  # the SDK did not retry: the engine does, recording each attempt


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_other_statuses_are_not_retryable(server, make_provider, fail, status):
    server.enqueue_error(status, "no")
    error = fail(make_provider(), make_request())
    assert (error.retryable, error.status) == (False, status)


def test_overloaded_names_the_error_type(server, make_provider, fail):
    server.enqueue_error(529, "Overloaded")
    assert "HTTP 529 overloaded_error: Overloaded" in str(fail(make_provider(), make_request()))


@pytest.mark.parametrize(("headers", "expected"), [
    ({"retry-after": "3"}, 3.0),
    ({"retry-after": "0.25"}, 0.25),
    ({"retry-after-ms": "1500", "retry-after": "9"}, 1.5),
    ({"retry-after": "-4"}, 0.0),
    ({"retry-after": "soon"}, None),
    ({}, None),
])
def test_retry_after_comes_from_the_headers(server, make_provider, fail, headers, expected):
    server.enqueue_error(429, "slow down", headers=headers)
    error = fail(make_provider(), make_request())
    assert error.retryable and error.retry_after == expected


def test_retry_after_as_an_http_date_is_the_seconds_until_then(server, make_provider, fail):
    server.enqueue_error(429, "slow down", headers={"retry-after": email.utils.formatdate(time.time() + 120,
                                                                                        usegmt=True)})
    error = fail(make_provider(), make_request())
    assert 0 < error.retry_after <= 120


@pytest.mark.parametrize(("status", "should_retry", "retryable"), [(500, "false", False), (400, "true", True)])
def test_the_server_can_say_whether_to_retry(server, make_provider, fail, status, should_retry, retryable):
    server.enqueue_error(status, "see header", headers={"x-should-retry": should_retry})
    assert fail(make_provider(), make_request()).retryable is retryable


def test_a_body_that_is_not_json_is_malformed_and_not_retried(server, make_provider, fail):
    server.enqueue_malformed_json()
    error = fail(make_provider(), make_request())
    assert not error.retryable and error.status is None
    assert "malformed reply" in str(error) and "not JSON" in str(error)


@pytest.mark.parametrize("body", [{"foo": 1}, [1, 2], {"id": "m", "model": "x", "content": "hi",
                                                        "usage": {"input_tokens": 1, "output_tokens": 1}}])
def test_json_that_is_not_a_message_is_malformed(server, make_provider, fail, body):
    server.enqueue_raw(200, json.dumps(body).encode())
    error = fail(make_provider(), make_request())
    assert not error.retryable and "malformed reply" in str(error)


def test_an_html_error_page_keeps_its_status_and_a_short_excerpt(server, make_provider, fail):
    server.enqueue_raw(502, b"<html><body>\n  Bad   gateway " + b"x" * 2000 + b"</body></html>",
                       content_type="text/html")
    error = fail(make_provider(), make_request())
    assert (error.retryable, error.status) == (True, 502)
    assert "<html><body> Bad gateway x" in str(error) and len(str(error)) < 700


def test_no_answer_within_the_timeout_is_retryable(server, make_provider, fail):
    server.enqueue_message("late", delay_s=30)
    error = fail(make_provider(), make_request(timeout_s=0.2))
    assert (error.retryable, error.status) == (True, None)
    assert "within 0.2 s" in str(error)


def test_a_server_that_is_not_there_is_retryable(make_provider, fail, api_key):
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    nowhere = Credential(id="claude_test", provider="anthropic", api_key=Secret(api_key, origin="env:TEST"),
                         base_url=f"http://127.0.0.1:{port}")
    error = fail(make_provider(credential=nowhere), make_request())
    assert (error.retryable, error.status) == (True, None)
    assert f"127.0.0.1:{port}" in str(error)


def test_the_key_is_removed_from_an_error_the_server_echoes_it_in(server, make_provider, fail, api_key):
    server.enqueue_error(400, f"invalid request for key {api_key} (and again: {api_key})" + " padding" * 80)
    error = fail(make_provider(), make_request())
    assert api_key not in str(error) and api_key not in repr(error)
    assert "for key ******** (and again: ********)" in str(error)
    assert "req_fake" not in str(error)  # no header (request-id) in the message


def test_a_wrong_key_is_a_401_that_names_the_credential_not_the_key(server, make_provider, fail, api_key):
    server.enqueue_message("never sent")
    wrong = Credential(id="claude_other", provider="anthropic",
                       api_key=Secret("sk-wrong-" + api_key[::-1], origin="file:/run/keys/claude"),
                       base_url=server.base_url)
    error = fail(make_provider(credential=wrong), make_request())
    assert (error.retryable, error.status) == (False, 401)
    assert "authentication_error" in str(error)
    assert "credential 'claude_other' (file:/run/keys/claude)" in str(error)
    assert wrong.api_key.reveal() not in str(error)
    assert server.requests[0].status == 401 and server.pending == 1
