"""The ``dask`` executor for Agent Engine: ``engine.run_queued()`` runs the queued tasks on a Dask cluster.

Install the distribution and name the executor in scheduler.yaml (``executor: dask``; ``config: {address:
"tcp://scheduler:8786"}`` for an existing cluster, nothing for a ``LocalCluster`` the engine starts and closes).
See README.md for the config, what the workers need, and how retries are recorded.
"""

from __future__ import annotations

from typing import Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_dask._version import __version__

__all__ = ["FILE_BACKENDS", "DaskConfig", "DaskExecutor", "__version__", "task_key"]

_LAZY = {
    "DaskConfig": "agent_engine_dask._config",
    "FILE_BACKENDS": "agent_engine_dask._config",
    "DaskExecutor": "agent_engine_dask._executor",
    "task_key": "agent_engine_dask._executor",
}


def __getattr__(name: str) -> Any:
    """Import the public names on first access, so that plugin discovery imports neither dask nor pydantic."""
    return lazy_attribute(__name__, _LAZY, name)
