"""The entry point module: registers the ``postgres`` memory backend, run store and run journal (memory.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_engine_core import hookimpl

if TYPE_CHECKING:
    from agent_engine_core.journal import RunJournal
    from agent_engine_core.memory import MemoryBackend, MemorySetup
    from agent_engine_core.runs import RunStore, RunStoreSetup

__all__ = ["BACKEND_NAME", "build_backend", "build_run_journal", "build_run_store", "register_memory_backends",
           "register_run_journals", "register_run_stores"]

BACKEND_NAME = "postgres"
"""The name memory.yaml uses: ``project_store: {backend: postgres, config: {dsn_env: ...}}``."""


def build_backend(setup: MemorySetup) -> MemoryBackend:
    """The backend factory, called once per store that names ``postgres``: see ``PostgresBackend``.

    psycopg is imported here, not at discovery, so installing the plugin costs engines that do not use it
    nothing. Raises ``ValueError`` for an unusable config and ``ConnectionError`` for an unreachable server or
    refused credentials.
    """
    from agent_engine_memory_postgres._backend import PostgresBackend  # noqa: PLC0415 - light discovery

    return PostgresBackend(setup)


@hookimpl
def register_memory_backends(register: Callable[..., Any]) -> None:
    """Offer the ``postgres`` backend to the engine."""
    register(BACKEND_NAME, build_backend)


def build_run_store(setup: RunStoreSetup) -> RunStore:
    """The run store factory (memory.yaml ``runs: {backend: postgres, config: {dsn_env: ...}}``).

    The config is the memory backend's; the runs live in the ``runs`` table of its schema. Raises as
    ``build_backend`` does.
    """
    from agent_engine_memory_postgres._runs import PostgresRunStore  # noqa: PLC0415 - light discovery

    return PostgresRunStore(setup)


@hookimpl
def register_run_stores(register: Callable[..., Any]) -> None:
    """Offer the ``postgres`` run store to the engine."""
    register(BACKEND_NAME, build_run_store)


def build_run_journal(setup: RunStoreSetup) -> RunJournal:
    """The run journal factory (memory.yaml ``runs: {backend: postgres, durability: stage, config: {...}}``).

    The config is the run store's; the journal lives in the ``journal_runs``/``journal_entries`` tables of its
    schema, shared by every worker. Raises as ``build_backend`` does.
    """
    from agent_engine_memory_postgres._journal import PostgresRunJournal  # noqa: PLC0415 - light discovery

    return PostgresRunJournal(setup)


@hookimpl
def register_run_journals(register: Callable[..., Any]) -> None:
    """Offer the ``postgres`` run journal to the engine."""
    register(BACKEND_NAME, build_run_journal)
