"""The provider contract: what an agent node sends an LLM provider and what it gets back.

Providers are registered by name (the part of ``llm: "<provider>/<model>"`` before the slash) with a factory
that builds one provider instance per agent. The engine never substitutes one provider for another: a name
that no installed distribution registers is a load-time error.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any, Protocol, runtime_checkable

from agent_engine_core.manifests.models import AgentSpec

__all__ = ["LlmProvider", "LlmReply", "LlmRequest", "ProviderFactory"]


@dataclass(frozen=True, slots=True)
class LlmRequest:
    """A normalised request: instructions, messages, tool definitions and the required response schema.

    ``sibling_index`` is the task's index among the children of its innermost fan-out (0 for a root task);
    deterministic providers use it so that concurrent siblings get the same answers at any timing.
    """

    agent_id: str
    model: str
    node_id: str
    task_id: str
    sibling_index: int
    system: str
    messages: tuple[Mapping[str, Any], ...]
    response_schema: Mapping[str, Any] | None
    tools: tuple[Mapping[str, Any], ...] = ()
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))

    def to_dict(self) -> dict[str, Any]:
        """What the history records of the request (the agent config is not repeated)."""
        return {
            "agent_id": self.agent_id,
            "model": self.model,
            "system": self.system,
            "messages": [dict(m) for m in self.messages],
            "response_schema": self.response_schema,
            "tools": [dict(t) for t in self.tools],
        }


@dataclass(frozen=True, slots=True)
class LlmReply:
    """A normalised reply; ``content`` is the model's text, expected to be JSON."""

    content: str
    model: str
    usage: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    finish_reason: str | None = None
    response_id: str | None = None
    tool_calls: tuple[Mapping[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """What the history records of the reply."""
        return {
            "content": self.content,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "response_id": self.response_id,
            "tool_calls": [dict(c) for c in self.tool_calls],
        }


@runtime_checkable
class LlmProvider(Protocol):
    """One provider instance per agent."""

    async def complete(self, request: LlmRequest) -> LlmReply:
        """Answer ``request``; raise ``ProviderError`` (or any exception) to fail the node with kind ``agent``."""
        ...

    def check(self, node_ids: Sequence[str]) -> list[str]:
        """Problems with serving the agent nodes ``node_ids`` that can be seen before any run (load time)."""
        ...


ProviderFactory = Callable[[AgentSpec], LlmProvider]
"""Builds the provider of one agent; raises ``ProviderError`` when the agent's config is unusable."""
