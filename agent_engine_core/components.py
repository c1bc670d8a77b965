"""The per-engine registry of named components and the distribution each came from.

Built-in components are registered through the same hooks as third-party ones, with their distribution name,
so that a duplicate name is refused with both distributions named and metadata can say who provided what.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from agent_engine_core.errors import PluginError

__all__ = ["CATEGORIES", "CORE_DISTRIBUTION", "Components", "Registration", "distribution_hint"]

CORE_DISTRIBUTION = "agent-engine-core"

CATEGORIES = {
    "register_llm_providers": "llm_provider",
    "register_tools": "tool",
    "register_memory_backends": "memory_backend",
    "register_telemetry_sinks": "telemetry_sink",
    "register_executors": "executor",
    "register_node_handlers": "node_handler",
    "register_cli_commands": "cli_command",
    "register_token_counters": "token_counter",
}
"""Registration hook -> component category."""

_KNOWN_DISTRIBUTIONS = {
    ("llm_provider", "openai"): "agent-engine-openai",
    ("llm_provider", "anthropic"): "agent-engine-anthropic",
    ("executor", "dask"): "agent-engine-dask",
    ("memory_backend", "jsonl"): "agent-engine-memory-jsonl",
    ("memory_backend", "sqlite"): "agent-engine-memory-sqlite",
    ("memory_backend", "postgres"): "agent-engine-memory-postgres",
    ("telemetry_sink", "trace_file"): "agent-engine-telemetry-jsonl",
    ("telemetry_sink", "otel"): "agent-engine-otel",
    ("telemetry_sink", "metrics"): "agent-engine-metrics",
    **{("tool", name): "agent-engine-tools-std" for name in (
        "fs.read_file", "fs.write_file", "fs.list_dir", "proc.run_command", "net.http_get", "memory.write")},
}


@dataclass(frozen=True, slots=True)
class Registration:
    """A component name, the object that builds or is it, and the distribution that registered it."""

    category: str
    name: str
    factory: Any
    distribution: str


class Components:
    """Named components of one engine, by category."""

    def __init__(self) -> None:
        self._by_category: dict[str, dict[str, Registration]] = {c: {} for c in CATEGORIES.values()}

    def of(self, category: str) -> dict[str, Registration]:
        """The registrations of one category, by name."""
        return self._by_category[category]

    @property
    def llm_providers(self) -> dict[str, Registration]:
        """LLM provider factories by provider name."""
        return self._by_category["llm_provider"]

    def add(self, category: str, name: str, factory: Any, *, distribution: str) -> None:
        """Register ``factory`` as ``name``; a name can be taken once per category."""
        taken = self._by_category[category]
        existing = taken.get(name)
        if existing is not None:
            raise PluginError(
                f"{category.replace('_', ' ')} '{name}' is registered by both {existing.distribution} and "
                f"{distribution}; uninstall one of them or disable one with AGENT_ENGINE_LOAD_PLUGINS",
                plugin=distribution,
            )
        taken[name] = Registration(category, name, factory, distribution)

    def registrar(self, hook: str, distribution: str, log: list[str]) -> Callable[..., None]:
        """The ``register`` callback a registration hook receives; it appends ``category:name`` to ``log``."""
        category = CATEGORIES[hook]

        def register(name: Any, factory: Any = None) -> None:
            if factory is None:  # register(click_command): the object names itself
                name, factory = getattr(name, "name", None), name
            if not isinstance(name, str) or not name:
                raise TypeError(f"{hook}: register(name, factory) needs a non-empty name")
            self.add(category, name, factory, distribution=distribution)
            log.append(f"{category}:{name}")

        return register

    def forget(self, entries: list[str]) -> None:
        """Remove registrations (``category:name``) of a plugin that failed half-way."""
        for entry in entries:
            category, _, name = entry.partition(":")
            self._by_category[category].pop(name, None)


def distribution_hint(category: str, name: str) -> str:
    """What to install for a component that is not registered."""
    known = _KNOWN_DISTRIBUTIONS.get((category, name))
    if known:
        return f"pip install {known}"
    return f"install the distribution that provides the {category.replace('_', ' ')} '{name}'"
