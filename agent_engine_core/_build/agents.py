"""An agent as the build binds it: its provider instance, the engine's limits for it, the secrets to redact."""

from __future__ import annotations

import inspect
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import LlmProvider
from agent_engine_core.secrets import Secret

if TYPE_CHECKING:
    from agent_engine_core.manifests.models import AgentSpec

__all__ = ["AgentBinding", "AgentLimits"]


@dataclass(frozen=True, slots=True)
class AgentLimits:
    """The engine's own agent settings, read from the agent's config (``ENGINE_CONFIG_KEYS``)."""

    max_tool_rounds: int = 8
    timeout_s: float = 120.0
    max_attempts: int = 3
    retry_backoff_s: float = 0.5

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> AgentLimits:
        """The limits in ``config``; raises ``ProviderError`` naming a key whose value is unusable."""
        values: dict[str, Any] = {}
        for name, kind, minimum in (("max_tool_rounds", int, 0), ("timeout_s", float, 0.001),
                                    ("max_attempts", int, 1), ("retry_backoff_s", float, 0.0)):
            if name not in config:
                continue
            value = config[name]
            is_number = isinstance(value, int | float) and not isinstance(value, bool)
            if not is_number or (kind is int and not isinstance(value, int)) or value < minimum:
                raise ProviderError(f"config.{name} must be {'an integer' if kind is int else 'a number'} "
                                    f">= {minimum}, not {value!r}")
            values[name] = kind(value)
        return cls(**values)


@dataclass(frozen=True, slots=True)
class AgentBinding:
    """The agent an agent node calls, its provider instance and what the engine needs to call it."""

    spec: AgentSpec
    provider: LlmProvider
    provider_name: str
    model: str
    response_schema: Mapping[str, Any] | None
    limits: AgentLimits
    secrets: tuple[Secret, ...] = ()

    @property
    def is_async(self) -> bool:
        """Whether ``provider.complete`` is a coroutine function (else it runs in a worker thread)."""
        return inspect.iscoroutinefunction(self.provider.complete)
