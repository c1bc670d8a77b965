"""The per-engine registry of named components and the distribution each came from.

Built-in components are registered through the same hooks as third-party ones, with their distribution name,
so that a duplicate name is refused with both distributions named and metadata can say who provided what.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any

from agent_engine_core.errors import PluginError

__all__ = [
    "CATEGORIES", "CORE_DISTRIBUTION", "KNOWN_COMPONENTS", "REPOSITORY_DISTRIBUTIONS", "Components", "ComponentsView",
    "Registration", "distribution_hint",
]

CORE_DISTRIBUTION = "agent-engine-core"

CATEGORIES = {
    "register_llm_providers": "llm_provider",
    "register_tools": "tool",
    "register_memory_backends": "memory_backend",
    "register_run_stores": "run_store",
    "register_run_journals": "run_journal",
    "register_telemetry_sinks": "telemetry_sink",
    "register_executors": "executor",
    "register_node_handlers": "node_handler",
    "register_cli_commands": "cli_command",
    "register_token_counters": "token_counter",
}
"""Registration hook -> component category."""

REPOSITORY_DISTRIBUTIONS = {
    "agent-engine-openai": "adapters/openai",
    "agent-engine-anthropic": "adapters/anthropic",
    "agent-engine-tools-std": "adapters/tools-std",
    "agent-engine-mcp": "adapters/mcp",
    "agent-engine-memory-jsonl": "agent_engine_plugins/memory-jsonl",
    "agent-engine-memory-sqlite": "agent_engine_plugins/memory-sqlite",
    "agent-engine-memory-postgres": "agent_engine_plugins/memory-postgres",
    "agent-engine-telemetry-jsonl": "agent_engine_plugins/telemetry-jsonl",
    "agent-engine-otel": "agent_engine_plugins/otel",
    "agent-engine-metrics": "agent_engine_plugins/metrics",
    "agent-engine-dask": "agent_engine_plugins/dask",
}
"""Every plugin distribution of this repository -> its folder, which ``pip install -e`` takes."""

KNOWN_COMPONENTS = {
    ("llm_provider", "openai"): "agent-engine-openai",
    ("llm_provider", "anthropic"): "agent-engine-anthropic",
    ("memory_backend", "file"): "agent-engine-memory-jsonl",
    ("memory_backend", "jsonl"): "agent-engine-memory-jsonl",
    ("memory_backend", "sqlite"): "agent-engine-memory-sqlite",
    ("memory_backend", "postgres"): "agent-engine-memory-postgres",
    ("run_store", "jsonl"): "agent-engine-memory-jsonl",
    ("run_store", "sqlite"): "agent-engine-memory-sqlite",
    ("run_store", "postgres"): "agent-engine-memory-postgres",
    ("run_journal", "sqlite"): "agent-engine-memory-sqlite",
    ("run_journal", "postgres"): "agent-engine-memory-postgres",
    ("telemetry_sink", "trace_file"): "agent-engine-telemetry-jsonl",
    ("telemetry_sink", "otel"): "agent-engine-otel",
    ("telemetry_sink", "metrics"): "agent-engine-metrics",
    ("executor", "dask"): "agent-engine-dask",
    **{("tool", name): "agent-engine-tools-std" for name in (
        "fs.read_file", "fs.write_file", "fs.list_dir", "proc.run_command", "net.http_get", "memory.write")},
    ("tool", "mcp"): "agent-engine-mcp",
}
"""(category, name) -> the distribution of this repository that registers it (for install hints)."""


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

    def view(self) -> ComponentsView:
        """A read-only view, what an engine hands out: registering is for plugins, while the engine loads."""
        return ComponentsView(self)


class ComponentsView:
    """The registrations of one engine, read-only (``Registration.factory`` is the plugin author's object)."""

    __slots__ = ("_by_category",)

    def __init__(self, components: Components) -> None:
        self._by_category = MappingProxyType(
            {category: MappingProxyType(taken) for category, taken in components._by_category.items()}
        )

    def of(self, category: str) -> Mapping[str, Registration]:
        """The registrations of one category, by name."""
        return self._by_category[category]

    @property
    def llm_providers(self) -> Mapping[str, Registration]:
        """LLM provider factories by provider name."""
        return self._by_category["llm_provider"]


def distribution_hint(category: str, name: str, installed: Iterable[str] | None = None) -> str:
    """What to do about the component ``name`` that is not registered: the installed names, what to install.

    Only distributions of this repository are named, with the command that installs one from its checkout.
    """
    kind = category.replace("_", " ")
    names = sorted(installed) if installed is not None else None
    advice = _install(category, name)
    if advice is None:
        known = {n for c, n in KNOWN_COMPONENTS if c == category}
        close = difflib.get_close_matches(name, sorted({*(names or ()), *known}), n=1, cutoff=0.6)
        if close:
            advice = f"did you mean '{close[0]}'?"
            if close[0] not in (names or ()) and (hint := _install(category, close[0])) is not None:
                advice += f" {hint}"
        else:
            advice = f"no distribution of this repository provides the {kind} '{name}'; install the one that does"
    if names is None:
        return advice
    return f"installed {kind}s: {', '.join(names) or 'none'}; {advice}"


def _install(category: str, name: str) -> str | None:
    distribution = KNOWN_COMPONENTS.get((category, name))
    if distribution is None:
        return None
    return (f"'{name}' is provided by {distribution}: pip install -e {REPOSITORY_DISTRIBUTIONS[distribution]} "
            "(from the root of the agent-engine repository)")
