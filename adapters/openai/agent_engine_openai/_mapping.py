"""Translation between the engine's normalised requests and replies and the Chat Completions wire format.

Pure functions over plain data: nothing here imports the ``openai`` SDK or does I/O, so the rules can be read
(and property-tested) on their own. ``_provider.py`` sends what ``build_body`` returns and hands the decoded
reply to ``parse_reply``.

Request rules:

- ``LlmRequest.system`` becomes a leading ``system`` message when it is not empty;
- user messages pass through; an assistant turn that asked for tools becomes ``tool_calls`` entries
  ``{"id", "type": "function", "function": {"name", "arguments": <JSON text>}}`` (content ``null`` when the turn
  had no text); a tool result becomes ``{"role": "tool", "tool_call_id", "content"}``;
- tool definitions become ``{"type": "function", "function": {"name", "description", "parameters"}}``;
- a response schema becomes ``response_format: {"type": "json_schema", "json_schema": {"name", "schema",
  "strict": false}}`` (unless the agent sets ``structured_output: false``). Strict mode stays off because it
  accepts only a subset of JSON Schema (every property listed in ``required``, ``additionalProperties: false`` on
  every object, a restricted set of keywords): arbitrary ``schema_out`` documents would be refused with HTTP 400.
  Off, the schema guides the model and the engine validates the answer against ``schema_out`` itself;
- no response schema: no ``response_format`` at all. ``json_object`` mode is refused by the OpenAI API unless a
  message contains the word "JSON" (ours need not), and some compatible servers do not implement it; the engine
  already extracts the JSON value from prose or fenced replies;
- the accepted sampling options are sent as they are (``structured_output`` is the provider's own switch and is
  not sent), and ``stream`` is always false.

Tool names: the API accepts ``^[A-Za-z0-9_-]{1,64}$``, while tool ids may also contain dots. Such names are sent
with the other characters replaced by ``_`` (and a numeric suffix if that collides), and the model's calls are
mapped back, so the engine only ever sees its own tool ids.
"""

from __future__ import annotations

import difflib
import json
import math
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import ENGINE_CONFIG_KEYS, LlmReply, LlmRequest, ToolCall

__all__ = ["ALLOWED_OPTIONS", "ToolNames", "build_body", "check_options", "parse_reply"]

PROVIDER = "openai"


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_positive_integer(value: Any) -> bool:
    return _is_integer(value) and value >= 1


def _is_stop(value: Any) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list) and bool(value) and all(isinstance(item, str) and item for item in value)


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and bool(value)


def _is_bool(value: Any) -> bool:
    return isinstance(value, bool)


_OPTIONS: Mapping[str, tuple[str, Callable[[Any], bool]]] = MappingProxyType({
    "frequency_penalty": ("a number", _is_number),
    "max_completion_tokens": ("a positive integer", _is_positive_integer),
    "max_tokens": ("a positive integer", _is_positive_integer),
    "presence_penalty": ("a number", _is_number),
    "reasoning_effort": ("a non-empty string", _is_text),
    "seed": ("an integer", _is_integer),
    "stop": ("a non-empty string or a list of non-empty strings", _is_stop),
    "structured_output": ("true or false", _is_bool),
    "temperature": ("a number", _is_number),
    "top_p": ("a number", _is_number),
})

ALLOWED_OPTIONS: frozenset[str] = frozenset(_OPTIONS)
"""The agent ``config`` keys the provider accepts (besides the engine's own keys, which it never sends): sampling
options sent to the API as they are, and ``structured_output`` (default true; false sends no ``response_format``,
for servers that cannot constrain output to a JSON Schema)."""

_NOT_SENT = frozenset({"structured_output"})

_WHY_NOT: Mapping[str, str] = MappingProxyType({
    "stream": "the engine needs the whole reply, so streaming is always off",
    "response_format": "the engine sets it from the node's schema_out",
    "tools": "tools come from the node's allowed tools (tools.yaml)",
    "tool_choice": "the model chooses among the node's allowed tools",
    "n": "the engine reads one answer per call",
    "model": "the model is the part of llm: after the slash",
    "messages": "the engine builds the messages from the node's input and context",
})


def check_options(options: Mapping[str, Any]) -> dict[str, Any]:
    """The options to send, checked against ``ALLOWED_OPTIONS``; raises ``ProviderError`` naming the bad key."""
    checked: dict[str, Any] = {}
    for key in sorted(options):
        value = options[key]
        if key not in _OPTIONS:
            raise ProviderError(_unknown_option(key), provider=PROVIDER)
        kind, accepts = _OPTIONS[key]
        if not accepts(value):
            raise ProviderError(f"config.{key} must be {kind}, not {value!r}", provider=PROVIDER)
        checked[key] = list(value) if isinstance(value, list) else value
    return checked


def _unknown_option(key: str) -> str:
    reason = _WHY_NOT.get(key)
    if reason is not None:
        head = f"config.{key} cannot be set: {reason}"
    else:
        close = difflib.get_close_matches(key, sorted(_OPTIONS) + sorted(ENGINE_CONFIG_KEYS), n=1, cutoff=0.7)
        head = f"config.{key} is not an option of the openai provider" + (
            f" (did you mean '{close[0]}'?)" if close else ""
        )
    return (f"{head}; the provider accepts {', '.join(sorted(_OPTIONS))}, and the engine reads "
            f"{', '.join(sorted(ENGINE_CONFIG_KEYS))}")


# ------------------------------------------------------------------------------------------------------------
# Requests
# ------------------------------------------------------------------------------------------------------------

_WIRE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_NOT_WIRE = re.compile(r"[^A-Za-z0-9_-]")


class ToolNames:
    """The names tools are sent under, and back: names the API accepts are kept, others are made acceptable.

    Deterministic for a given list of names: acceptable names are reserved first, then each other name gets its
    unacceptable characters replaced by ``_`` (cut to 60 characters) and, on a collision, ``_2``, ``_3`` ...
    """

    def __init__(self, names: Iterable[str]) -> None:
        ordered = list(dict.fromkeys(names))
        to_wire = {name: name for name in ordered if _WIRE_NAME.fullmatch(name)}
        taken = set(to_wire)
        for name in ordered:
            if name in to_wire:
                continue
            base = _NOT_WIRE.sub("_", name)[:60] or "tool"
            candidate, suffix = base, 1
            while candidate in taken:
                suffix += 1
                candidate = f"{base}_{suffix}"
            to_wire[name] = candidate
            taken.add(candidate)
        self._to_wire = to_wire
        self._from_wire = {wire: name for name, wire in to_wire.items()}

    def wire(self, name: str) -> str:
        """The name ``name`` is sent under."""
        return self._to_wire.get(name, name)

    def original(self, wire: str) -> str:
        """The tool id a name the model used stands for (unknown names are returned as they are)."""
        return self._from_wire.get(wire, wire)


@dataclass(frozen=True, slots=True)
class WireRequest:
    """What to send (``body``: the keyword arguments of ``chat.completions.create``) and the tool names used."""

    body: dict[str, Any]
    names: ToolNames


def build_body(request: LlmRequest, options: Mapping[str, Any]) -> WireRequest:
    """The Chat Completions request for ``request``, with the already checked ``options`` (``check_options``)."""
    names = ToolNames([str(tool["name"]) for tool in request.tools] + _called_names(request.messages))
    body: dict[str, Any] = {
        "model": request.model,
        "messages": build_messages(request.system, request.messages, names),
        "stream": False,
    }
    if request.tools:
        body["tools"] = [_tool(tool, names) for tool in request.tools]
    if request.response_schema is not None and options.get("structured_output", True):
        body["response_format"] = {
            "type": "json_schema",
            "json_schema": {
                "name": schema_name(request.node_id),
                "schema": _plain(request.response_schema),
                "strict": False,
            },
        }
    body.update((key, value) for key, value in options.items() if key not in _NOT_SENT)
    return WireRequest(body, names)


def schema_name(node_id: str) -> str:
    """The ``json_schema.name`` for a node: its id, made acceptable to the API (``[A-Za-z0-9_-]{1,64}``)."""
    return _NOT_WIRE.sub("_", node_id)[:64] or "answer"


def _called_names(messages: Sequence[Mapping[str, Any]]) -> list[str]:
    return [str(call["name"]) for message in messages for call in message.get("tool_calls") or ()]


def build_messages(
    system: str, messages: Sequence[Mapping[str, Any]], names: ToolNames | None = None
) -> list[dict[str, Any]]:
    """The wire messages: the instructions first (when any), then each normalised message translated."""
    names = names or ToolNames(_called_names(messages))
    wire: list[dict[str, Any]] = [{"role": "system", "content": system}] if system else []
    for position, message in enumerate(messages):
        role = message.get("role")
        if role == "user":
            wire.append({"role": "user", "content": _content(message, position)})
        elif role == "assistant":
            calls = message.get("tool_calls") or ()
            content = _content(message, position, optional=True)
            item: dict[str, Any] = {"role": "assistant", "content": content or (None if calls else "")}
            if calls:
                item["tool_calls"] = [_wire_call(call, names) for call in calls]
            wire.append(item)
        elif role == "tool":
            wire.append({"role": "tool", "tool_call_id": str(message["tool_call_id"]),
                         "content": _content(message, position)})
        else:
            raise ProviderError(f"message {position} has role {role!r}, which the openai provider cannot send "
                                "(expected user, assistant or tool)", provider=PROVIDER)
    return wire


def _content(message: Mapping[str, Any], position: int, *, optional: bool = False) -> str:
    content = message.get("content")
    if content is None and optional:
        return ""
    if not isinstance(content, str):
        raise ProviderError(f"message {position} ({message.get('role')}) has no text content", provider=PROVIDER)
    return content


def _wire_call(call: Mapping[str, Any], names: ToolNames) -> dict[str, Any]:
    return {
        "id": str(call["id"]),
        "type": "function",
        "function": {
            "name": names.wire(str(call["name"])),
            "arguments": json.dumps(_plain(call.get("arguments") or {}), ensure_ascii=False),
        },
    }


def _tool(tool: Mapping[str, Any], names: ToolNames) -> dict[str, Any]:
    function: dict[str, Any] = {"name": names.wire(str(tool["name"]))}
    if tool.get("description"):
        function["description"] = str(tool["description"])
    function["parameters"] = _plain(tool.get("parameters") or {"type": "object", "properties": {}})
    return {"type": "function", "function": function}


def _plain(value: Any) -> Any:
    """``value`` with every mapping (read-only views included) as a dict and every sequence as a list."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


# ------------------------------------------------------------------------------------------------------------
# Replies
# ------------------------------------------------------------------------------------------------------------


def parse_reply(data: Any, names: ToolNames, *, model: str, where: str) -> LlmReply:
    """The ``LlmReply`` in a decoded Chat Completions reply; ``ProviderError`` (not retryable) if it is unusable.

    Only what the engine needs is read, and leniently where compatible servers differ from the OpenAI API
    (a missing ``id``, ``usage`` or tool call id; empty tool arguments meaning no arguments). ``model`` is used
    when the reply does not say which model answered; ``where`` names the endpoint in error messages.
    """
    if not isinstance(data, Mapping):
        raise _unusable(where, f"the reply is a JSON {type(data).__name__}, not an object")
    choices = data.get("choices")
    if not isinstance(choices, list) or not choices:
        error = data.get("error")
        detail = error.get("message") if isinstance(error, Mapping) else None
        if isinstance(detail, str) and detail:
            raise _unusable(where, f"the reply is an error: {detail[:500]}")
        raise _unusable(where, "the reply has no choices")
    message = choices[0].get("message") if isinstance(choices[0], Mapping) else None
    if not isinstance(message, Mapping):
        raise _unusable(where, "the reply's first choice has no message")
    content = message.get("content")
    if content is None:
        content = ""
    elif not isinstance(content, str):
        raise _unusable(where, f"the message content is a JSON {type(content).__name__}, not text")
    refusal = message.get("refusal")
    if isinstance(refusal, str) and refusal and not content:
        raise ProviderError(f"the model refused to answer: {refusal[:500]}", provider=PROVIDER)
    raw_calls = message.get("tool_calls") or []
    if not isinstance(raw_calls, list):
        raise _unusable(where, "the message's tool_calls is not a list")
    calls = tuple(_tool_call(raw, index, names, where) for index, raw in enumerate(raw_calls))
    finish_reason = choices[0].get("finish_reason")
    answered_by = data.get("model")
    response_id = data.get("id")
    return LlmReply(
        content=content,
        model=answered_by if isinstance(answered_by, str) and answered_by else model,
        usage=MappingProxyType(_usage(data.get("usage"))),
        finish_reason=finish_reason if isinstance(finish_reason, str) else None,
        response_id=response_id if isinstance(response_id, str) and response_id else None,
        tool_calls=calls,
    )


def _tool_call(raw: Any, index: int, names: ToolNames, where: str) -> ToolCall:
    if not isinstance(raw, Mapping):
        raise _unusable(where, f"tool call {index} is not an object")
    kind = raw.get("type", "function")
    function = raw.get("function")
    if kind != "function" or not isinstance(function, Mapping):
        raise _unusable(where, f"tool call {index} is of type {kind!r}; only function calls were offered")
    name = function.get("name")
    if not isinstance(name, str) or not name:
        raise _unusable(where, f"tool call {index} has no function name")
    arguments = function.get("arguments")
    decoded: Any = arguments  # a few servers send the object itself rather than its JSON text
    if arguments is None or (isinstance(arguments, str) and not arguments.strip()):
        decoded = {}  # some servers send "" for a call without arguments
    elif isinstance(arguments, str):
        try:
            decoded = json.loads(arguments)
        except ValueError:
            decoded = None
    if not isinstance(decoded, dict):
        shown = arguments if isinstance(arguments, str) else json.dumps(arguments)
        raise ProviderError(
            f"the model called tool '{names.original(name)}' with arguments that are not a JSON object: "
            f"{shown[:200]!r}",
            provider=PROVIDER,
        )
    call_id = raw.get("id")
    return ToolCall(call_id if isinstance(call_id, str) and call_id else f"call_{index}", names.original(name),
                    MappingProxyType(decoded))


def _usage(raw: Any) -> dict[str, int]:
    usage: dict[str, int] = {}
    if isinstance(raw, Mapping):
        for ours, theirs in (("input_tokens", "prompt_tokens"), ("output_tokens", "completion_tokens")):
            value = raw.get(theirs)
            if isinstance(value, int) and not isinstance(value, bool) and value >= 0:
                usage[ours] = value
    return usage


def _unusable(where: str, what: str) -> ProviderError:
    return ProviderError(f"{where} sent an unusable chat completion: {what}", provider=PROVIDER)
