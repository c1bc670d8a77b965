"""The provider contract: what an agent node sends an LLM provider and what it gets back.

Providers are registered by name (the part of ``llm: "<provider>/<model>"`` before the slash) with a factory
that builds one provider instance per agent from a ``ProviderSetup``. The engine never substitutes one provider
for another: a name that no installed distribution registers is a load-time error.

Messages are normalised so that adapters translate one shape to their wire format:

- ``{"role": "user", "content": str}`` -- the node's input (and context), as JSON text;
- ``{"role": "assistant", "content": str, "tool_calls": [{"id", "name", "arguments"}]}`` -- a model turn
  that asked for tools;
- ``{"role": "tool", "tool_call_id": str, "name": str, "content": str}`` -- a tool's result, as JSON text.

The engine owns retries and timeouts (so every attempt is recorded, whatever the provider): adapters switch
their SDK's own retries off and raise ``ProviderError(retryable=..., status=..., retry_after=...)``.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agent_engine_core.secrets import Secret

__all__ = [
    "ENGINE_CONFIG_KEYS",
    "OFFLINE_CONFIG_KEYS",
    "AgentConfig",
    "Credential",
    "LlmProvider",
    "LlmReply",
    "LlmRequest",
    "ProviderFactory",
    "ProviderSetup",
    "ToolCall",
]

ENGINE_CONFIG_KEYS = frozenset({"max_tool_rounds", "timeout_s", "max_attempts", "retry_backoff_s"})
"""Agent config keys the engine itself reads (tool rounds, per-attempt timeout, retries); never sent on."""

OFFLINE_CONFIG_KEYS = frozenset({"responses", "tool_calls", "recording"})
"""Agent config keys of the offline providers; live providers ignore them, so switching ``llm:`` is one line."""


@dataclass(frozen=True, slots=True)
class Credential:
    """A resolved ``provider_credentials.yaml`` entry; ``api_key`` is a redacting ``Secret``."""

    id: str
    provider: str
    api_key: Secret
    base_url: str | None = None
    default_model: str | None = None


class AgentConfig(Protocol):
    """What a provider reads of its agents.yaml entry; the engine passes a ``manifests.models.AgentSpec``.

    Declared here so that the contract does not import the manifests, which are built on it.
    """

    @property
    def id(self) -> str:
        """The agent's id."""

    @property
    def llm(self) -> str:
        """``"<provider>/<model>"``."""

    @property
    def prompt(self) -> str:
        """The system instructions."""

    @property
    def config(self) -> Mapping[str, Any]:
        """The agent's ``config:``, read-only."""

    @property
    def credential(self) -> str | None:
        """The id of its credential, if any."""


@dataclass(frozen=True, slots=True)
class ProviderSetup:
    """What a provider factory builds one agent's provider from."""

    agent: AgentConfig
    model: str
    credential: Credential | None = None
    project_dir: Path | None = None

    @property
    def provider(self) -> str:
        """The provider name, as ``llm:`` writes it before the slash."""
        return self.agent.llm.partition("/")[0]

    @property
    def options(self) -> dict[str, Any]:
        """A copy of the agent config without the engine's and the offline providers' keys."""
        skip = ENGINE_CONFIG_KEYS | OFFLINE_CONFIG_KEYS
        return {key: value for key, value in self.agent.config.items() if key not in skip}


@dataclass(frozen=True, slots=True)
class ToolCall:
    """A tool call the model asked for; ``arguments`` is the decoded JSON object it sent."""

    id: str
    name: str
    arguments: Mapping[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """JSON form, as messages and the history carry it."""
        return {"id": self.id, "name": self.name, "arguments": dict(self.arguments)}


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
    """Tool definitions ``{"name", "description", "parameters"}``, ``parameters`` being a JSON Schema."""
    config: Mapping[str, Any] = field(default_factory=lambda: MappingProxyType({}))
    timeout_s: float | None = None
    """How long this attempt may take; adapters pass it to their HTTP client."""

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
    """A normalised reply from one provider call.

    ``content`` is the model's text (JSON for a final answer), ``tool_calls`` what the model asked the engine to
    run first, ``usage`` has ``input_tokens`` and ``output_tokens``.
    """

    content: str
    model: str
    usage: Mapping[str, int] = field(default_factory=lambda: MappingProxyType({}))
    finish_reason: str | None = None
    response_id: str | None = None
    tool_calls: tuple[ToolCall, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        """What the history records of the reply."""
        return {
            "content": self.content,
            "model": self.model,
            "finish_reason": self.finish_reason,
            "response_id": self.response_id,
            "tool_calls": [c.to_dict() for c in self.tool_calls],
        }


@runtime_checkable
class LlmProvider(Protocol):
    """One provider instance per agent.

    ``complete`` may be ``async def`` (awaited on the engine's loop) or a plain ``def`` (run in a worker thread).
    A provider may also define ``describe() -> Mapping[str, str]`` (SDK name and version, endpoint), which the
    engine adds to ``TaskResult.metadata``, and ``aclose()``/``close()``, called when the engine closes.
    """

    def complete(self, request: LlmRequest) -> LlmReply | Awaitable[LlmReply]:
        """Answer ``request``; raise ``ProviderError`` (or any exception) to fail the attempt."""
        ...

    def check(self, node_ids: Sequence[str]) -> list[str]:
        """Problems with serving the agent nodes ``node_ids`` that can be seen before any run (load time)."""
        ...


ProviderFactory = Callable[[ProviderSetup], LlmProvider]
"""Builds the provider of one agent; raises ``ProviderError`` when the agent's config is unusable."""
