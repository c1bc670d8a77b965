"""``run_task``: where a task executor runs a queued task, in a worker process (docs/PLUGINS.md, executors).

The first task of a config dir builds its engine (plugins, manifests, handlers, memory connections) and the
process keeps it: every later task of that project, from any thread of the worker, reuses it. The engine is
built without a run store, whatever memory.yaml's ``runs:`` says: the run goes back to the engine that queued
the task, which keeps it (a worker keeping it too would write each run twice, and a file-based run store from
every worker at once). A worker whose config dir holds another project than the client's (other manifests,
schemas or project id) rebuilds its engine once, in case the project was redeployed, then refuses the task.
"""

from __future__ import annotations

import atexit
import dataclasses
import threading
from pathlib import Path

from agent_engine_core.engine import Engine
from agent_engine_core.executors import RemoteTask

__all__ = ["run_task"]

_engines: dict[str, Engine] = {}
_lock = threading.Lock()


def run_task(task: RemoteTask) -> str:
    """Run ``task`` with this process's engine of ``task.config_dir``; the run as JSON text for a ``TaskOutcome``.

    Raises ``ManifestError`` when the project does not load here and ``PluginError`` when it is not the project
    of the engine that queued the task; a task that fails is a result, not an exception.
    """
    engine = _engine_for(task.config_dir, rebuild=False)
    if engine._origin()[1] != task.project:  # redeployed since this engine was built? _serve refuses otherwise
        engine = _engine_for(task.config_dir, rebuild=True, stale=engine)
    return engine._serve(task)


def _engine_for(config_dir: str, *, rebuild: bool, stale: Engine | None = None) -> Engine:
    """The cached engine of ``config_dir``; with ``rebuild``, a new one in place of ``stale`` (unless replaced)."""
    with _lock:
        engine = _engines.get(config_dir)
        if engine is not None and not (rebuild and engine is stale):
            return engine
        from agent_engine_core.manifests.loader import load_config_dir  # noqa: PLC0415 - with the first task

        project = load_config_dir(Path(config_dir))
        fresh = Engine(dataclasses.replace(project, memory=project.memory.model_copy(update={"runs": None})),
                       runs=False)
        _engines[config_dir] = fresh
    if engine is not None:
        engine.close()
    return fresh


@atexit.register
def _close_engines() -> None:
    """A worker that exits closes its engines: memory connections and sinks are released, not dropped."""
    with _lock:
        engines = list(_engines.values())
        _engines.clear()
    for engine in engines:
        engine.close()
