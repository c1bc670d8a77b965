"""The entry point module: registers the ``jsonl`` memory backend and run store, also named ``file`` (memory.yaml)."""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl
from agent_engine_core.memory import MemorySetup
from agent_engine_core.runs import RunStoreSetup

from agent_engine_memory_jsonl._backend import JsonlMemoryBackend
from agent_engine_memory_jsonl._runs import JsonlRunStore

__all__ = [
    "BACKEND_NAME", "BUILD_PLAN_NAME", "build_backend", "build_run_store", "register_memory_backends",
    "register_run_stores",
]

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


def build_run_store(setup: RunStoreSetup) -> JsonlRunStore:
    """The run store factory (``ValueError`` naming the path or the config key when it cannot be used)."""
    return JsonlRunStore(setup)


@hookimpl
def register_run_stores(register: Callable[..., None]) -> None:
    """Offer the run store to the engine as ``jsonl`` and ``file`` (memory.yaml ``runs: {backend: jsonl}``)."""
    register(BACKEND_NAME, build_run_store)
    register(BUILD_PLAN_NAME, build_run_store)
