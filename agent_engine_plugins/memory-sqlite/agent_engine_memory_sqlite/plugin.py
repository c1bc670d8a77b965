"""The entry point module: registers the ``sqlite`` memory backend (chosen per store in memory.yaml)."""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl
from agent_engine_core.memory import MemorySetup

from agent_engine_memory_sqlite._backend import SqliteMemoryBackend

__all__ = ["BACKEND_NAME", "build_backend", "register_memory_backends"]

BACKEND_NAME = "sqlite"
"""The name memory.yaml gives a store's ``backend``."""


def build_backend(setup: MemorySetup) -> SqliteMemoryBackend:
    """The factory: one store's backend (``ValueError`` naming the path when it cannot be used)."""
    return SqliteMemoryBackend(setup)


@hookimpl
def register_memory_backends(register: Callable[..., None]) -> None:
    """Offer the ``sqlite`` backend to the engine."""
    register(BACKEND_NAME, build_backend)
