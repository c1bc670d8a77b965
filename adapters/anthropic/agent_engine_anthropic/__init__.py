"""Anthropic (Claude) LLM provider for Agent Engine, via the official ``anthropic`` SDK.

Install the distribution, write ``llm: anthropic/<model>`` in agents.yaml and add a ``provider: anthropic``
entry to provider_credentials.yaml. README.md describes the accepted config options and how requests, tools
and structured output map to the Messages API.
"""

from __future__ import annotations

from typing import Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_anthropic._version import __version__

__all__ = [
    "DEFAULT_BASE_URL",
    "DEFAULT_MAX_TOKENS",
    "OPTIONS",
    "OUTPUT_TOOL_NAME",
    "AnthropicProvider",
    "__version__",
    "build_provider",
]

_LAZY = {
    "DEFAULT_BASE_URL": "agent_engine_anthropic._provider",
    "DEFAULT_MAX_TOKENS": "agent_engine_anthropic._options",
    "OPTIONS": "agent_engine_anthropic._options",
    "OUTPUT_TOOL_NAME": "agent_engine_anthropic._mapping",
    "AnthropicProvider": "agent_engine_anthropic._provider",
    "build_provider": "agent_engine_anthropic.plugin",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first access, so that plugin discovery does not import the SDK."""
    return lazy_attribute(__name__, _LAZY, name)
