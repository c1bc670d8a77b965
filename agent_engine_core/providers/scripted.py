"""The ``scripted`` provider: a declared test double that answers from the agent's config, by node id.

``config: {responses: {route: {selected_edge: create}, draft: [{title: A}, {title: B}]}}``. A list is consumed
one item per call and its last item repeats; the item for a call is chosen by the calling task's index among
its siblings (0 for a root task), not by arrival order, so concurrent fan-outs get the same answers at any
timing. An answer that is itself a list must be wrapped in a list. It is never a fallback for a missing
provider: it answers only agents whose ``llm`` says ``scripted/...``.

Two more keys make a scripted agent behave like a model that reads its input and uses tools:

- strings may hold templates, ``"# {{ input.title }}"``, filled in from the request (``_templates``);
- ``tool_calls: {node: [{name, arguments}, ...]}`` is asked for first (templates allowed in the arguments);
  once their results are back the node's answer follows, and may read them as ``{{ tools.<name>.output }}``.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from agent_engine_core.codec import JSONValueError, dumps
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup, ToolCall
from agent_engine_core.providers._templates import compile_answer, render_answer

__all__ = ["ScriptedProvider"]


class ScriptedProvider:
    """Answers each agent node from ``config.responses[node_id]``, after ``config.tool_calls[node_id]``."""

    def __init__(self, setup: ProviderSetup) -> None:
        agent = setup.agent
        responses = agent.config.get("responses")
        if not isinstance(responses, Mapping):
            raise ProviderError(
                "the scripted provider needs a 'responses' mapping in the agent's config "
                "(node id -> answer)",
                provider="scripted",
            )
        self._answers = {node: _compiled(self._items(answer), f"responses.{node}")
                         for node, answer in responses.items()}
        self._tool_calls = {node: _compiled(_calls(node, calls), f"tool_calls.{node}")
                            for node, calls in _mapping(agent.config.get("tool_calls", {})).items()}
        self._model = setup.model

    @staticmethod
    def _items(answer: Any) -> list[Any]:
        return list(answer) if isinstance(answer, list) and answer else [answer]

    def check(self, node_ids: Sequence[str]) -> list[str]:
        """Agent nodes this script has no answer for, and tool calls scripted for nodes it does not serve."""
        missing = [f"the scripted agent has no response for node '{n}'" for n in node_ids if n not in self._answers]
        stray = [f"the scripted agent has tool_calls for node '{n}', which is not one of its nodes"
                 for n in self._tool_calls if n not in node_ids]
        return missing + stray

    async def complete(self, request: LlmRequest) -> LlmReply:
        """The scripted tool calls for the node first (once), then its answer for the task's sibling index."""
        answers = self._answers.get(request.node_id)
        if answers is None:
            raise ProviderError(f"the scripted agent has no response for node '{request.node_id}'",
                                provider="scripted")
        scope = _scope(request)
        calls = self._tool_calls.get(request.node_id)
        asked = calls is not None and not scope["tools"]
        chosen = calls if asked else answers[min(request.sibling_index, len(answers) - 1)]
        try:
            value = render_answer(chosen, scope)
            content = "" if asked else dumps(value)
        except ValueError as exc:  # a path that leads nowhere, or a value that is not JSON
            raise ProviderError(f"scripted answer for node '{request.node_id}': {exc}", provider="scripted") from None
        step = request.task_id.partition("/")[2]
        return LlmReply(
            content=content,
            model=self._model,
            usage=MappingProxyType({"input_tokens": 0, "output_tokens": 0}),
            finish_reason="tool_calls" if asked else "stop",
            response_id=f"scripted:{step}:{request.node_id}",
            tool_calls=tuple(ToolCall(f"scripted-{request.node_id}-{i}", call["name"], call["arguments"])
                             for i, call in enumerate(value)) if asked else (),
        )


def _mapping(value: Any) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ProviderError("the scripted provider's 'tool_calls' must map node ids to lists of tool calls",
                            provider="scripted")
    return value


def _calls(node: str, calls: Any) -> list[Any]:
    """The tool calls scripted for ``node``, each ``{name, arguments}``."""
    if not isinstance(calls, list) or not calls or not all(
        isinstance(c, Mapping) and set(c) <= {"name", "arguments"} and isinstance(c.get("name"), str)
        and isinstance(c.get("arguments", {}), Mapping) for c in calls
    ):
        raise ProviderError(f"tool_calls.{node} must be a non-empty list of {{name, arguments}} objects",
                            provider="scripted")
    return [{"name": c["name"], "arguments": c.get("arguments", {})} for c in calls]


def _compiled(items: Any, where: str) -> Any:
    try:
        dumps(items)
        return compile_answer(items)
    except JSONValueError as exc:
        raise ProviderError(f"scripted responses must be JSON: {exc}", provider="scripted") from None
    except ValueError as exc:  # a template that cannot be compiled
        raise ProviderError(f"{where}: {exc}", provider="scripted") from None


def _scope(request: LlmRequest) -> dict[str, Any]:
    """What templates read: the node, its input and context (the first message), and the tool results since."""
    first = json.loads(request.messages[0]["content"]) if request.messages else {}
    called: dict[str, tuple[str, Any]] = {}
    tools: dict[str, Any] = {}
    for message in request.messages[1:]:
        if message.get("role") == "assistant":
            called.update({c["id"]: (c["name"], c["arguments"]) for c in message.get("tool_calls", ())})
        elif message.get("role") == "tool":
            name, arguments = called.get(message["tool_call_id"], (message["name"], {}))
            tools[name] = {"arguments": arguments, **json.loads(message["content"])}
    return {"node": request.node_id, "input": first.get("input"), "context": first.get("context", []),
            "tools": tools}
