"""An in-process fake of the Anthropic Messages API, for tests that drive the real ``anthropic`` SDK.

Usage::

    from _fake_anthropic import FakeAnthropic, text, tool_use

    with FakeAnthropic(expected_api_key=key) as server:
        server.enqueue_message(text("thinking..."), tool_use("read_file", {"path": "a.md"}))
        server.enqueue_message('{"title": "A"}', usage=(30, 4))
        client = anthropic.Anthropic(api_key=key, base_url=server.base_url, max_retries=0)
        ...
        assert server.problems == []
        body = server.requests[0].body

Interface (stable; the end-to-end tests import it too):

``FakeAnthropic(*, expected_api_key, lifetime_s=60.0, max_requests=200, max_body_bytes=4 MiB)``
    A ``ThreadingHTTPServer`` on ``127.0.0.1`` (a free port) serving from a daemon thread. ``with`` starts and
    stops it (or call ``start()`` / ``stop()``, both idempotent). It stops itself after ``lifetime_s`` seconds,
    answers HTTP 500 once it has received ``max_requests`` requests and 413 to bodies over ``max_body_bytes``.
``base_url``
    ``http://127.0.0.1:<port>`` -- the ``base_url`` of a client or of a credential.
``requests``
    A snapshot list of ``ReceivedRequest(method, path, headers, body, status)``, in arrival order, rejected
    requests included: ``headers`` has lower-cased names (and so holds the API key: never print it into a
    ledger), ``body`` is the parsed JSON (``None`` if it was not JSON), ``status`` what the fake answered.
    ``ReceivedRequest.api_key`` is the key it carried (``x-api-key``, else ``Authorization: Bearer``).
``problems``
    A snapshot list of what the fake objected to, as text: each 400 it answered and each request that found no
    scripted reply. ``assert server.problems == []`` in a test that expects only valid traffic.
``pending``
    How many scripted replies are still queued.
``enqueue_message(*blocks, model=None, stop_reason=None, usage=(12, 7), message_id=None, headers=None,
delay_s=0.0)``
    Queue a 200 Messages reply. A block is a ``str`` (a text block) or a dict (``text(...)``, ``tool_use(...)``
    or any raw content block). ``model`` defaults to the request's model, ``stop_reason`` to ``"tool_use"`` when a
    ``tool_use`` block is present and ``"end_turn"`` otherwise, ``usage`` is ``(input_tokens, output_tokens)``,
    ``message_id`` defaults to ``msg_fake_<n>``.
``enqueue_error(status, message="...", *, error_type=None, headers=None, delay_s=0.0)``
    Queue an Anthropic-style error ``{"type": "error", "error": {"type", "message"}, "request_id"}``;
    ``error_type`` defaults from the status (429 ``rate_limit_error``, 529 ``overloaded_error``, ...). Use
    ``headers={"retry-after": "2"}`` for ``Retry-After``.
``enqueue_raw(status, body, *, content_type="application/json", headers=None, delay_s=0.0)``
    Queue any bytes as the reply body.
``enqueue_malformed_json(*, status=200, delay_s=0.0)``
    Queue a JSON reply cut off in the middle.
``delay_s`` (every ``enqueue_*``)
    Wait that long before answering (cut short when the server stops): provokes client timeouts.
``text(text)``, ``tool_use(name, input, *, id=None)``
    Content block helpers (``id`` defaults to a fresh ``toolu_fake_<n>``).
``validate_messages_request(body) -> str | None``
    The request checks on their own: ``None`` for an acceptable ``POST /v1/messages`` body, else the problem.

Each request is checked in this order: the budget; the key (a missing or different key gets 401
``authentication_error``, without consuming a scripted reply); ``POST /v1/messages`` (else 404); the
``anthropic-version`` header and the body (else 400 ``invalid_request_error``); then the next scripted reply is
sent (none left: 500 and a problem). The body checks follow the real API for what the adapter uses:
``model``, ``max_tokens`` (integer >= 1), no unknown top-level field, ``stream`` not true, ``system`` a string or
text blocks, sampling parameters in range, tools with API-legal unique names (``^[a-zA-Z0-9_-]{1,64}$``) and
object ``input_schema``, a ``tool_choice`` naming an offered tool, and ``messages`` that alternate user /
assistant starting with user, with non-blank text, ``tool_use`` only in assistant turns, ``tool_result`` only in
user turns and before their other blocks, every ``tool_result`` answering a ``tool_use`` of the previous
assistant turn and every ``tool_use`` answered in the next turn.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

__all__ = [
    "API_TOOL_NAME",
    "FakeAnthropic",
    "ReceivedRequest",
    "text",
    "tool_use",
    "validate_messages_request",
]

API_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_TOOL_USE_ID = re.compile(r"^[a-zA-Z0-9_-]+$")
_FIELDS = frozenset({
    "model", "max_tokens", "messages", "system", "tools", "tool_choice", "stop_sequences", "temperature",
    "top_p", "top_k", "metadata", "stream", "thinking", "service_tier", "output_config",
})
_ERROR_TYPES = {
    400: "invalid_request_error", 401: "authentication_error", 402: "billing_error", 403: "permission_error",
    404: "not_found_error", 408: "timeout_error", 413: "request_too_large", 429: "rate_limit_error",
    500: "api_error", 504: "timeout_error", 529: "overloaded_error",
}
_ids = itertools.count(1)


def text(value: str) -> dict[str, Any]:
    """A text content block."""
    return {"type": "text", "text": value}


def tool_use(name: str, input: Mapping[str, Any], *, id: str | None = None) -> dict[str, Any]:
    """A ``tool_use`` content block (a fresh ``toolu_fake_<n>`` id unless given)."""
    return {"type": "tool_use", "id": id or f"toolu_fake_{next(_ids)}", "name": name, "input": dict(input)}


@dataclass(frozen=True)
class ReceivedRequest:
    """One request the fake received, and the status it answered."""

    method: str
    path: str
    headers: Mapping[str, str]
    body: Any
    status: int

    @property
    def api_key(self) -> str | None:
        """The key the request carried: ``x-api-key``, else the token of ``Authorization: Bearer``."""
        return _sent_key(self.headers)


@dataclass(frozen=True)
class _Scripted:
    status: int
    body: bytes | None  # None: a message reply, built when the request is known
    blocks: tuple[dict[str, Any], ...] = ()
    model: str | None = None
    stop_reason: str | None = None
    usage: tuple[int, int] = (12, 7)
    message_id: str | None = None
    content_type: str = "application/json"
    headers: tuple[tuple[str, str], ...] = ()
    delay_s: float = 0.0


class FakeAnthropic:
    """A scripted fake of ``POST /v1/messages``; see the module docstring for the whole interface."""

    def __init__(
        self, *, expected_api_key: str, lifetime_s: float = 60.0, max_requests: int = 200,
        max_body_bytes: int = 4 * 1024 * 1024,
    ) -> None:
        self.expected_api_key = expected_api_key
        self.lifetime_s = lifetime_s
        self.max_requests = max_requests
        self.max_body_bytes = max_body_bytes
        self._lock = threading.Lock()
        self._queue: deque[_Scripted] = deque()
        self._requests: list[ReceivedRequest] = []
        self._problems: list[str] = []
        self._stopping = threading.Event()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self._threads: list[threading.Thread] = []
        self._started = False

    # -- lifecycle ---------------------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>``."""
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> FakeAnthropic:
        """Serve from a daemon thread; stop by itself after ``lifetime_s``."""
        with self._lock:
            if self._started:
                return self
            self._started = True
        serve = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                 name="fake-anthropic", daemon=True)
        watchdog = threading.Thread(target=self._expire, name="fake-anthropic-watchdog", daemon=True)
        self._threads = [serve, watchdog]
        serve.start()
        watchdog.start()
        return self

    def stop(self) -> None:
        """Stop serving, wake delayed replies and release the port. Idempotent."""
        with self._lock:
            if self._stopping.is_set():
                return
            self._stopping.set()
            started = self._started
        if started:
            self._server.shutdown()
        self._server.server_close()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout=5)

    def _expire(self) -> None:
        if not self._stopping.wait(self.lifetime_s):
            threading.Thread(target=self.stop, daemon=True).start()

    def __enter__(self) -> FakeAnthropic:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # -- what happened -----------------------------------------------------------------------------------------

    @property
    def requests(self) -> list[ReceivedRequest]:
        """Every request received so far (a copy)."""
        with self._lock:
            return list(self._requests)

    @property
    def problems(self) -> list[str]:
        """Every objection so far (a copy): 400 messages, and requests that found no scripted reply."""
        with self._lock:
            return list(self._problems)

    @property
    def pending(self) -> int:
        """Scripted replies not used yet."""
        with self._lock:
            return len(self._queue)

    # -- scripting -----------------------------------------------------------------------------------------------

    def enqueue_message(
        self, *blocks: str | Mapping[str, Any], model: str | None = None, stop_reason: str | None = None,
        usage: tuple[int, int] = (12, 7), message_id: str | None = None,
        headers: Mapping[str, str] | None = None, delay_s: float = 0.0,
    ) -> None:
        """Queue a 200 Messages API reply with these content blocks."""
        content = tuple(text(b) if isinstance(b, str) else dict(b) for b in blocks)
        self._push(_Scripted(200, None, content, model, stop_reason, usage, message_id,
                             headers=tuple((headers or {}).items()), delay_s=delay_s))

    def enqueue_error(
        self, status: int, message: str = "scripted error", *, error_type: str | None = None,
        headers: Mapping[str, str] | None = None, delay_s: float = 0.0,
    ) -> None:
        """Queue an Anthropic-style error reply."""
        body = _error_body(status, message, error_type or _ERROR_TYPES.get(status, "api_error"))
        self._push(_Scripted(status, body, headers=tuple((headers or {}).items()), delay_s=delay_s))

    def enqueue_raw(
        self, status: int, body: bytes, *, content_type: str = "application/json",
        headers: Mapping[str, str] | None = None, delay_s: float = 0.0,
    ) -> None:
        """Queue any bytes as a reply."""
        self._push(_Scripted(status, body, content_type=content_type, headers=tuple((headers or {}).items()),
                             delay_s=delay_s))

    def enqueue_malformed_json(self, *, status: int = 200, delay_s: float = 0.0) -> None:
        """Queue a JSON body cut off in the middle."""
        self.enqueue_raw(status, b'{"id": "msg_fake_cut", "type": "message", "content": [{"type": "te',
                         delay_s=delay_s)

    def _push(self, scripted: _Scripted) -> None:
        with self._lock:
            self._queue.append(scripted)

    # -- answering ----------------------------------------------------------------------------------------------

    def _answer(
        self, method: str, path: str, headers: Mapping[str, str], body: Any
    ) -> tuple[int, bytes, str, tuple[tuple[str, str], ...], float]:
        """The reply to one request: status, body, content type, extra headers, delay; records the request."""
        with self._lock:
            count = len(self._requests) + 1
            scripted = None
            problem = None
            if count > self.max_requests:
                status, payload = 500, _error_body(500, "fake server: request budget exhausted", "api_error")
                problem = f"request {count} is over the budget of {self.max_requests}"
            elif not self._key_ok(headers):
                status, payload = 401, _error_body(401, "invalid x-api-key", "authentication_error")
            elif method != "POST" or path.split("?", maxsplit=1)[0] != "/v1/messages":
                status, payload = 404, _error_body(404, f"{method} {path} not found", "not_found_error")
            elif (problem := _check_request(headers, body)) is not None:
                status, payload = 400, _error_body(400, problem, "invalid_request_error")
            elif not self._queue:
                problem = "a valid request found no scripted reply"
                status, payload = 500, _error_body(500, f"fake server: {problem}", "api_error")
            else:
                scripted = self._queue.popleft()
                status = scripted.status
                payload = scripted.body if scripted.body is not None else _message_body(scripted, body)
            if problem is not None:
                self._problems.append(problem)
            self._requests.append(ReceivedRequest(method, path, dict(headers), body, status))
        if scripted is None:
            return status, payload, "application/json", (), 0.0
        return status, payload, scripted.content_type, scripted.headers, scripted.delay_s

    def _key_ok(self, headers: Mapping[str, str]) -> bool:
        sent = [headers[h] for h in ("x-api-key",) if h in headers]
        if "authorization" in headers:
            scheme, _, token = headers["authorization"].partition(" ")
            sent.append(token if scheme.lower() == "bearer" else "")
        return bool(sent) and all(s == self.expected_api_key for s in sent)

    def _wait(self, seconds: float) -> None:
        self._stopping.wait(seconds)


def _handler(fake: FakeAnthropic) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        timeout = 10  # an idle keep-alive connection is dropped after this many seconds

        def do_POST(self) -> None:
            self._serve()

        def do_GET(self) -> None:
            self._serve()

        def _serve(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            if length > fake.max_body_bytes:
                self.close_connection = True
                self._send(413, _error_body(413, "request body too large", "request_too_large"),
                           "application/json", ())
                return
            raw = self.rfile.read(length) if length else b""
            try:
                body = json.loads(raw) if raw else None
            except ValueError:
                body = None
            headers = {name.lower(): value for name, value in self.headers.items()}
            status, payload, content_type, extra, delay_s = fake._answer(self.command, self.path, headers, body)
            if delay_s:
                fake._wait(delay_s)
            self._send(status, payload, content_type, extra)

        def _send(self, status: int, payload: bytes, content_type: str, extra: tuple[tuple[str, str], ...]) -> None:
            try:
                self.send_response(status)
                self.send_header("content-type", content_type)
                self.send_header("content-length", str(len(payload)))
                self.send_header("request-id", f"req_fake_{next(_ids)}")
                for name, value in extra:
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(payload)
                self.wfile.flush()
            except OSError:  # the client gave up (a timeout test): nothing left to tell it
                self.close_connection = True

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: tests read ``requests`` instead."""

    return Handler


def _sent_key(headers: Mapping[str, str]) -> str | None:
    if "x-api-key" in headers:
        return headers["x-api-key"]
    scheme, _, token = headers.get("authorization", "").partition(" ")
    return token if scheme.lower() == "bearer" and token else None


def _error_body(status: int, message: str, error_type: str) -> bytes:
    return json.dumps({"type": "error", "error": {"type": error_type, "message": message},
                       "request_id": f"req_fake_{status}"}).encode()


def _message_body(scripted: _Scripted, request: Any) -> bytes:
    has_tool_use = any(b.get("type") == "tool_use" for b in scripted.blocks)
    model = scripted.model or (request.get("model") if isinstance(request, dict) else None) or "claude-fake"
    return json.dumps({
        "id": scripted.message_id or f"msg_fake_{next(_ids)}",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": list(scripted.blocks),
        "stop_reason": scripted.stop_reason or ("tool_use" if has_tool_use else "end_turn"),
        "stop_sequence": None,
        "usage": {"input_tokens": scripted.usage[0], "output_tokens": scripted.usage[1]},
    }).encode()


# -- request validation -------------------------------------------------------------------------------------------


class _Invalid(Exception):
    """A request problem, worded like the API's ``invalid_request_error`` messages."""


def _require(condition: object, problem: str) -> None:
    if not condition:
        raise _Invalid(problem)


def _check_request(headers: Mapping[str, str], body: Any) -> str | None:
    if not headers.get("anthropic-version"):
        return "anthropic-version: header is required"
    return validate_messages_request(body)


def validate_messages_request(body: Any) -> str | None:
    """``None`` if ``body`` is an acceptable Messages API request body, else what is wrong with it."""
    try:
        _require(isinstance(body, dict), "the request body must be a JSON object")
        _check_fields(body)
        _check_sampling(body)
        _check_tools(body)
        _check_messages(body)
    except _Invalid as problem:
        return str(problem)
    return None


def _check_fields(body: dict[str, Any]) -> None:
    for name in sorted(set(body) - _FIELDS):
        raise _Invalid(f"{name}: Extra inputs are not permitted")
    _require(isinstance(body.get("model"), str) and body["model"], "model: Field required (a non-empty string)")
    _require(_is_int(body.get("max_tokens")) and body["max_tokens"] >= 1,
             "max_tokens: Field required (an integer >= 1)")
    _require(body.get("stream") is not True, "stream: this fake serves non-streaming requests only")
    system = body.get("system")
    _require(system is None or isinstance(system, str)
             or (isinstance(system, list) and all(_is_text_block(b) for b in system)),
             "system: must be a string or a list of text blocks")


def _check_sampling(body: dict[str, Any]) -> None:
    for name in ("temperature", "top_p"):
        value = body.get(name)
        _require(value is None or (_is_number(value) and 0 <= value <= 1), f"{name}: must be a number from 0 to 1")
    top_k = body.get("top_k")
    _require(top_k is None or (_is_int(top_k) and top_k >= 0), "top_k: must be a non-negative integer")
    stop = body.get("stop_sequences")
    _require(stop is None or (isinstance(stop, list) and all(isinstance(s, str) for s in stop)),
             "stop_sequences: must be a list of strings")


def _check_tools(body: dict[str, Any]) -> None:
    tools = body.get("tools", [])
    _require(isinstance(tools, list), "tools: must be a list")
    names: list[str] = []
    for index, tool in enumerate(tools):
        where = f"tools.{index}"
        _require(isinstance(tool, dict) and isinstance(tool.get("name"), str), f"{where}.name: Field required")
        _require(API_TOOL_NAME.match(tool["name"]), f"{where}.name: String should match pattern "
                                                    f"'{API_TOOL_NAME.pattern}'")
        _require(tool["name"] not in names, f"tools: Tool names must be unique ('{tool['name']}')")
        names.append(tool["name"])
        schema = tool.get("input_schema")
        _require(isinstance(schema, dict) and schema.get("type") == "object",
                 f"{where}.input_schema.type: Input should be 'object'")
        _require(isinstance(tool.get("description", ""), str), f"{where}.description: must be a string")
        for extra in sorted(set(tool) - {"name", "description", "input_schema", "cache_control", "strict"}):
            raise _Invalid(f"{where}.{extra}: Extra inputs are not permitted")
    choice = body.get("tool_choice")
    if choice is None:
        return
    _require(isinstance(choice, dict) and choice.get("type") in ("auto", "any", "tool", "none"),
             "tool_choice.type: must be one of auto, any, tool, none")
    _require(choice["type"] not in ("any", "tool") or names, f"tool_choice: type '{choice['type']}' needs tools")
    _require(choice["type"] != "tool" or choice.get("name") in names,
             f"tool_choice.name: no tool named {choice.get('name')!r}")


def _check_messages(body: dict[str, Any]) -> None:
    messages = body.get("messages")
    _require(isinstance(messages, list) and messages, "messages: Field required (a non-empty list)")
    previous_uses: set[str] = set()
    for index, message in enumerate(messages or []):
        where = f"messages.{index}"
        _require(isinstance(message, dict) and message.get("role") in ("user", "assistant"),
                 f"{where}.role: must be 'user' or 'assistant'")
        role = message["role"]
        _require(role == ("user" if index % 2 == 0 else "assistant"),
                 f"{where}.role: roles must alternate between 'user' and 'assistant', starting with 'user'")
        blocks = _blocks(message.get("content"))
        _require(blocks, f"{where}.content: must be a non-blank string or a non-empty list of content blocks")
        answered: set[str] = set()
        for position in range(len(blocks or ())):
            _check_block(f"{where}.content.{position}", role, blocks or [], position, previous_uses, answered)
        unanswered = sorted(previous_uses - answered)
        _require(not unanswered, f"{where}: tool_use ids were found without tool_result blocks immediately after: "
                                 f"{', '.join(unanswered)}")
        previous_uses = {b["id"] for b in blocks or () if b.get("type") == "tool_use"}


def _blocks(content: Any) -> list[dict[str, Any]] | None:
    if isinstance(content, str):
        return [text(content)] if content.strip() else None
    if isinstance(content, list) and content and all(isinstance(b, dict) for b in content):
        return content
    return None


def _check_block(
    at: str, role: str, blocks: list[dict[str, Any]], position: int, previous_uses: set[str], answered: set[str]
) -> None:
    block = blocks[position]
    kind = block.get("type")
    if kind == "text":
        _require(_is_text_block(block), f"{at}: text content blocks must contain non-whitespace text")
    elif kind == "tool_use":
        _require(role == "assistant", f"{at}: tool_use blocks are only allowed in assistant messages")
        _require(isinstance(block.get("id"), str) and _TOOL_USE_ID.match(block["id"]),
                 f"{at}.id: String should match pattern '{_TOOL_USE_ID.pattern}'")
        _require(isinstance(block.get("name"), str) and API_TOOL_NAME.match(block["name"]),
                 f"{at}.name: String should match pattern '{API_TOOL_NAME.pattern}'")
        _require(isinstance(block.get("input"), dict), f"{at}.input: must be an object")
    elif kind == "tool_result":
        _require(role == "user", f"{at}: tool_result blocks are only allowed in user messages")
        first_other = next((i for i, b in enumerate(blocks) if b.get("type") != "tool_result"), len(blocks))
        _require(position < first_other,
                 f"{at}: tool_result blocks must come first in the content of a user message")
        _require(block.get("tool_use_id") in previous_uses,
                 f"{at}: unexpected tool_use_id {block.get('tool_use_id')!r} in tool_result blocks: each "
                 "tool_result must answer a tool_use of the previous message")
        content = block.get("content", "")
        _require(isinstance(content, str) or (isinstance(content, list) and all(_is_text_block(b) for b in content)),
                 f"{at}.content: must be a string or a list of text blocks")
        answered.add(block["tool_use_id"])
    else:
        raise _Invalid(f"{at}.type: this fake does not accept {kind!r} blocks")


def _is_text_block(block: Any) -> bool:
    return (isinstance(block, dict) and block.get("type") == "text" and isinstance(block.get("text"), str)
            and bool(block["text"].strip()))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
