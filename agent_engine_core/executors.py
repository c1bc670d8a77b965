"""The task executor contract: how ``engine.run_queued()`` hands queued tasks to another process or machine.

scheduler.yaml names the executor that runs queued tasks::

    scheduler:
      executor: dask                              # local (the default) or any registered executor
      config: {address: "tcp://scheduler:8786"}   # passed to its factory

``local`` runs them in the engine's own process. Any other name is a **task executor** a plugin registers
through ``register_executors``: ``register("dask", factory)``. The factory is called once while the engine is
built, with an ``ExecutorSetup``, and returns a ``TaskExecutor``. It checks the config and the project then
(raising ``ValueError``, reported as a located load error at scheduler.yaml's ``config``, or ``ManifestError``
with located issues of its own) and starts nothing: ``agent-engine validate`` builds engines too. The first
``submit`` is where a cluster is reached or started.

``run_queued`` takes each task from the queue in FIFO order, at most ``max_concurrency`` in flight, and calls
``submit(RemoteTask)``. The executor runs ``agent_engine_core.worker.run_task(task)`` wherever it runs tasks
(that function builds the engine from the config dir once per process and runs the task there) and completes
the returned ``concurrent.futures.Future`` with a ``TaskOutcome``: the JSON text ``run_task`` returned, which
attempt produced it and where. The engine turns it back into the ``TaskResult`` a local run would have
returned (the same trace digest), adds ``metadata["executor"]`` and keeps the run in its own run store.

A future that fails is not a task failure (those are results): it means the executor could not run the task.
``run_queued`` then lets the tasks in flight finish, puts the failed ones back at the front of the queue and
raises ``PluginError`` naming the executor and the first failure; nothing queued is lost. ``shutdown`` is
called when the engine closes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from concurrent.futures import Future
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

if TYPE_CHECKING:
    from agent_engine_core.manifests.loader import Project

__all__ = ["LOCAL", "ExecutorSetup", "RemoteTask", "TaskExecutor", "TaskExecutorFactory", "TaskOutcome"]

LOCAL = "local"
"""The built-in executor: queued tasks run in the engine's process (its factory makes the handler pool)."""


@dataclass(frozen=True, slots=True)
class RemoteTask:
    """One queued task as it travels to a worker: plain, picklable data, the same for every attempt."""

    run_id: str
    """The task's run id (and task id): the same run id gives the same task ids and trace digest anywhere."""
    input_json: str
    """The input as canonical JSON text, copied when the task was queued."""
    start: str
    """The start node."""
    config_dir: str
    """Where the worker finds the project (the client's config dir, unless the executor's config says otherwise)."""
    project: str
    """The SHA-256 of the client's manifests, schemas and project id: a worker that loads another project refuses."""


@dataclass(frozen=True, slots=True)
class TaskOutcome:
    """What a task executor's future completes with."""

    result_json: str
    """The text ``agent_engine_core.worker.run_task`` returned for the task."""
    attempt: int = 1
    """1 for a first run; n when n - 1 earlier attempts were lost with the worker that ran them."""
    worker: str | None = None
    """Where the task ran (an address or a name), for ``metadata["executor"]``."""


@dataclass(frozen=True, slots=True)
class ExecutorSetup:
    """What a task executor's factory builds the executor from."""

    name: str
    """The executor's registered name (scheduler.yaml ``executor``)."""
    config: Mapping[str, Any]
    """scheduler.yaml ``config``, read-only."""
    project: Project
    """The validated manifests, e.g. to refuse a memory backend the executor cannot share between workers."""
    config_dir: Path
    """The project's config dir as the client sees it (absolute)."""
    max_concurrency: int
    """scheduler.yaml ``max_concurrency``: the most tasks ``run_queued`` keeps in flight (a call may lower it)."""


@runtime_checkable
class TaskExecutor(Protocol):
    """Runs queued tasks elsewhere: the ``submit``/``shutdown`` subset of ``concurrent.futures.Executor``.

    ``submit`` is called from the engine's event loop thread and must not block on the task; the future may be
    completed from any thread.
    """

    def submit(self, task: RemoteTask) -> Future[TaskOutcome]:
        """Start running ``task``; the future completes with its ``TaskOutcome`` or the reason it could not run."""
        ...

    def shutdown(self, wait: bool = True) -> None:
        """Release what the executor holds (a client, a cluster it started); called when the engine closes."""
        ...


TaskExecutorFactory = Callable[[ExecutorSetup], TaskExecutor]
"""What ``register_executors`` registers under a name other than ``local``."""
