"""Agent nodes: the messages sent, the provider call under timeout and retries, tool rounds, the JSON answer.

What a node sends (``docs/AGENTS.md`` has the reference): the agent's prompt as ``system``; one user message
whose content is the JSON text ``{"node": <node id>, "input": <node input>}`` (plus ``"context"`` when the node
has an assembled context); the node's allowed tools as definitions; the node's ``schema_out`` (or, for a
decision, the enum of its edge labels) as the required response schema. Each provider call is recorded as an
``AgentCall`` with the exact request, so the history shows what the model saw.

The engine, not the provider, retries: a ``ProviderError`` with ``retryable=True`` (or a timeout) is tried
again up to ``max_attempts`` times, waiting ``Retry-After`` when the server sent one and exponential backoff
with jitter otherwise; the failed attempts are kept in the call's record.
"""

from __future__ import annotations

import copy
import json
import random
import re
import time
from collections.abc import Mapping
from concurrent.futures import Executor
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent_engine_core._run.pool import in_thread
from agent_engine_core.codec import dumps
from agent_engine_core.errors import ProviderError, StageFailed
from agent_engine_core.llm import LlmReply, LlmRequest, ToolCall
from agent_engine_core.records import AgentCall, ErrorKind
from agent_engine_core.secrets import redact
from agent_engine_core.tools import BoundTool, ToolInvocation, ToolScope, ToolStatus

if TYPE_CHECKING:
    from agent_engine_core._build.agents import AgentBinding

__all__ = ["call_agent", "extract_json"]

MAX_WAIT_S = 60.0
"""The longest the engine waits between two attempts, whatever ``Retry-After`` says."""


async def call_agent(
    agent: AgentBinding, scope: ToolScope, sibling_index: int, payload: Any,
    tools: Mapping[str, BoundTool], executor: Executor | None, calls: list[AgentCall],
    tool_calls: list[ToolInvocation], context: list[Any],
) -> Any:
    """The node's output as the agent answers it, after at most ``max_tool_rounds`` rounds of tool calls.

    ``scope`` is the stage (run, task, node) the agent answers, which its tool calls are made for.
    """
    node_id, task_id = scope.node_id, scope.task_id
    sent = {"node": node_id, "input": payload, **({"context": context} if context else {})}
    messages: list[dict[str, Any]] = [{"role": "user", "content": dumps(sent)}]
    rounds = agent.limits.max_tool_rounds
    for round_number in range(rounds + 1):
        # the provider gets its own copies of the schema and config: a provider that adjusts them (strict-mode
        # schemas, defaults) must change neither the engine's validators nor what the history says was sent
        request = LlmRequest(
            agent_id=agent.spec.id, model=agent.model, node_id=node_id, task_id=task_id,
            sibling_index=sibling_index, system=agent.spec.prompt,
            messages=tuple(MappingProxyType(copy.deepcopy(m)) for m in messages),
            response_schema=copy.deepcopy(agent.response_schema),
            tools=tuple(MappingProxyType(tool.definition()) for tool in tools.values()),
            config=MappingProxyType(copy.deepcopy(agent.spec.config)), timeout_s=agent.limits.timeout_s,
        )
        reply = await _complete(agent, request, executor, calls)
        if not reply.tool_calls:
            return extract_json(reply.content)
        if round_number == rounds:
            raise StageFailed(ErrorKind.AGENT, f"the agent still asked for tools after max_tool_rounds ({rounds})",
                              {"tool_calls": [c.name for c in reply.tool_calls]})
        messages.append({"role": "assistant", "content": reply.content,
                         "tool_calls": [c.to_dict() for c in reply.tool_calls]})
        for call in reply.tool_calls:
            invocation = await _run_tool(node_id, call, tools, executor, scope)
            tool_calls.append(invocation)
            if invocation.status is ToolStatus.FAILURE:
                raise StageFailed(ErrorKind.TOOL_MISUSE, invocation.error or f"tool '{call.name}' refused the call",
                                  {"tool_id": call.name, "call_id": call.id})
            messages.append({"role": "tool", "tool_call_id": call.id, "name": call.name,
                             "content": dumps(invocation.result.to_dict())})
    raise AssertionError("unreachable: the last round either answers or fails")


async def _run_tool(
    node_id: str, call: ToolCall, tools: Mapping[str, BoundTool], executor: Executor | None, scope: ToolScope
) -> ToolInvocation:
    tool = tools.get(call.name)
    if tool is None:
        allowed = ", ".join(tools) or "none"
        return ToolInvocation(
            call.name, dumps(dict(call.arguments)), ToolStatus.FAILURE, "null",
            f"the agent asked for tool '{call.name}', which node '{node_id}' may not use (allowed: {allowed})",
            call.id,
        )
    return await in_thread(executor, tool.invoke, dict(call.arguments), call.id, scope)


async def _complete(
    agent: AgentBinding, request: LlmRequest, executor: Executor | None, calls: list[AgentCall]
) -> LlmReply:
    """One provider call, retried as the limits allow; recorded in ``calls`` whether it succeeds or not."""
    import asyncio  # noqa: PLC0415 - loaded with the first run that needs a loop, not with the package

    request_json = dumps(request.to_dict())  # recorded as sent, before the provider can touch it
    limits = agent.limits
    attempts: list[Mapping[str, Any]] = []
    clock = time.perf_counter()
    for attempt in range(1, limits.max_attempts + 1):
        try:
            reply = await asyncio.wait_for(_ask(agent, request, executor), timeout=limits.timeout_s)
        except Exception as exc:  # any provider failure is an attempt that failed; the kind decides on a retry
            error = _as_provider_error(exc, limits.timeout_s)
        else:
            calls.append(AgentCall(
                provider=agent.provider_name, model=reply.model, request_json=request_json,
                reply_json=dumps(reply.to_dict()), usage=MappingProxyType(dict(reply.usage)),
                latency_s=time.perf_counter() - clock, attempts=tuple(attempts),
            ))
            return reply
        message = redact(str(error), agent.secrets)
        if not error.retryable or attempt == limits.max_attempts:
            calls.append(AgentCall(
                provider=agent.provider_name, model=agent.model, request_json=request_json, reply_json="null",
                latency_s=time.perf_counter() - clock, error=message, attempts=tuple(attempts),
            ))
            raise StageFailed(ErrorKind.AGENT, f"provider '{agent.provider_name}' failed: {message}",
                              {"provider": agent.provider_name})
        wait = _wait_before_retry(error, attempt, limits.retry_backoff_s)
        attempts.append(MappingProxyType({"error": message, "status": error.status,
                                          "retry_after_s": error.retry_after, "waited_s": wait}))
        await asyncio.sleep(wait)
    raise AssertionError("unreachable: the last attempt either answers or fails")


async def _ask(agent: AgentBinding, request: LlmRequest, executor: Executor | None) -> LlmReply:
    if agent.is_async:
        reply = await agent.provider.complete(request)  # type: ignore[misc]
    else:
        reply = await in_thread(executor, agent.provider.complete, request)
    if not isinstance(reply, LlmReply):
        raise ProviderError(f"the provider returned {type(reply).__name__}, not an LlmReply")
    return reply


def _as_provider_error(exc: Exception, timeout_s: float) -> ProviderError:
    if isinstance(exc, ProviderError):
        return exc
    if isinstance(exc, TimeoutError):
        return ProviderError(f"no answer within {timeout_s:g} s", retryable=True)
    return ProviderError(f"{type(exc).__name__}: {exc}")


def _wait_before_retry(error: ProviderError, attempt: int, backoff_s: float) -> float:
    """``Retry-After`` when the server sent it, else exponential backoff with jitter; at most ``MAX_WAIT_S``."""
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), MAX_WAIT_S)
    return float(min(backoff_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.0), MAX_WAIT_S))


_FENCE = re.compile(r"```(?:json|JSON)?[ \t]*\n(.*?)```", re.DOTALL)


def _reject_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


_DECODER = json.JSONDecoder(parse_constant=_reject_constant)


def extract_json(content: str) -> Any:
    """The JSON value of a reply: the whole text, else a fenced code block, else the first JSON in the text.

    Models wrap answers in prose and code fences despite instructions; the first value that parses wins.
    """
    candidates = [content.strip(), *(m.group(1).strip() for m in _FENCE.finditer(content))]
    for candidate in candidates:
        try:
            return _DECODER.decode(candidate)
        except ValueError:
            continue
    for start, char in enumerate(content):
        if char in "{[":
            try:
                return _DECODER.raw_decode(content, start)[0]
            except ValueError:
                continue
    raise StageFailed(ErrorKind.AGENT, "the agent's reply contains no JSON value", {"content": content[:2000]})
