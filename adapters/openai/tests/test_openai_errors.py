"""How failed calls become ProviderErrors: what may be retried, how long to wait, and what the message says."""

from __future__ import annotations

import email.utils
import socket
import time

import pytest
from _openai_helpers import make_request
from agent_engine_core.llm import Credential
from agent_engine_core.secrets import Secret


@pytest.mark.parametrize("status", [408, 409, 429, 500, 502, 503, 529])
def test_openai_marks_statuses_another_attempt_may_cure_as_retryable(server, make_provider, fail, status):
    server.reply_error(status, "try again later")

    failure = fail(make_provider(), make_request())

    assert failure.retryable is True
    assert failure.status == status
    assert failure.provider == "openai"
    assert f"HTTP {status}" in str(failure)
    assert "try again later" in str(failure)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 413, 422])
def test_openai_marks_client_errors_as_final(server, make_provider, fail, status):
    server.reply_error(status, "you sent something wrong", type="invalid_request_error", code="bad_thing")

    failure = fail(make_provider(), make_request())

    assert failure.retryable is False
    assert failure.status == status
    assert "you sent something wrong (type: invalid_request_error, code: bad_thing)" in str(failure)


@pytest.mark.parametrize(("headers", "expected"), [
    ({"Retry-After": "7"}, 7.0),
    ({"Retry-After": "0.25"}, 0.25),
    ({"retry-after-ms": "1500", "Retry-After": "9"}, 1.5),
    ({"Retry-After": "soon"}, None),
    ({"Retry-After": "-3"}, None),
    ({}, None),
])
def test_openai_reads_how_long_the_server_asks_to_wait(server, make_provider, fail, headers, expected):
    server.reply_error(429, "Rate limit reached", type="requests", code="rate_limit_exceeded", headers=headers)

    failure = fail(make_provider(), make_request())

    assert failure.retry_after == expected


def test_openai_reads_a_retry_after_http_date(server, make_provider, fail):
    in_an_hour = email.utils.formatdate(time.time() + 3600, usegmt=True)
    server.reply_error(503, "overloaded", headers={"Retry-After": in_an_hour})

    failure = fail(make_provider(), make_request())

    assert failure.retryable is True
    assert 3000 < failure.retry_after <= 3600


def test_openai_reports_a_timeout_as_retryable(server, make_provider, fail):
    server.reply_delayed(10.0, "{}")

    failure = fail(make_provider(), make_request(timeout_s=0.2))

    assert failure.retryable is True
    assert failure.status is None
    assert "no answer" in str(failure)
    assert "0.2 s" in str(failure)


def test_openai_reports_an_unreachable_server_as_retryable(make_provider, fail, api_key):
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    credential = Credential("nowhere", "openai", Secret(api_key, origin="env:AGENT_ENGINE_TEST_API_KEY"),
                            f"http://127.0.0.1:{port}/v1")

    failure = fail(make_provider(credential=credential), make_request())

    assert failure.retryable is True
    assert failure.status is None
    assert f"cannot reach http://127.0.0.1:{port}/v1" in str(failure)


def test_openai_says_which_credential_a_refused_key_came_from_without_showing_it(
    server, make_provider, fail, api_key
):
    credential = Credential("openai_prod", "openai", Secret(api_key[::-1], origin="file:/run/keys/openai.json#key"),
                            server.base_url)

    failure = fail(make_provider(credential=credential), make_request())

    assert failure.status == 401
    assert failure.retryable is False
    assert "credential 'openai_prod' (file:/run/keys/openai.json#key)" in str(failure)
    assert api_key[::-1] not in str(failure)
    assert server.requests[0].authorized is False


@pytest.mark.parametrize("echo", [
    lambda key: {"error": {"message": f"Incorrect API key provided: {key}", "type": "invalid_request_error"}},
    lambda key: {"error": {"message": "denied", "type": "invalid_request_error", "code": key}},
    lambda key: {"detail": f"bad key {key}"},
    lambda key: f"Unauthorized: Bearer {key}",
])
def test_openai_never_puts_the_key_in_an_error_message_even_when_the_server_echoes_it(
    server, make_provider, fail, api_key, echo
):
    server.reply_status(401, echo(api_key))

    failure = fail(make_provider(), make_request())

    assert failure.status == 401
    assert api_key not in str(failure)
    assert api_key not in repr(failure.args)
    assert "********" in str(failure)
    assert "bearer" not in str(failure).lower().replace("bearer ********", "")


def test_openai_never_puts_request_headers_in_an_error_message(server, make_provider, fail):
    server.reply_error(500, "internal error")

    failure = fail(make_provider(), make_request())

    text = str(failure).lower()
    for header in ("authorization", "bearer", "x-stainless", "user-agent"):
        assert header not in text
    assert failure.__cause__ is None  # the SDK's exception (which holds the request) is not chained
    assert failure.__suppress_context__ is True
