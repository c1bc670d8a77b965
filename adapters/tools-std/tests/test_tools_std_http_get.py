"""net.http_get against a local http.server on 127.0.0.1: results, caps, statuses, redirects, failures.

No test leaves the machine: every URL is the local server's, or a closed port on 127.0.0.1.
"""

from __future__ import annotations

import asyncio
import json
import os
import socket
import threading
import time
import urllib.parse

import pytest
from _tools_std_kit import as_text, build
from agent_engine_core.errors import ToolError
from agent_engine_core.testing import CANARY_ENV
from agent_engine_core.tools import ToolStatus


def fetch(url, *, config=None, timeout_s=10.0, **arguments):
    tool = build("net.http_get", allow_network=True, timeout_s=timeout_s, config=config or {})
    return tool.invoke({"url": url, **arguments})


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_page_comes_back_with_status_headers_and_text(server):
    result = fetch(f"{server.url}/text")
    assert result.status is ToolStatus.SUCCESS
    output = result.output
    assert (output["url"], output["status"], output["text"], output["truncated"]) == (
        f"{server.url}/text", 200, "hello", False)
    assert output["headers"]["content-type"] == "text/plain; charset=utf-8"
    assert output["headers"]["x-demo"] == "yes"


def test_the_text_is_decoded_with_the_response_charset(server):
    assert fetch(f"{server.url}/latin1").output["text"] == "caf\u00e9"


def test_the_body_is_cut_at_max_bytes_and_flagged(server):
    result = fetch(f"{server.url}/big?n=5000000", config={"max_bytes": 1000})
    assert result.output["text"] == "a" * 1000 and result.output["truncated"] is True
    exact = fetch(f"{server.url}/big?n=1000", config={"max_bytes": 1000})
    assert exact.output["truncated"] is False and len(exact.output["text"]) == 1000


@pytest.mark.parametrize("status", [404, 500, 418])
def test_statuses_other_than_2xx_are_results_not_errors(server, status):
    result = fetch(f"{server.url}/status/{status}")
    assert result.status is ToolStatus.SUCCESS
    assert (result.output["status"], result.output["text"]) == (status, "nope")


def test_request_headers_are_sent(server):
    result = fetch(f"{server.url}/headers", headers={"X-Trace": "abc", "Accept": "application/json"})
    sent = json.loads(result.output["text"])
    assert sent["x-trace"] == "abc" and sent["accept"] == "application/json"


@pytest.mark.parametrize("headers", [{"X-Bad": "a\r\nInjected: 1"}, {"Bad Name": "x"}, {"": "x"}])
def test_malformed_headers_are_misuse(server, headers):
    result = fetch(f"{server.url}/text", headers=headers)
    assert result.status is ToolStatus.FAILURE
    assert server.hits == []


def test_a_refused_connection_is_an_environment_error():
    result = fetch(f"http://127.0.0.1:{closed_port()}/")
    assert result.status is ToolStatus.ERROR
    assert result.error.startswith("could not connect to 127.0.0.1:")


def test_a_slow_server_is_an_environment_error_after_the_entry_timeout(server):
    began = time.monotonic()
    result = fetch(f"{server.url}/slow?s=3", timeout_s=0.5)
    assert time.monotonic() - began < 2.5
    assert (result.status, result.error) == (ToolStatus.ERROR, "no complete answer from 127.0.0.1 within 0.5 s")


def test_a_call_from_a_coroutine_runs_beside_the_running_loop(server):
    """An async handler calling the tool: the fetch gets its own loop, as a thread runs one at most."""
    async def handler():
        return fetch(f"{server.url}/text")
    assert asyncio.run(handler()).output["text"] == "hello"


def test_redirects_within_http_are_followed(server):
    target = urllib.parse.quote(f"{server.url}/text")
    result = fetch(f"{server.url}/redirect?to={target}")
    assert (result.output["status"], result.output["url"], result.output["text"]) == (
        200, f"{server.url}/text", "hello")


def test_redirects_are_not_followed_when_switched_off(server):
    result = fetch(f"{server.url}/redirect?to=/text", config={"follow_redirects": False})
    assert result.output["status"] == 302 and result.output["headers"]["location"] == "/text"
    assert server.hits == ["/redirect?to=/text"]


@pytest.mark.parametrize("location", ["file:///etc/passwd", "ftp://127.0.0.1/x"])
def test_a_redirect_to_another_scheme_is_an_environment_error(server, location):
    result = fetch(f"{server.url}/redirect?to={urllib.parse.quote(location)}")
    assert result.status is ToolStatus.ERROR
    assert "which this tool may not follow" in result.error and "root:" not in json.dumps(result.to_dict())


def test_allowed_hosts_applies_to_the_url_and_to_every_redirect(server):
    port = server.url.rsplit(":", 1)[1]
    config = {"allowed_hosts": ["127.0.0.1"]}
    assert fetch(f"{server.url}/text", config=config).output["text"] == "hello"
    refused = fetch(f"http://localhost:{port}/text", config=config)
    assert (refused.status, refused.error) == (
        ToolStatus.FAILURE, "host 'localhost' is not allowed (config.allowed_hosts: 127.0.0.1)")
    hop = fetch(f"{server.url}/redirect?to={urllib.parse.quote(f'http://localhost:{port}/text')}", config=config)
    assert hop.status is ToolStatus.ERROR and "host 'localhost' is not allowed" in hop.error
    assert "/text" in server.hits and server.hits.count("/text") == 1  # the redirect was not followed


def test_too_many_redirects_is_an_environment_error(server):
    loop = f"/redirect?to={urllib.parse.quote('/redirect?to=/text')}"
    assert fetch(f"{server.url}{loop}", config={"max_redirects": 2}).output["text"] == "hello"
    result = fetch(f"{server.url}{loop}", config={"max_redirects": 1})
    assert (result.status, result.error) == (ToolStatus.ERROR, "too many redirects (config.max_redirects: 1)")


def test_config_is_checked_when_the_tool_is_built():
    with pytest.raises(ToolError, match="has no config key 'timeout'"):
        build("net.http_get", config={"timeout": 3})
    with pytest.raises(ValueError, match=r"config\.proxy of net\.http_get is not a usable proxy URL"):
        build("net.http_get", config={"proxy": "not a url"})



def test_a_key_sent_as_a_header_reaches_the_server_only_and_not_another_origin(server, secret_ledger):
    """The session's canary key goes out as ``Authorization``; no result or log line (httpx2's debug lines
    included: the ledger collects them) contains it, and a redirect to another origin does not carry it."""
    key = os.environ[CANARY_ENV]
    result = fetch(f"{server.url}/text", headers={"Authorization": f"Bearer {key}"})
    assert server.headers[-1]["authorization"] == f"Bearer {key}"
    secret_ledger.servers_that_saw_it.add("tools-std")
    port = server.url.rsplit(":", 1)[1]
    hop = fetch(f"{server.url}/redirect?to={urllib.parse.quote(f'http://localhost:{port}/text')}",
                headers={"Authorization": f"Bearer {key}"})
    assert hop.output["text"] == "hello" and server.hits[-1] == "/text"
    assert "authorization" not in server.headers[-1]
    for answer in (result, hop):
        secret_ledger.add(answer, as_text(answer))
        assert key not in as_text(answer)



class Trickler:
    """A server on 127.0.0.1 answering one request: the reply's first ``at_once`` bytes together, then one byte
    every ``gap_s``. Its loop is bounded by the reply and ends by itself when the reply is out, when the client
    hangs up, or when the test ends."""

    def __init__(self, reply: bytes, at_once: int = 0, gap_s: float = 0.25) -> None:
        self.reply, self.at_once, self.gap_s = reply, at_once, gap_s
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.listener.settimeout(10)
        self.stop = threading.Event()
        self.sent = 0  # how many bytes of the reply are out
        self.thread = threading.Thread(target=self._serve, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.listener.getsockname()[1]}/"

    def _serve(self) -> None:
        try:
            connection, _ = self.listener.accept()
        except OSError:
            return
        with connection:
            try:
                connection.recv(65536)
                connection.sendall(self.reply[:self.at_once])
                self.sent = self.at_once
                while self.sent < len(self.reply) and not self.stop.wait(self.gap_s):
                    connection.sendall(self.reply[self.sent:self.sent + 1])
                    self.sent += 1
            except OSError:  # the client gave up
                return

    def __enter__(self) -> Trickler:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop.set()
        self.listener.close()
        self.thread.join(10)


HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 80\r\n\r\n"


@pytest.mark.parametrize(("at_once", "part"), [(0, len(HEAD)), (len(HEAD), len(HEAD) + 80)], ids=["headers", "body"])
def test_the_timeout_bounds_the_whole_call_not_each_read(at_once, part):
    """The headers (or, after headers sent at once, the body) come a byte every 0.25 s: every read gets a byte
    well within the timeout, yet the call ends with a timeout error while that part is still being sent
    (~16 s of headers, ~20 s of body): ``timeout_s`` bounds the call, not each socket read."""
    with Trickler(HEAD + b"b" * 80, at_once=at_once) as server:
        result = fetch(server.url, timeout_s=1.0)
        assert server.sent < part  # the call came back before the server had sent that part
    assert (result.status, result.error) == (ToolStatus.ERROR, "no complete answer from 127.0.0.1 within 1 s")
