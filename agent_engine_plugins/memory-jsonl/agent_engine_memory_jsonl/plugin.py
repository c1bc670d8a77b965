"""The entry point module: registers the ``jsonl`` memory backend, also named ``file`` (chosen in memory.yaml)."""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl
from agent_engine_core.memory import MemorySetup

from agent_engine_memory_jsonl._backend import JsonlMemoryBackend

__all__ = ["BACKEND_NAME", "BUILD_PLAN_NAME", "build_backend", "register_memory_backends"]

BACKEND_NAME = "jsonl"
"""The name memory.yaml gives a store's ``backend``."""

BUILD_PLAN_NAME = "file"
"""The build plan's name of the same backend (``backend: "file"``); both names open the same files."""


def build_backend(setup: MemorySetup) -> JsonlMemoryBackend:
    """The factory: one store's backend (``ValueError`` naming the path when it cannot be used)."""
    return JsonlMemoryBackend(setup)


@hookimpl
def register_memory_backends(register: Callable[..., None]) -> None:
    """Offer the backend to the engine as ``jsonl`` and as the build plan's ``file``."""
    register(BACKEND_NAME, build_backend)
    register(BUILD_PLAN_NAME, build_backend)
