"""The ``net.http_get`` tool: one GET through an httpx2 client, its body streamed and cut at ``max_bytes``.

Only ``http`` and ``https`` URLs are fetched, and only when the entry has ``allow_network: true``. Redirects
are followed (at most ``max_redirects``) when every hop is again http or https and, with ``allowed_hosts``, on
an allowed host; httpx2 drops ``Authorization`` when a redirect leaves the origin. The client is built for
the call and closed after it; it ignores proxy variables and ``.netrc`` (``trust_env=False``) unless the entry
names a ``proxy``.

``timeout_s`` bounds the whole call. httpx2's own timeouts apply to each socket operation, so a server sending
a byte just within every read timeout could hold a call for ever; the request therefore runs on an asyncio
client under ``asyncio.timeout`` (what httpx's maintainers recommend for a total timeout, encode/httpx#776,
#1450), which cancels it wherever it is: connecting, waiting for headers or reading the body.
"""

from __future__ import annotations

import asyncio
import codecs
import re
from collections.abc import Coroutine, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx2
from agent_engine_core.tools import ToolResult, ToolSetup

from agent_engine_tools_std._config import Option, read_config

__all__ = ["HttpGetTool"]

MiB = 1024 * 1024
SCHEMES = ("http", "https")
_TOKEN = re.compile(r"^[!#$%&'*+.^_`|~0-9A-Za-z-]+$")  # RFC 9110 field-name


class _Stop(Exception):
    """A redirect to a URL this tool may not fetch; the call ends with an environment error."""


class HttpGetTool:
    """``net.http_get``: ``{url, headers?}`` -> ``{url, status, headers, text, truncated}``.

    Any HTTP status is a successful call (a 404 is the server's answer); a refused connection, a timeout, a
    protocol error or a redirect this tool may not follow is an environment error.
    """

    def __init__(self, setup: ToolSetup) -> None:
        config = read_config("net.http_get", setup.spec.config, {
            "max_bytes": Option("int", default=MiB, minimum=0),
            "follow_redirects": Option("bool", default=True),
            "max_redirects": Option("int", default=5, minimum=0),
            "allowed_hosts": Option("str_list"),
            "proxy": Option("str"),
        })
        self.allow_network = setup.spec.allow_network
        self.timeout_s = setup.spec.timeout_s
        self.max_bytes: int = config["max_bytes"]
        self.follow_redirects: bool = config["follow_redirects"]
        self.max_redirects: int = config["max_redirects"]
        hosts = config["allowed_hosts"]
        self.allowed_hosts: frozenset[str] | None = None if hosts is None else frozenset(h.lower() for h in hosts)
        self.proxy: str | None = config["proxy"]
        if self.proxy is not None:
            try:
                httpx2.Proxy(self.proxy)
            except (ValueError, TypeError, httpx2.InvalidURL) as exc:
                raise ValueError(f"config.proxy of net.http_get is not a usable proxy URL: {exc}") from None
        self.description = (f"Fetch a URL with HTTP GET (http or https only) and return its status, headers "
                            f"and text (at most {self.max_bytes} bytes; longer bodies come back truncated).")
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "url": {"type": "string", "minLength": 1, "description": "An http:// or https:// URL."},
                "headers": {"type": "object", "additionalProperties": {"type": "string"},
                            "description": "Extra request headers, name to value."},
            },
            "required": ["url"],
            "additionalProperties": False,
        }

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Fetch the URL; the body is read only up to ``max_bytes``."""
        if not self.allow_network:
            return ToolResult.misuse("http_get needs allow_network: true in tools.yaml")
        url, headers = arguments.get("url"), arguments.get("headers", {})
        refusal = self._url_refusal(url) or _header_refusal(headers)
        if refusal is not None:
            return ToolResult.misuse(refusal)
        try:
            return _run(self._get(str(url), headers))
        except (_Stop, httpx2.HTTPError, TimeoutError) as exc:
            return ToolResult.environment(self._explain(exc, httpx2.URL(str(url)).host))

    def _explain(self, exc: Exception, host: str) -> str:
        if isinstance(exc, _Stop):
            return str(exc)
        if isinstance(exc, httpx2.TooManyRedirects):
            return f"too many redirects (config.max_redirects: {self.max_redirects})"
        if isinstance(exc, TimeoutError):
            return f"no complete answer from {host} within {self.timeout_s:g} s"
        if isinstance(exc, httpx2.ConnectError):
            return f"could not connect to {host}: {exc}"
        return f"the request to {host} failed: {type(exc).__name__}: {exc}"

    def _url_refusal(self, url: Any, *, hop: str = "url") -> str | None:
        if not isinstance(url, str):
            return f"{hop} must be a string"
        try:
            parsed = httpx2.URL(url)
        except (httpx2.InvalidURL, TypeError, ValueError) as exc:
            return f"{hop} is not a valid URL: {exc}"
        if parsed.scheme not in SCHEMES:
            return f"{hop} must use http or https, not '{parsed.scheme or '(none)'}'"
        if not parsed.host:
            return f"{hop} has no host"
        if self.allowed_hosts is not None and parsed.host.lower() not in self.allowed_hosts:
            allowed = ", ".join(sorted(self.allowed_hosts)) or "none"
            return f"host '{parsed.host}' is not allowed (config.allowed_hosts: {allowed})"
        return None

    async def _check_hop(self, request: httpx2.Request) -> None:
        """Event hook run before every request the client sends, redirects included."""
        refusal = self._url_refusal(str(request.url), hop="the redirect target")
        if refusal is not None:
            raise _Stop(f"the server redirected to {request.url.scheme}://{request.url.host}, which this tool "
                        f"may not follow: {refusal}")

    async def _get(self, url: str, headers: Mapping[str, str]) -> ToolResult:
        async with asyncio.timeout(self.timeout_s), httpx2.AsyncClient(
            timeout=None, follow_redirects=self.follow_redirects,  # the deadline above bounds every step
            max_redirects=self.max_redirects, trust_env=False, proxy=self.proxy,
            event_hooks={"request": [self._check_hop]},
        ) as client, client.stream("GET", url, headers=dict(headers)) as response:
            body = bytearray()
            truncated = False
            async for chunk in response.aiter_bytes():
                if len(body) + len(chunk) > self.max_bytes:
                    body += chunk[: self.max_bytes - len(body)]
                    truncated = True
                    break  # leaving the block closes the response: the rest is never read
                body += chunk
            return ToolResult.ok({
                "url": str(response.url),
                "status": response.status_code,
                "headers": _headers(response.headers),
                "text": _text(bytes(body), response.charset_encoding, complete=not truncated),
                "truncated": truncated,
            })


def _run(call: Coroutine[Any, Any, ToolResult]) -> ToolResult:
    """Run ``call`` on an event loop of its own.

    On a worker thread when this thread already runs a loop (a tool called from an async handler): a thread
    holds one running loop at most.
    """
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(call)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="http_get") as worker:
        return worker.submit(asyncio.run, call).result()


def _header_refusal(headers: Any) -> str | None:
    if not isinstance(headers, Mapping):
        return "headers must be an object of header names to string values"
    for name, value in headers.items():
        if not isinstance(name, str) or not _TOKEN.match(name):
            return f"header name {name!r} is not a valid HTTP field name"
        if not isinstance(value, str) or any(char in value for char in "\r\n\x00"):
            return f"the value of header '{name}' must be a string without line breaks"
    return None


def _headers(headers: httpx2.Headers) -> dict[str, str]:
    joined: dict[str, str] = {}
    for name, value in headers.multi_items():
        joined[name] = f"{joined[name]}, {value}" if name in joined else value
    return joined


def _text(body: bytes, charset: str | None, *, complete: bool) -> str:
    """The body decoded with the response's charset (UTF-8 if none or unknown); bad bytes become U+FFFD."""
    try:
        decoder = codecs.getincrementaldecoder(charset or "utf-8")("replace")
    except LookupError:
        decoder = codecs.getincrementaldecoder("utf-8")("replace")
    return decoder.decode(body, final=complete)
