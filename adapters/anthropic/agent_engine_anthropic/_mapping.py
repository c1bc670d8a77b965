"""Translate an ``LlmRequest`` to Messages API parameters and a Messages API reply to an ``LlmReply``.

Pure functions over plain data: no SDK import and no I/O, so the rules below are testable on their own.

Requests:

- ``system`` is the ``system`` parameter (left out when empty).
- A ``user`` message is a user turn; an ``assistant`` message is an assistant turn of a text block (when its
  content is not blank) followed by one ``tool_use`` block per tool call (``id``, ``name``, ``input``); an
  assistant message with neither is dropped (the API rejects empty turns). ``tool`` messages become
  ``tool_result`` blocks (``tool_use_id``, ``content``) of a user turn.
- Consecutive messages of the same API role are merged into one turn, so turns alternate; within a user turn
  the ``tool_result`` blocks come first, as the API requires. A turn that is a single text block is sent as a
  plain string. The first turn must be a user turn.
- Tools are ``{"name", "description", "input_schema"}``. Tool ids may contain ``.`` but API tool names may not
  (``^[a-zA-Z0-9_-]{1,64}$``): an id that is already a valid API name is sent unchanged; any other gets a
  stand-in (``.`` and other characters become ``_``, cut to 64 characters, with a digest suffix when that
  would clash). The stand-ins are derived from the request alone, so every round of a node uses the same ones,
  and tool calls in the reply are mapped back to the engine's ids.

Structured output: when the request has a ``response_schema``, it is offered as one more tool,
``OUTPUT_TOOL_NAME`` (``final_answer``, or ``final_answer_2``, ... when a tool of the node already has that
name), whose ``input_schema`` is the schema. A schema that is not ``{"type": "object", ...}`` (the API accepts
only object schemas for tool input) is wrapped as ``{"type": "object", "properties": {"value": <schema>},
"required": ["value"]}``, its ``$defs``/``definitions`` moved to the wrapper so local ``$ref``s still resolve.
With no other tool, ``tool_choice`` forces that tool (``{"type": "tool", "name": ...}``); with other tools it
is ``{"type": "any"}``: the model must call a tool each turn, and answers by calling the output tool.

Replies: a ``tool_use`` of the output tool is the answer: the reply's ``content`` is the JSON text of its input
(unwrapped when the schema was wrapped) and the turn ends, even if other tools were called alongside it.
Otherwise ``content`` is the text blocks joined and every ``tool_use`` block is a ``ToolCall``. Other block
types (thinking, server tools) are ignored. A reply without ``id``, ``model``, a ``content`` list or integer
token counts is malformed: a ``ProviderError`` that is not retried.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import LlmReply, LlmRequest, ToolCall

from agent_engine_anthropic._options import PROVIDER, Options

__all__ = [
    "API_TOOL_NAME",
    "OUTPUT_TOOL_NAME",
    "WRAPPED_KEY",
    "Prepared",
    "ToolNames",
    "parse_reply",
    "prepare",
    "to_messages",
    "tool_names",
]

API_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
"""What the Messages API accepts as a tool name."""

OUTPUT_TOOL_NAME = "final_answer"
"""The tool that carries a structured answer (suffixed ``_2``, ``_3``, ... if a node's tool has this name)."""

WRAPPED_KEY = "value"
"""The property that holds the answer when the response schema is not an object schema."""

_OUTPUT_DESCRIPTION = (
    "Give your final answer by calling this tool exactly once, when you are done; its input is the answer and "
    "must follow the input schema."
)
_DIGEST_LENGTH = 8


@dataclass(frozen=True, slots=True)
class ToolNames:
    """The API tool names of one request: engine id -> API name, and the output tool's API name."""

    to_wire: Mapping[str, str]
    output: str | None = None
    to_engine: Mapping[str, str] = field(init=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "to_engine", MappingProxyType({w: e for e, w in self.to_wire.items()}))

    def wire(self, tool_id: str) -> str:
        """The API name of ``tool_id``."""
        return self.to_wire.get(tool_id) or _stand_in(tool_id)

    def engine(self, name: str) -> str:
        """The engine's id for the API name ``name`` (unknown names are returned as they are)."""
        return self.to_engine.get(name, name)


def tool_names(tool_ids: Iterable[str], *, with_output: bool) -> ToolNames:
    """Distinct API names for ``tool_ids`` (valid names kept), plus a free output tool name if asked."""
    ordered = sorted(set(tool_ids))
    to_wire = {i: i for i in ordered if API_TOOL_NAME.match(i)}
    taken = set(to_wire)
    for tool_id in ordered:
        if tool_id in to_wire:
            continue
        wire = _stand_in(tool_id)
        if wire in taken:
            wire = f"{wire[:64 - _DIGEST_LENGTH - 1]}_{_digest(tool_id)}"
        number = 2
        while wire in taken:  # a digest clash: practically never, but names must stay distinct
            wire = f"{wire[:60 - len(str(number))]}_{number}"
            number += 1
        taken.add(wire)
        to_wire[tool_id] = wire
    output = None
    if with_output:
        output, number = OUTPUT_TOOL_NAME, 2
        while output in taken:
            output, number = f"{OUTPUT_TOOL_NAME}_{number}", number + 1
    return ToolNames(MappingProxyType(to_wire), output)


def _stand_in(tool_id: str) -> str:
    return re.sub(r"[^a-zA-Z0-9_-]", "_", tool_id)[:64] or "tool"


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:_DIGEST_LENGTH]


@dataclass(frozen=True, slots=True)
class Prepared:
    """The keyword arguments of ``messages.create`` for one request, and how to read its reply."""

    params: Mapping[str, Any]
    names: ToolNames
    wrapped: bool = False


def prepare(request: LlmRequest, options: Options) -> Prepared:
    """The Messages API parameters of ``request`` (everything but ``timeout``)."""
    called = [str(c.get("name", "")) for m in request.messages for c in m.get("tool_calls") or ()]
    names = tool_names([str(t["name"]) for t in request.tools] + called,
                       with_output=request.response_schema is not None)
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": options.max_tokens,
        "messages": to_messages(request.messages, names),
    }
    if request.system:
        params["system"] = request.system
    tools = [_tool(t, names) for t in request.tools]
    wrapped = False
    if request.response_schema is not None and names.output is not None:
        schema, wrapped = _output_schema(request.response_schema)
        tools.append({"name": names.output, "description": _OUTPUT_DESCRIPTION + (
            f" Put the answer in '{WRAPPED_KEY}'." if wrapped else ""), "input_schema": schema})
        params["tool_choice"] = {"type": "any"} if request.tools else {"type": "tool", "name": names.output}
    if tools:
        params["tools"] = tools
    if options.stop_sequences:
        params["stop_sequences"] = list(options.stop_sequences)
    if options.sampling:
        params["extra_body"] = dict(options.sampling)
    return Prepared(MappingProxyType(params), names, wrapped)


def _tool(definition: Mapping[str, Any], names: ToolNames) -> dict[str, Any]:
    schema = definition.get("parameters") or {}
    if not isinstance(schema, Mapping):
        raise ProviderError(f"tool '{definition['name']}' has parameters that are not a JSON Schema object",
                            provider=PROVIDER)
    input_schema = copy.deepcopy(dict(schema))
    input_schema.setdefault("type", "object")
    tool: dict[str, Any] = {"name": names.wire(str(definition["name"])), "input_schema": input_schema}
    if definition.get("description"):
        tool["description"] = str(definition["description"])
    return tool


def _output_schema(schema: Mapping[str, Any]) -> tuple[dict[str, Any], bool]:
    """The output tool's input schema, and whether the answer is wrapped in ``WRAPPED_KEY``."""
    inner = copy.deepcopy(dict(schema))
    if inner.get("type") == "object":
        return inner, False
    wrapper: dict[str, Any] = {"type": "object"}
    for key in ("$defs", "definitions"):
        if key in inner:
            wrapper[key] = inner.pop(key)
    wrapper["properties"] = {WRAPPED_KEY: inner}
    wrapper["required"] = [WRAPPED_KEY]
    return wrapper, True


def to_messages(messages: Sequence[Mapping[str, Any]], names: ToolNames) -> list[dict[str, Any]]:
    """The API ``messages`` for normalised ``messages``: alternating turns that start with a user turn."""
    turns: list[tuple[str, list[dict[str, Any]]]] = []
    for position, message in enumerate(messages):
        role, blocks = _blocks(position, message, names)
        if not blocks:
            continue
        if turns and turns[-1][0] == role:
            turns[-1][1].extend(blocks)
        else:
            turns.append((role, blocks))
    if not turns or turns[0][0] != "user":
        raise ProviderError("the conversation sent to the model must start with a user message",
                            provider=PROVIDER)
    result = []
    for role, turn in turns:
        blocks = turn
        if role == "user":  # tool results first, as the API requires; otherwise in order
            blocks = [b for b in turn if b["type"] == "tool_result"] + [b for b in turn if b["type"] != "tool_result"]
        single_text = len(blocks) == 1 and blocks[0]["type"] == "text"
        result.append({"role": role, "content": blocks[0]["text"] if single_text else blocks})
    return result


def _blocks(position: int, message: Mapping[str, Any], names: ToolNames) -> tuple[str, list[dict[str, Any]]]:
    role = message.get("role")
    content = message.get("content")
    content = "" if content is None else str(content)
    if role == "user":
        return "user", [{"type": "text", "text": content}]
    if role == "tool":
        return "user", [{"type": "tool_result", "tool_use_id": str(message.get("tool_call_id", "")),
                         "content": content}]
    if role == "assistant":
        blocks: list[dict[str, Any]] = [{"type": "text", "text": content}] if content.strip() else []
        for call in message.get("tool_calls") or ():
            blocks.append({"type": "tool_use", "id": str(call.get("id", "")),
                           "name": names.wire(str(call.get("name", ""))), "input": _arguments(call)})
        return "assistant", blocks
    raise ProviderError(f"message {position} has role {role!r}; expected user, assistant or tool",
                        provider=PROVIDER)


def _arguments(call: Mapping[str, Any]) -> dict[str, Any]:
    arguments = call.get("arguments")
    if isinstance(arguments, str):  # tolerate the JSON text form some providers keep
        try:
            arguments = json.loads(arguments or "{}")
        except ValueError:
            arguments = None
    if not isinstance(arguments, Mapping):
        raise ProviderError(f"the arguments of tool call '{call.get('id')}' are not a JSON object",
                            provider=PROVIDER)
    return copy.deepcopy(dict(arguments))


def parse_reply(message: Any, prepared: Prepared) -> LlmReply:
    """The ``LlmReply`` of a Messages API reply (an SDK ``Message``, read through its attributes)."""
    message_id, model = getattr(message, "id", None), getattr(message, "model", None)
    blocks, usage = getattr(message, "content", None), getattr(message, "usage", None)
    tokens = {k: getattr(usage, k, None) for k in ("input_tokens", "output_tokens")}
    if not isinstance(message_id, str) or not isinstance(model, str) or not isinstance(blocks, list):
        raise malformed("it has no id, model or content list")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in tokens.values()):
        raise malformed("it has no integer usage.input_tokens and usage.output_tokens")
    stop_reason = getattr(message, "stop_reason", None)
    texts: list[str] = []
    calls: list[ToolCall] = []
    for block in blocks:
        kind = getattr(block, "type", None)
        if kind == "text":
            text = getattr(block, "text", None)
            if not isinstance(text, str):
                raise malformed("a text block has no text")
            texts.append(text)
        elif kind == "tool_use":
            call_id, name, arguments = (getattr(block, k, None) for k in ("id", "name", "input"))
            if not isinstance(call_id, str) or not isinstance(name, str) or not isinstance(arguments, Mapping):
                raise malformed("a tool_use block has no id, name or input object")
            if name == prepared.names.output:
                answer = arguments.get(WRAPPED_KEY, arguments) if prepared.wrapped else arguments
                return _reply(json.dumps(answer, ensure_ascii=False), model, tokens, stop_reason, message_id, ())
            calls.append(ToolCall(call_id, prepared.names.engine(name), MappingProxyType(dict(arguments))))
    return _reply("".join(texts), model, tokens, stop_reason, message_id, tuple(calls))


def _reply(
    content: str, model: str, tokens: Mapping[str, Any], stop_reason: Any, message_id: str,
    calls: tuple[ToolCall, ...],
) -> LlmReply:
    return LlmReply(
        content=content, model=model, usage=MappingProxyType(dict(tokens)),
        finish_reason=stop_reason if isinstance(stop_reason, str) else None, response_id=message_id,
        tool_calls=calls,
    )


def malformed(what: str) -> ProviderError:
    """The error for a reply the adapter cannot read (not retried: the same server would answer the same)."""
    return ProviderError(f"the Anthropic API sent a malformed reply: {what}", provider=PROVIDER)
