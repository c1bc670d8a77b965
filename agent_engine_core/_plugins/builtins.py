"""The core's own components, registered through the same hooks as any third-party plugin."""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core._build.memory import register_estimate
from agent_engine_core._plugins.log_sink import LogSink
from agent_engine_core._run.pool import HandlerPool
from agent_engine_core.hookspecs import hookimpl
from agent_engine_core.journal import InMemoryRunJournal
from agent_engine_core.memory import InMemoryBackend
from agent_engine_core.providers.scripted import ScriptedProvider
from agent_engine_core.replay import replay_provider
from agent_engine_core.runs import InMemoryRunStore


@hookimpl
def register_llm_providers(register: Callable[..., None]) -> None:
    """``scripted`` and ``replay``: deterministic and offline (tests, demos, evaluations)."""
    register("scripted", ScriptedProvider)
    register("replay", replay_provider)


@hookimpl
def register_memory_backends(register: Callable[..., None]) -> None:
    """``memory``: process memory, bounded; the default of every store."""
    register("memory", InMemoryBackend)


@hookimpl
def register_run_stores(register: Callable[..., None]) -> None:
    """``memory``: the last runs of this process; what an engine keeps when memory.yaml has no ``runs:``."""
    register("memory", InMemoryRunStore)


@hookimpl
def register_run_journals(register: Callable[..., None]) -> None:
    """``memory``: durable runs of this process (approvals within one process); ``runs: {durability: stage}``."""
    register("memory", InMemoryRunJournal)


@hookimpl
def register_token_counters(register: Callable[..., None]) -> None:
    """``estimate``: 4 characters per token, the default counter of context profiles."""
    register_estimate(register)


@hookimpl
def register_telemetry_sinks(register: Callable[..., None]) -> None:
    """``log``: every event as a structlog line (plugins.yaml switches it on)."""
    register("log", LogSink)


@hookimpl
def register_executors(register: Callable[..., None]) -> None:
    """``local``: a thread pool for sync handlers (async ones run on the engine's event loop)."""
    register("local", local_executor)


def local_executor(max_workers: int) -> HandlerPool:
    """The ``local`` executor: ``max_workers`` threads (the scheduler's ``fanout_concurrency``)."""
    return HandlerPool(max_workers, thread_name_prefix="agent-engine")
