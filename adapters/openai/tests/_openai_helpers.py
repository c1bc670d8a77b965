"""Helpers shared by the openai adapter's test modules (a module, so that Hypothesis tests can use them too)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from agent_engine_core.llm import LlmRequest

__all__ = ["make_request"]


def make_request(
    messages: Sequence[Mapping[str, Any]] = ({"role": "user", "content": '{"node": "draft", "input": "x"}'},),
    *, system: str = "You write.", tools: Sequence[Mapping[str, Any]] = (),
    response_schema: Mapping[str, Any] | None = None, model: str = "gpt-test", node_id: str = "draft",
    timeout_s: float | None = 5.0,
) -> LlmRequest:
    """An ``LlmRequest`` as the engine builds it."""
    return LlmRequest(
        agent_id="writer", model=model, node_id=node_id, task_id="t1", sibling_index=0, system=system,
        messages=tuple(MappingProxyType(dict(m)) for m in messages), response_schema=response_schema,
        tools=tuple(MappingProxyType(dict(t)) for t in tools), timeout_s=timeout_s,
    )
