"""LLM provider for Agent Engine: OpenAI and every OpenAI-compatible server, through the official ``openai`` SDK.

Install the distribution and write ``llm: openai/<model>`` in agents.yaml, with a ``provider: openai`` entry in
provider_credentials.yaml (its ``config.base_url`` points at a compatible server). See README.md for the
accepted config options and the notes on Ollama, vLLM, llama.cpp and LM Studio.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_openai._version import __version__

if TYPE_CHECKING:  # the names as type checkers see them; at run time they load on first access
    from agent_engine_openai._mapping import ALLOWED_OPTIONS
    from agent_engine_openai._provider import OPENAI_API_BASE, OpenAIProvider, create_provider

__all__ = [
    "ALLOWED_OPTIONS",
    "OPENAI_API_BASE",
    "OpenAIProvider",
    "__version__",
    "create_provider",
]

_LAZY = {
    "ALLOWED_OPTIONS": "agent_engine_openai._mapping",
    "OPENAI_API_BASE": "agent_engine_openai._provider",
    "OpenAIProvider": "agent_engine_openai._provider",
    "create_provider": "agent_engine_openai._provider",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first access, so that plugin discovery does not import the openai SDK."""
    return lazy_attribute(__name__, _LAZY, name)
