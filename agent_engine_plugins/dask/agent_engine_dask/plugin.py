"""The entry point module: registers the ``dask`` executor (named in scheduler.yaml)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from agent_engine_core import hookimpl

if TYPE_CHECKING:
    from agent_engine_core.executors import ExecutorSetup, TaskExecutor

__all__ = ["EXECUTOR_NAME", "build_executor", "register_executors"]

EXECUTOR_NAME = "dask"
"""The name scheduler.yaml uses: ``executor: dask``."""


def build_executor(setup: ExecutorSetup) -> TaskExecutor:
    """The executor factory, called while an engine is built: checks the config and the project, starts nothing.

    distributed is imported here, not at discovery, so installing the plugin costs engines that do not use it
    nothing. Raises ``ValueError`` for an unusable config and ``ManifestError`` for a memory backend that the
    workers cannot share.
    """
    from agent_engine_dask._config import check_memory, read_config  # noqa: PLC0415 - light discovery
    from agent_engine_dask._executor import DaskExecutor  # noqa: PLC0415

    config = read_config(setup.config)
    check_memory(setup.project)
    return DaskExecutor(config)


@hookimpl
def register_executors(register: Callable[..., Any]) -> None:
    """Offer the ``dask`` executor to the engine."""
    register(EXECUTOR_NAME, build_executor)
