"""An in-process fake of the OpenAI Chat Completions API, for tests that drive the real ``openai`` SDK.

It listens on 127.0.0.1 (a free port), serves each request in a daemon thread, answers from a queue of scripted
replies, and stops by itself after ``lifetime_s`` if nobody stops it first. Stable interface (other test modules,
the end-to-end tests among them, import it as ``from _fake_openai import FakeOpenAI``)::

    with FakeOpenAI(expected_api_key=key) as server:   # or server.start() ... server.stop()
        server.base_url          # "http://127.0.0.1:<port>/v1": the credential's base_url
        server.reply_chat('{"title": "A"}', usage=(12, 5))                   # enqueue replies, served in order
        server.reply_chat(None, tool_calls=[{"name": "search", "arguments": {"q": "x"}}])
        server.reply_error(429, "Rate limit reached", headers={"Retry-After": "2"})
        server.reply_status(500, {"error": {"message": "boom"}})
        server.reply_malformed('{"choices": [')
        server.reply_delayed(5.0, '{"late": true}')   # answers after 5 s (or when the server stops)
        ...
        server.requests          # list[ReceivedRequest], every request received, in arrival order
        server.accepted_key      # True once a request came with "Authorization: Bearer <expected_api_key>"
        server.pending           # scripted replies not yet served
        server.wait_stopped(5.0) # True once stopped (after ``stop()`` or at the end of ``lifetime_s``)

``FakeOpenAI(*, expected_api_key: str, lifetime_s: float = 120.0, max_delay_s: float = 30.0)``

- ``reply_chat(content: str | None = None, *, tool_calls: Sequence[Mapping] = (), model: str = "gpt-fake",
  usage: tuple[int, int] | None = (10, 5), finish_reason: str | None = None, response_id: str | None = None,
  refusal: str | None = None) -> dict`` -- a chat completion; each tool call is ``{"name", "arguments"}`` plus
  an optional ``"id"`` (default ``call_<n>``); ``arguments`` is a mapping (sent as JSON text) or a string (sent
  as it is, to script broken arguments). ``finish_reason`` defaults to ``tool_calls`` or ``stop``; ``usage`` is
  ``(prompt_tokens, completion_tokens)`` or None to leave usage out. Returns the body it will send.
- ``reply_error(status: int, message: str, *, type: str = "server_error", code: str | None = None,
  headers: Mapping[str, str] | None = None) -> None`` -- an OpenAI-style error body.
- ``reply_status(status: int, body: Any, *, headers: Mapping[str, str] | None = None) -> None`` -- any status
  with ``body`` sent as JSON.
- ``reply_malformed(text: str = ..., *, status: int = 200, content_type: str = "application/json") -> None``
  -- ``text`` as the body, whatever it is.
- ``reply_delayed(delay_s: float, content: str | None = None, **chat) -> dict`` -- ``reply_chat`` after
  ``delay_s`` seconds (at most ``max_delay_s``); a client that times out first just goes away.
- every ``reply_*`` also takes ``when: Callable[[dict], bool] | None = None``: the reply is served only to a
  request whose decoded body matches (the first matching reply in queue order; replies without ``when`` match
  any request). Concurrent fan-outs reach the server in no fixed order: ``when=for_node("draft")`` picks the
  requests of one agent node, whose first user message is the engine's ``{"node": "draft", "input": ...}``.

``ReceivedRequest(method: str, path: str, headers: dict[str, str], body: Any, authorized: bool, status: int)``:
header names are lower-cased, and every occurrence of the expected key in a header value is replaced by
``********`` (so a failing assertion never prints the key); ``body`` is the decoded JSON (None if it was not
JSON); ``status`` is what the fake answered.

Before a scripted reply is used, each request is checked the way the real API would check what the adapter
sends, and refused with the API's own statuses and error shape (``{"error": {"message", "type", "param",
"code"}}``): 401 unless ``Authorization: Bearer <expected_api_key>``; 404 for anything but ``POST
/v1/chat/completions``; 400 for a body that is not a JSON object or that ``validate_chat_request`` rejects
(``model`` and ``messages`` present, message roles and shapes, tool messages answering the tool calls of the
assistant message before them, every tool call answered, tools and ``response_format`` well-formed, sampling
options in range, unknown top-level keys, ``stream: true``). A refused request consumes no scripted reply.
When the queue is empty, a valid request gets HTTP 400 with type ``fake_server_exhausted``.

``validate_chat_request(body: Any) -> str | None`` is the same check as a pure function (the message, or None).
"""

from __future__ import annotations

import collections
import itertools
import json
import math
import re
import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any

__all__ = ["FakeOpenAI", "Match", "ReceivedRequest", "for_node", "validate_chat_request"]

MAX_BODY_BYTES = 4 * 1024 * 1024
MAX_RECORDED = 10_000
_MASK = "********"
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_KNOWN_KEYS = frozenset({
    "model", "messages", "stream", "stream_options", "tools", "tool_choice", "parallel_tool_calls",
    "response_format", "temperature", "top_p", "max_tokens", "max_completion_tokens", "seed",
    "frequency_penalty", "presence_penalty", "stop", "reasoning_effort", "n", "user", "logprobs",
    "top_logprobs", "logit_bias", "store", "metadata", "service_tier", "prompt_cache_key", "verbosity",
})
_RANGES = {"temperature": (0.0, 2.0), "top_p": (0.0, 1.0), "frequency_penalty": (-2.0, 2.0),
           "presence_penalty": (-2.0, 2.0)}


@dataclass(frozen=True, slots=True)
class ReceivedRequest:
    """One request the fake received (the expected key masked in ``headers``)."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    authorized: bool
    status: int


Match = Callable[[dict[str, Any]], bool]
"""A predicate over a request's decoded body: which requests a scripted reply may answer."""


@dataclass(frozen=True, slots=True)
class _Scripted:
    status: int
    body: bytes
    headers: tuple[tuple[str, str], ...]
    delay_s: float = 0.0
    when: Match | None = None

    def answers(self, body: dict[str, Any]) -> bool:
        if self.when is None:
            return True
        try:
            return bool(self.when(body))
        except Exception:  # a broken predicate matches nothing rather than killing the handler thread
            return False


class FakeOpenAI:
    """A scripted Chat Completions server on 127.0.0.1; see the module docstring for the interface."""

    def __init__(self, *, expected_api_key: str, lifetime_s: float = 120.0, max_delay_s: float = 30.0) -> None:
        if not expected_api_key:
            raise ValueError("expected_api_key must not be empty")
        self.expected_api_key = expected_api_key
        self.lifetime_s = lifetime_s
        self.max_delay_s = max_delay_s
        self.requests: list[ReceivedRequest] = []
        self._script: collections.deque[_Scripted] = collections.deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._stopped = threading.Event()
        self._ids = itertools.count(1)
        self._calls = itertools.count(1)
        self._accepted = False
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self._timer: threading.Timer | None = None

    # -- lifecycle ----------------------------------------------------------------------------------------------

    def start(self) -> FakeOpenAI:
        """Listen and serve in a daemon thread; the server stops itself after ``lifetime_s``."""
        if self._server is not None:
            raise RuntimeError("the fake OpenAI server is already started")
        self._server = _Server(self)
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="fake-openai", daemon=True)
        self._thread.start()
        self._timer = threading.Timer(self.lifetime_s, self.stop)
        self._timer.daemon = True
        self._timer.start()
        return self

    def stop(self) -> None:
        """Stop serving and close the socket (idempotent); delayed replies still waiting are dropped."""
        self._stopping.set()
        with self._lock:
            server, self._server = self._server, None
            timer, self._timer = self._timer, None
        if timer is not None and timer is not threading.current_thread():
            timer.cancel()
        if server is not None:
            server.shutdown()
            server.server_close()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._stopped.set()

    def wait_stopped(self, timeout_s: float) -> bool:
        """Wait until the server has stopped (by ``stop()`` or at the end of its lifetime); False on timeout."""
        return self._stopped.wait(timeout_s)

    def __enter__(self) -> FakeOpenAI:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def base_url(self) -> str:
        """``http://127.0.0.1:<port>/v1``."""
        if self._server is None:
            raise RuntimeError("the fake OpenAI server is not running")
        return f"http://127.0.0.1:{self._server.server_address[1]}/v1"

    @property
    def accepted_key(self) -> bool:
        """Whether some request came with the expected key."""
        return self._accepted

    @property
    def pending(self) -> int:
        """How many scripted replies have not been served yet."""
        with self._lock:
            return len(self._script)

    # -- scripting ----------------------------------------------------------------------------------------------

    def reply_chat(
        self, content: str | None = None, *, tool_calls: Sequence[Mapping[str, Any]] = (), model: str = "gpt-fake",
        usage: tuple[int, int] | None = (10, 5), finish_reason: str | None = None, response_id: str | None = None,
        refusal: str | None = None, when: Match | None = None,
    ) -> dict[str, Any]:
        """Enqueue a chat completion; returns the body that will be sent."""
        return self._chat(0.0, content, tool_calls=tool_calls, model=model, usage=usage, finish_reason=finish_reason,
                          response_id=response_id, refusal=refusal, when=when)

    def reply_delayed(self, delay_s: float, content: str | None = None, **chat: Any) -> dict[str, Any]:
        """Enqueue a chat completion (``reply_chat``'s options) sent after ``delay_s`` s, at most ``max_delay_s``."""
        return self._chat(min(delay_s, self.max_delay_s), content, **chat)

    def reply_error(
        self, status: int, message: str, *, type: str = "server_error", code: str | None = None,
        headers: Mapping[str, str] | None = None, when: Match | None = None,
    ) -> None:
        """Enqueue an OpenAI-style error reply."""
        self.reply_status(status, _error_body(message, type, code=code), headers=headers, when=when)

    def reply_status(
        self, status: int, body: Any, *, headers: Mapping[str, str] | None = None, when: Match | None = None
    ) -> None:
        """Enqueue ``status`` with ``body`` encoded as JSON."""
        self._enqueue(_Scripted(status, json.dumps(body).encode(), _headers(headers), when=when))

    def reply_malformed(
        self, text: str = '{"id": "chatcmpl-broken", "choices": [', *, status: int = 200,
        content_type: str = "application/json", when: Match | None = None,
    ) -> None:
        """Enqueue ``text`` as the body as it is (by default: JSON cut short)."""
        self._enqueue(_Scripted(status, text.encode(), (("Content-Type", content_type),), when=when))

    def _chat(
        self, delay_s: float, content: str | None, *, tool_calls: Sequence[Mapping[str, Any]] = (),
        model: str = "gpt-fake", usage: tuple[int, int] | None = (10, 5), finish_reason: str | None = None,
        response_id: str | None = None, refusal: str | None = None, when: Match | None = None,
    ) -> dict[str, Any]:
        message: dict[str, Any] = {"role": "assistant", "content": content, "refusal": refusal}
        if tool_calls:
            message["tool_calls"] = [self._tool_call(call) for call in tool_calls]
        body: dict[str, Any] = {
            "id": response_id or f"chatcmpl-fake-{next(self._ids)}",
            "object": "chat.completion",
            "created": 1_700_000_000,
            "model": model,
            "choices": [{
                "index": 0,
                "message": message,
                "logprobs": None,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
            }],
        }
        if usage is not None:
            body["usage"] = {"prompt_tokens": usage[0], "completion_tokens": usage[1],
                             "total_tokens": usage[0] + usage[1]}
        self._enqueue(_Scripted(200, json.dumps(body).encode(), _headers(None), delay_s, when))
        return body

    def _tool_call(self, call: Mapping[str, Any]) -> dict[str, Any]:
        arguments = call.get("arguments", {})
        return {
            "id": call.get("id") or f"call_{next(self._calls)}",
            "type": "function",
            "function": {"name": call["name"],
                         "arguments": arguments if isinstance(arguments, str) else json.dumps(arguments)},
        }

    def _enqueue(self, scripted: _Scripted) -> None:
        with self._lock:
            self._script.append(scripted)

    # -- serving (called from the handler threads) --------------------------------------------------------------

    def _answer(self, method: str, path: str, headers: dict[str, str], raw: bytes | None) -> _Scripted:
        body: Any = None
        if raw is not None:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        authorization = headers.get("authorization")
        authorized = authorization == f"Bearer {self.expected_api_key}"
        reply = self._decide(method, path, authorization, authorized, raw, body)
        masked = {name: value.replace(self.expected_api_key, _MASK) for name, value in headers.items()}
        with self._lock:
            self._accepted = self._accepted or authorized
            if len(self.requests) < MAX_RECORDED:
                self.requests.append(ReceivedRequest(method, path, masked, body, authorized, reply.status))
        return reply

    def _decide(  # noqa: PLR0911 - one return per check, in the order the API makes them
        self, method: str, path: str, authorization: str | None, authorized: bool, raw: bytes | None, body: Any
    ) -> _Scripted:
        if not authorized:
            return _refusal(401, _unauthorized(authorization), "invalid_request_error", code="invalid_api_key")
        if method != "POST" or path.split("?", maxsplit=1)[0] != "/v1/chat/completions":
            return _refusal(404, f"Invalid URL ({method} {path})", "invalid_request_error")
        if raw is None:
            return _refusal(413, f"the body is larger than {MAX_BODY_BYTES} bytes", "invalid_request_error")
        if not isinstance(body, dict):
            return _refusal(400, "We could not parse the JSON body of your request. (HINT: This likely means "
                                 "you aren't using your HTTP library correctly.)", "invalid_request_error")
        problem = validate_chat_request(body)
        if problem is not None:
            return _refusal(400, problem, "invalid_request_error")
        with self._lock:
            for scripted in self._script:
                if scripted.answers(body):
                    self._script.remove(scripted)
                    return scripted
        return _refusal(400, "the fake OpenAI server has no scripted reply left for this request",
                        "fake_server_exhausted")

    def _wait(self, delay_s: float) -> bool:
        """Sleep ``delay_s`` unless the server stops first; True if it is still running."""
        return not self._stopping.wait(delay_s)


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False

    def __init__(self, fake: FakeOpenAI) -> None:
        self.fake = fake
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Quiet: a client that went away (a timeout test) is not an error of the fake."""


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.0"  # one request per connection: nothing lingers after a test
    timeout = 10

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._serve(b"")

    def do_DELETE(self) -> None:
        self._serve(b"")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        self._serve(self.rfile.read(length) if length <= MAX_BODY_BYTES else None)

    def _serve(self, raw: bytes | None) -> None:
        """Answer one request; ``raw`` is the body, None when it was too large to read."""
        headers = {name.lower(): value for name, value in self.headers.items()}
        fake = self.server.fake
        reply = fake._answer(self.command, self.path, headers, raw)
        if reply.delay_s and not fake._wait(reply.delay_s):
            return
        try:
            self.send_response(reply.status)
            names = {name.lower() for name, _ in reply.headers}
            for name, value in reply.headers:
                self.send_header(name, value)
            if "content-type" not in names:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(reply.body)))
            self.send_header("x-request-id", "req_fake")
            self.end_headers()
            self.wfile.write(reply.body)
        except OSError:
            return  # the client gave up (timed out) before the reply


def for_node(node_id: str) -> Match:
    """A ``when=`` predicate: requests of the agent node ``node_id`` (the engine's first user message names it)."""

    def match(body: dict[str, Any]) -> bool:
        first = next((m for m in body.get("messages", ()) if isinstance(m, dict) and m.get("role") == "user"), None)
        try:
            sent = json.loads(first["content"]) if first is not None else None
        except (TypeError, ValueError):
            return False
        return isinstance(sent, dict) and sent.get("node") == node_id

    return match


def _headers(headers: Mapping[str, str] | None) -> tuple[tuple[str, str], ...]:
    return (("Content-Type", "application/json"), *((headers or {}).items()))


def _error_body(message: str, kind: str, *, param: str | None = None, code: str | None = None) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": param, "code": code}}


def _refusal(status: int, message: str, kind: str, *, code: str | None = None) -> _Scripted:
    return _Scripted(status, json.dumps(_error_body(message, kind, code=code)).encode(), _headers(None))


def _unauthorized(authorization: str | None) -> str:
    if not authorization or not authorization.startswith("Bearer "):
        return "You didn't provide an API key. You need to provide your API key in an Authorization header."
    key = authorization[len("Bearer "):]
    shown = f"{key[:3]}{'*' * 8}{key[-4:]}" if len(key) > 12 else "*" * 8  # the real API masks the key too
    return f"Incorrect API key provided: {shown}. You can find your API key at https://platform.openai.com/."


# ------------------------------------------------------------------------------------------------------------
# Request validation: what the real API refuses, for the parts of the request the adapter uses
# ------------------------------------------------------------------------------------------------------------


def validate_chat_request(body: Any) -> str | None:
    """Why the Chat Completions API would refuse ``body`` with HTTP 400, or None if it would accept it."""
    if not isinstance(body, dict):
        return "the body must be a JSON object"
    unknown = sorted(set(body) - _KNOWN_KEYS)
    if unknown:
        return f"Unrecognized request argument supplied: {unknown[0]}"
    if not isinstance(body.get("model"), str) or not body["model"]:
        return "you must provide a model parameter"
    if body.get("stream") is True:
        return "the fake OpenAI server does not stream (stream must be false or absent)"
    for check in (_check_messages, _check_tools, _check_response_format, _check_sampling):
        problem = check(body)
        if problem is not None:
            return problem
    return None


def _check_messages(body: dict[str, Any]) -> str | None:
    messages = body.get("messages")
    if not isinstance(messages, list) or not messages:
        return "Missing required parameter: 'messages'." if messages is None else "'messages' must be a non-empty array"
    pending: list[str] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            return f"Invalid type for '{where}': expected an object"
        role = message.get("role")
        if pending and role != "tool":
            return _unanswered(pending)
        if role in ("system", "developer", "user"):
            problem = _check_text(message.get("content"), f"{where}.content")
        elif role == "assistant":
            problem, calls = _check_assistant(message, where)
            pending = calls
        elif role == "tool":
            problem = _check_tool_message(message, where, pending)
        else:
            problem = (f"Invalid value: '{role}'. Supported values are: 'system', 'assistant', 'user', 'tool', "
                       f"and 'developer'. ({where}.role)")
        if problem is not None:
            return problem
    return _unanswered(pending) if pending else None


def _unanswered(pending: list[str]) -> str:
    return ("An assistant message with 'tool_calls' must be followed by tool messages responding to each "
            f"'tool_call_id'. The following tool_call_ids did not have response messages: {', '.join(pending)}")


def _check_text(content: Any, where: str, *, optional: bool = False) -> str | None:
    if content is None and optional:
        return None
    if isinstance(content, str):
        return None
    if isinstance(content, list) and content and all(
        isinstance(part, dict) and part.get("type") == "text" and isinstance(part.get("text"), str)
        for part in content
    ):
        return None
    return f"Invalid type for '{where}': expected a string or an array of text parts"


def _check_assistant(message: dict[str, Any], where: str) -> tuple[str | None, list[str]]:  # noqa: PLR0911 - one return per rule
    calls = message.get("tool_calls")
    if calls is None:
        if message.get("content") is None:
            return f"Missing required parameter: '{where}.content' (or '{where}.tool_calls').", []
        return _check_text(message.get("content"), f"{where}.content"), []
    if not isinstance(calls, list) or not calls:
        return f"Invalid '{where}.tool_calls': empty array. Expected an array with minimum length 1.", []
    ids: list[str] = []
    for position, call in enumerate(calls):
        at = f"{where}.tool_calls[{position}]"
        function = call.get("function") if isinstance(call, dict) else None
        if not isinstance(call, dict) or call.get("type") != "function" or not isinstance(function, dict):
            return f"Invalid '{at}': expected {{'id', 'type': 'function', 'function'}}", []
        if not isinstance(call.get("id"), str) or not call["id"]:
            return f"Missing required parameter: '{at}.id'.", []
        if not isinstance(function.get("name"), str) or not _NAME.fullmatch(function["name"]):
            return f"Invalid '{at}.function.name': string does not match pattern '^[a-zA-Z0-9_-]{{1,64}}$'.", []
        if not isinstance(function.get("arguments"), str):
            return f"Invalid type for '{at}.function.arguments': expected a string.", []
        ids.append(call["id"])
    return _check_text(message.get("content"), f"{where}.content", optional=True), ids


def _check_tool_message(message: dict[str, Any], where: str, pending: list[str]) -> str | None:
    call_id = message.get("tool_call_id")
    if not isinstance(call_id, str) or not call_id:
        return f"Missing required parameter: '{where}.tool_call_id'."
    if call_id not in pending:
        return (f"Invalid parameter: messages with role 'tool' must be a response to a preceeding message with "
                f"'tool_calls' ({where}.tool_call_id {call_id!r} answers none).")
    pending.remove(call_id)
    return _check_text(message.get("content"), f"{where}.content")


def _check_tools(body: dict[str, Any]) -> str | None:  # noqa: PLR0911 - one return per rule
    tools = body.get("tools")
    if tools is None:
        return "'tool_choice' is only allowed when 'tools' are specified." if "tool_choice" in body else None
    if not isinstance(tools, list) or not tools:
        return "Invalid 'tools': empty array. Expected an array with minimum length 1."
    for index, tool in enumerate(tools):
        function = tool.get("function") if isinstance(tool, dict) else None
        if not isinstance(tool, dict) or tool.get("type") != "function" or not isinstance(function, dict):
            return f"Invalid 'tools[{index}]': expected {{'type': 'function', 'function': {{...}}}}"
        if not isinstance(function.get("name"), str) or not _NAME.fullmatch(function["name"]):
            return f"Invalid 'tools[{index}].function.name': string does not match pattern '^[a-zA-Z0-9_-]{{1,64}}$'."
        if "description" in function and not isinstance(function["description"], str):
            return f"Invalid type for 'tools[{index}].function.description': expected a string."
        if "parameters" in function and not isinstance(function["parameters"], dict):
            return f"Invalid type for 'tools[{index}].function.parameters': expected an object."
    return None


def _check_response_format(body: dict[str, Any]) -> str | None:  # noqa: PLR0911 - one return per rule
    response_format = body.get("response_format")
    if response_format is None:
        return None
    kind = response_format.get("type") if isinstance(response_format, dict) else None
    if kind in ("text", "json_object"):
        return None
    if kind != "json_schema":
        return "Invalid value for 'response_format.type': expected 'text', 'json_object' or 'json_schema'."
    schema = response_format.get("json_schema")
    if not isinstance(schema, dict):
        return "Missing required parameter: 'response_format.json_schema'."
    if not isinstance(schema.get("name"), str) or not _NAME.fullmatch(schema["name"]):
        return "Invalid 'response_format.json_schema.name': string does not match pattern '^[a-zA-Z0-9_-]{1,64}$'."
    if "schema" in schema and not isinstance(schema["schema"], dict):
        return "Invalid type for 'response_format.json_schema.schema': expected an object."
    if "strict" in schema and not isinstance(schema["strict"], bool | None):
        return "Invalid type for 'response_format.json_schema.strict': expected a boolean."
    return None


def _check_sampling(body: dict[str, Any]) -> str | None:
    for key, (low, high) in _RANGES.items():
        value = body.get(key)
        if value is None:
            continue
        if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
            return f"Invalid type for '{key}': expected a number."
        if not low <= value <= high:
            return f"Invalid '{key}': {value} is out of range [{low:g}, {high:g}]."
    for key in ("max_tokens", "max_completion_tokens", "seed"):
        value = body.get(key)
        if value is not None and (not isinstance(value, int) or isinstance(value, bool)):
            return f"Invalid type for '{key}': expected an integer."
        if key != "seed" and value is not None and value < 1:
            return f"Invalid '{key}': integer below minimum value 1."
    stop = body.get("stop")
    if stop is not None and not (isinstance(stop, str) or (
        isinstance(stop, list) and len(stop) <= 4 and all(isinstance(item, str) for item in stop)
    )):
        return "Invalid 'stop': expected a string or an array of at most 4 strings."
    return None
