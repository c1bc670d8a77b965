"""The entry point module: registers the ``anthropic`` LLM provider (``llm: anthropic/<model>`` in agents.yaml)."""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl
from agent_engine_core.llm import LlmProvider, ProviderSetup

from agent_engine_anthropic._options import PROVIDER

__all__ = ["build_provider", "register_llm_providers"]


def build_provider(setup: ProviderSetup) -> LlmProvider:
    """The provider factory: one ``AnthropicProvider`` per agent (``ProviderError`` for an unusable config).

    The SDK is imported here, not at discovery, so installing the adapter costs engines that do not use it
    nothing.
    """
    from agent_engine_anthropic._provider import AnthropicProvider  # noqa: PLC0415 - light discovery

    return AnthropicProvider(setup)


@hookimpl
def register_llm_providers(register: Callable[..., None]) -> None:
    """Offer the ``anthropic`` provider to the engine."""
    register(PROVIDER, build_provider)
