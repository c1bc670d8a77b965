"""Request builders shared by the anthropic adapter's tests (named uniquely: pytest imports it by basename)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from agent_engine_core.llm import LlmRequest
from agent_engine_core.manifests.models import AgentSpec

MODEL = "claude-test-1"
SYSTEM = "You write."


def agent(config: Mapping[str, Any] | None = None, *, model: str = MODEL) -> AgentSpec:
    """An agents.yaml entry using the anthropic provider."""
    return AgentSpec(id="writer", llm=f"anthropic/{model}", prompt=SYSTEM, config=dict(config or {}))


def user(content: str = '{"node": "draft", "input": {"topic": "moon"}}') -> dict[str, Any]:
    return {"role": "user", "content": content}


def assistant(content: str = "", *calls: tuple[str, str, Mapping[str, Any]]) -> dict[str, Any]:
    """An assistant turn asking for tools: ``calls`` are ``(id, name, arguments)``."""
    return {"role": "assistant", "content": content,
            "tool_calls": [{"id": i, "name": n, "arguments": dict(a)} for i, n, a in calls]}


def tool(call_id: str, name: str, content: str = '{"status": "success", "output": "ok"}') -> dict[str, Any]:
    return {"role": "tool", "tool_call_id": call_id, "name": name, "content": content}


def definition(name: str, description: str = "", **properties: Any) -> dict[str, Any]:
    """A tool definition as the engine sends it."""
    return {"name": name, "description": description or f"The {name} tool.",
            "parameters": {"type": "object", "properties": properties or {"path": {"type": "string"}}}}


def make_request(
    messages: Sequence[Mapping[str, Any]] | None = None, *, tools: Sequence[Mapping[str, Any]] = (),
    schema: Mapping[str, Any] | None = None, system: str = SYSTEM, timeout_s: float | None = 10.0,
    model: str = MODEL,
) -> LlmRequest:
    """An ``LlmRequest`` as the engine builds it (messages default to one user message)."""
    return LlmRequest(
        agent_id="writer", model=model, node_id="draft", task_id="run:0", sibling_index=0, system=system,
        messages=tuple(MappingProxyType(dict(m)) for m in (messages or [user()])),
        response_schema=schema, tools=tuple(MappingProxyType(dict(t)) for t in tools), timeout_s=timeout_s,
    )
