"""The entry point module: registers the ``sqlite`` memory backend, run store and run journal (memory.yaml)."""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl
from agent_engine_core.memory import MemorySetup
from agent_engine_core.runs import RunStoreSetup

from agent_engine_memory_sqlite._backend import SqliteMemoryBackend
from agent_engine_memory_sqlite._journal import SqliteRunJournal
from agent_engine_memory_sqlite._runs import SqliteRunStore

__all__ = ["BACKEND_NAME", "build_backend", "build_run_journal", "build_run_store", "register_memory_backends",
           "register_run_journals", "register_run_stores"]

BACKEND_NAME = "sqlite"
"""The name memory.yaml gives a store's ``backend``, and ``runs:`` its ``backend``."""


def build_backend(setup: MemorySetup) -> SqliteMemoryBackend:
    """The factory: one store's backend (``ValueError`` naming the path when it cannot be used)."""
    return SqliteMemoryBackend(setup)


@hookimpl
def register_memory_backends(register: Callable[..., None]) -> None:
    """Offer the ``sqlite`` backend to the engine."""
    register(BACKEND_NAME, build_backend)


def build_run_store(setup: RunStoreSetup) -> SqliteRunStore:
    """The run store factory (``ValueError`` naming the path or the config key when it cannot be used)."""
    return SqliteRunStore(setup)


@hookimpl
def register_run_stores(register: Callable[..., None]) -> None:
    """Offer the ``sqlite`` run store to the engine (memory.yaml ``runs: {backend: sqlite}``)."""
    register(BACKEND_NAME, build_run_store)


def build_run_journal(setup: RunStoreSetup) -> SqliteRunJournal:
    """The run journal factory: ``journal.db`` beside the run database (``ValueError`` naming the path)."""
    return SqliteRunJournal(setup)


@hookimpl
def register_run_journals(register: Callable[..., None]) -> None:
    """Offer the ``sqlite`` run journal (memory.yaml ``runs: {backend: sqlite, durability: stage}``)."""
    register(BACKEND_NAME, build_run_journal)
