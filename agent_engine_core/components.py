"""The per-engine registry of named components (LLM providers for now) and where each came from.

Built-in components are registered exactly like third-party ones, with their distribution name, so that a
duplicate name is refused with both distributions named and ``metadata`` can say who provided what.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from agent_engine_core.errors import PluginError
from agent_engine_core.llm import ProviderFactory
from agent_engine_core.providers.scripted import ScriptedProvider

__all__ = ["CORE_DISTRIBUTION", "Components", "Registration", "distribution_hint"]

CORE_DISTRIBUTION = "agent-engine-core"

_KNOWN_DISTRIBUTIONS = {
    ("llm_provider", "openai"): "agent-engine-openai",
    ("llm_provider", "anthropic"): "agent-engine-anthropic",
}


@dataclass(frozen=True, slots=True)
class Registration:
    """A component name, the object that builds it, and the distribution that registered it."""

    name: str
    factory: Any
    distribution: str


class Components:
    """Named components of one engine, by category."""

    def __init__(self) -> None:
        self.llm_providers: dict[str, Registration] = {}
        self.register_llm_provider("scripted", ScriptedProvider, distribution=CORE_DISTRIBUTION)

    def register_llm_provider(self, name: str, factory: ProviderFactory, *, distribution: str) -> None:
        """Register an LLM provider factory under ``name``; a name can be taken once."""
        existing = self.llm_providers.get(name)
        if existing is not None:
            raise PluginError(
                f"LLM provider '{name}' is registered by both {existing.distribution} and {distribution}; "
                "uninstall one of them",
                plugin=distribution,
            )
        self.llm_providers[name] = Registration(name, factory, distribution)


def distribution_hint(category: str, name: str) -> str:
    """What to install for a component that is not registered."""
    known = _KNOWN_DISTRIBUTIONS.get((category, name))
    if known:
        return f"pip install {known}"
    return f"install the distribution that provides the {category.replace('_', ' ')} '{name}'"
