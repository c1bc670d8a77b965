"""memory.yaml at build time: one backend per store, and a context assembler per profile a node names."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType
from typing import TYPE_CHECKING, Any

from agent_engine_core._build.context import ContextAssembler, estimate_tokens
from agent_engine_core._build.components import Components, Registration, distribution_hint
from agent_engine_core.errors import ManifestIssue
from agent_engine_core.memory import STORES, Memory, MemoryBackend, MemorySetup, StoreName

if TYPE_CHECKING:
    from agent_engine_core.manifests.loader import Project
    from agent_engine_core.manifests.models import ContextProfile

__all__ = ["PendingMemory", "bind_memory", "context_assemblers", "context_profiles", "project_id_of",
           "register_estimate"]

RESERVED_PROFILES = ("none", "global")


def register_estimate(register: Any) -> None:
    """The built-in ``estimate`` token counter (registered by the core like any counter)."""
    register("estimate", estimate_tokens)


@dataclass(frozen=True, slots=True)
class PendingMemory:
    """The engine's memory before its backends are opened, with what ``open`` needs to open them."""

    memory: Memory
    stores: tuple[tuple[StoreName, Registration, MemorySetup], ...]

    def open(self, project: Project, issues: list[ManifestIssue]) -> bool:
        """Build every store's backend, once the project is valid; False, with nothing left open, after an issue."""
        source = project.source("memory")
        backends: dict[StoreName, MemoryBackend] = {}
        for store, registration, setup in self.stores:
            try:
                backends[store] = registration.factory(setup)
            except Exception as exc:  # a backend that cannot start is a load error, never a silent fallback
                issues.append(source.issue(
                    f"the {store} store's backend '{registration.name}' cannot be used: {type(exc).__name__}: {exc}",
                    ["memory", f"{store}_store", "config" if setup.config else "backend"],
                    code="memory.backend_unusable"))
        if len(backends) < len(STORES):
            for backend in backends.values():
                backend.close()
            return False
        self.memory.open(backends)
        return True


def bind_memory(project: Project, components: Components, issues: list[ManifestIssue]) -> PendingMemory | None:
    """The engine's memory as memory.yaml describes it, checked but not opened (None after an issue)."""
    source = project.source("memory")
    spec = project.memory.memory
    project_id = project_id_of(project)
    installed = components.of("memory_backend")
    stores = []
    for store in STORES:
        store_spec = getattr(spec, f"{store}_store")
        registration = installed.get(store_spec.backend)
        if registration is None:
            issues.append(source.issue(
                f"the {store} store uses memory backend '{store_spec.backend}', which is not installed",
                ["memory", f"{store}_store", "backend"], code="memory.unknown_backend",
                hint=distribution_hint("memory_backend", store_spec.backend, installed)))
            continue
        setup = MemorySetup(store, project_id, project.base_dir, store_spec.retention.max_items,
                            MappingProxyType(dict(store_spec.config)))
        stores.append((store, registration, setup))
    if len(stores) < len(STORES):
        return None
    return PendingMemory(Memory.unopened(project_id), tuple(stores))


def project_id_of(project: Project) -> str:
    """memory.yaml's ``project_id``, else the config dir's name (``default`` for in-memory manifests)."""
    chosen = project.memory.memory.project_id
    return chosen or (project.base_dir.resolve().name if project.base_dir else "default")


def context_profiles(project: Project, issues: list[ManifestIssue]) -> dict[str, ContextProfile]:
    """The project's profiles by id plus the built-in ``global``; ``none`` and ``global`` cannot be redefined."""
    from agent_engine_core.manifests.models import GLOBAL_PROFILE  # noqa: PLC0415 - pydantic loads with a project

    source = project.source("memory")
    profiles: dict[str, ContextProfile] = {"global": GLOBAL_PROFILE}
    for index, profile in enumerate(project.memory.context_profiles):
        if profile.id in RESERVED_PROFILES or profile.id in profiles:
            issues.append(source.issue(f"context profile id '{profile.id}' is taken", ["context_profiles", index, "id"],
                                       code="memory.duplicate_profile",
                                       hint="'none' and 'global' are built in; every id must be unique"))
            continue
        profiles[profile.id] = profile
    return profiles


def context_assemblers(
    project: Project, profiles: Mapping[str, ContextProfile], memory: Memory | None, components: Components,
    issues: list[ManifestIssue],
) -> dict[str, ContextAssembler]:
    """An assembler per profile whose token counter is registered (None of them without a memory)."""
    source = project.source("memory")
    counters = components.of("token_counter")
    assemblers = {}
    for position, profile in enumerate(project.memory.context_profiles):
        if profile.token_counter not in counters:
            issues.append(source.issue(
                f"context profile '{profile.id}' counts tokens with '{profile.token_counter}', which is not "
                "registered", ["context_profiles", position, "token_counter"], code="memory.unknown_token_counter",
                hint=f"use one of: {', '.join(sorted(counters))}"))
    if memory is None:
        return {}
    for profile_id, profile in profiles.items():
        counter = counters.get(profile.token_counter)
        if counter is not None:
            assemblers[profile_id] = ContextAssembler(profile, memory, counter.factory)
    return assemblers
