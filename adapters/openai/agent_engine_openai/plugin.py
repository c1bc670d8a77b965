"""The ``agent_engine`` entry point of agent-engine-openai: registers the ``openai`` LLM provider.

The SDK is imported only when an agent uses the provider, so discovering the plugin costs nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from agent_engine_core import hookimpl
from agent_engine_core.llm import ProviderSetup

if TYPE_CHECKING:
    from agent_engine_openai._provider import OpenAIProvider


def provider_factory(setup: ProviderSetup) -> OpenAIProvider:
    """The ``openai`` provider of one agent: ``agent_engine_openai.create_provider``, imported on first use."""
    from agent_engine_openai._provider import create_provider as create  # noqa: PLC0415 - the SDK loads on use

    return create(setup)


@hookimpl
def register_llm_providers(register: Callable[..., None]) -> None:
    """``openai``: OpenAI and every server that speaks its Chat Completions API (``llm: openai/<model>``)."""
    register("openai", provider_factory)
