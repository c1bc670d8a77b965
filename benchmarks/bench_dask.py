"""Workload 10: the same 1,000 queued 5-node tasks on a Dask LocalCluster (agent-engine-dask), beside local runs.

What it measures: tasks per second of ``engine.enqueue`` x 1,000 then ``engine.run_queued()`` with
``executor: dask`` on a LocalCluster of two worker processes (one thread each) that the engine starts, the
cluster's start-up left out (a warm-up batch runs first); the same tasks on the local executor; and LangGraph's
``batch`` of the same graph, which has no cluster to run on, in this process. Every task's trace digest on the
cluster is compared with the local run of the same input and run id: the row's note says how many differ (the
contract is none). Tasks cross processes, so each costs a Dask task round trip (scheduler, worker, result back as
JSON): the figure is the executor's overhead on a workload whose nodes do nothing; real agent nodes take seconds.

The project is written to a temporary config dir (the workers build their engine from it, as in production).
Needs ``pip install -e agent_engine_plugins/dask``; without it the row is n/a with the reason.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

from _graphs import chain, langgraph, workflow
from _harness import ERRORS, Row, Settings

LENGTH = 5
WORKERS = 2
IN_FLIGHT = 128
"""``max_concurrency`` on the cluster: enough in flight that a worker always has the next task (32 gave 294 tasks/s)."""
WARMUP = 50

NODES = '''\
def step(payload, ctx):
    return {"i": payload["i"], "path": [*payload["path"], ctx.node_id]}
'''


def _project(folder: Path, executor: dict[str, Any] | None) -> Path:
    folder.mkdir(parents=True)
    (folder / "nodes.py").write_text(NODES)
    (folder / "workflow.yaml").write_text(json.dumps(workflow(chain(LENGTH, handler="nodes:step"))))
    scheduler: dict[str, Any] = {"max_concurrency": IN_FLIGHT, "max_queue_size": None}
    if executor is not None:
        scheduler.update(executor="dask", config=executor)
    (folder / "scheduler.yaml").write_text(json.dumps({"scheduler": scheduler}))
    return folder


def _batch(engine: Any, tasks: int, prefix: str) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    for i in range(tasks):
        engine.enqueue({"i": i, "path": []}, run_id=f"{prefix}{i}")
    results = engine.run_queued()
    return time.perf_counter() - start, results


def _agent_engine(tasks: int) -> tuple[float, float, int, int]:
    """Tasks/s on the cluster and locally, how many digests differ, how many tasks were lost."""
    from agent_engine_core import Engine  # noqa: PLC0415 - the LangGraph side runs without this import

    with tempfile.TemporaryDirectory(prefix="bench-dask-") as root:
        on_dask = _project(Path(root) / "dask", {"n_workers": WORKERS, "threads_per_worker": 1})
        with Engine.from_config_dir(on_dask, runs=False) as engine:
            _batch(engine, WARMUP, "warm")  # starts the cluster, builds each worker's engine
            seconds, remote = _batch(engine, tasks, "r")
        with Engine.from_config_dir(_project(Path(root) / "local", None), runs=False) as engine:
            _batch(engine, WARMUP, "warm")
            local_seconds, local = _batch(engine, tasks, "r")
    expected = [node["id"] for node in chain(LENGTH)[0]]
    lost = tasks - sum(1 for i, r in enumerate(remote) if r.output == {"i": i, "path": expected})
    differ = sum(1 for a, b in zip(remote, local, strict=True) if a.trace.digest != b.trace.digest)
    return tasks / seconds, tasks / local_seconds, differ + abs(len(remote) - len(local)), lost


def _langgraph(tasks: int) -> float:
    def make(node: dict[str, Any]) -> Any:
        node_id = node["id"]

        def step(state: dict[str, Any]) -> dict[str, Any]:
            x = state["x"]
            return {"x": {"i": x["i"], "path": [*x["path"], node_id]}}
        return step

    app = langgraph(chain(LENGTH), make).compile()
    app.batch([{"x": {"i": -1, "path": []}}] * WARMUP, config={"max_concurrency": IN_FLIGHT})
    start = time.perf_counter()
    app.batch([{"x": {"i": i, "path": []}} for i in range(tasks)], config={"max_concurrency": IN_FLIGHT})
    return tasks / (time.perf_counter() - start)


def run(settings: Settings) -> list[Row]:
    tasks = 200 if settings.quick else 1000
    name = f"10. {tasks:,} queued {LENGTH}-node tasks on a Dask LocalCluster ({WORKERS} worker processes)"
    try:
        remote, local, differ, lost = _agent_engine(tasks)
    except Exception as exc:  # a side that fails prints n/a and the reason
        ERRORS.append(f"dask [Agent Engine]: {type(exc).__name__}: {exc}")
        remote = local = None
        note = "not measured"
    else:
        note = (f"digests differing from the local run of the same tasks: {differ}; tasks lost: {lost}; the local "
                f"executor on the same tasks: {local:,.0f} tasks/s; max_concurrency {IN_FLIGHT}")
    try:
        lg: float | None = _langgraph(tasks)
    except Exception as exc:
        ERRORS.append(f"dask [LangGraph]: {type(exc).__name__}: {exc}")
        lg = None
    return [Row(name, "tasks/s (higher is better); LangGraph: batch in one process", remote, lg,
                "digests equal", note=note)]


if __name__ == "__main__":
    for row in run(Settings.make(quick=False)):
        print(row)
