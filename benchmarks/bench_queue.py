"""Workload 9: 10,000 queued tasks of a 5-node chain, at max_concurrency 1 and 8, beside LangGraph's ``batch``.

What it measures: tasks per second of ``engine.enqueue`` x N then ``engine.run_queued()`` (the task queue of
issue 14), against LangGraph's ``app.batch(inputs, config={"max_concurrency": ...})`` of the same graph; every
task's input differs (its index) and each node returns a changed, growing payload (the list of nodes it went
through), so no side can hand an input through unchanged. Also the peak RSS before the batch and after it, with
the results still held by the caller (what a user of ``run_queued``/``batch`` holds), and whether any task was
lost. Agent Engine runs with ``runs=False`` and with its default in-memory run store.

A child process per framework and setting, as workload 4: a peak RSS is per process and only goes up.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from _graphs import chain, default_lg_fn, fan_out, langgraph, workflow
from _harness import ERRORS, Row, Settings, peak_rss_mib

LENGTH = 5
WARMUP = 200


def _step(payload: Any, ctx: Any) -> Any:
    return {"i": payload["i"], "path": [*payload["path"], ctx.node_id]}


def _ae(concurrency: int, store: bool) -> tuple[Any, Any]:
    from agent_engine_core import Engine  # noqa: PLC0415 - the other side runs without this import

    engine = Engine.from_dict({"workflow": workflow(chain(LENGTH, handler="step")), "scheduler": {"scheduler": {
        "max_concurrency": concurrency, "max_queue_size": None}}}, handlers={"step": _step},
        runs=None if store else False)

    def batch(inputs: list[Any]) -> list[Any]:
        for value in inputs:
            engine.enqueue(value)
        return [r.output for r in engine.run_queued()]

    return batch, engine


def _lg(concurrency: int) -> Any:
    def make(node: dict[str, Any]) -> Any:
        node_id = node["id"]

        def step(state: dict[str, Any]) -> dict[str, Any]:
            x = state["x"]
            return {"x": {"i": x["i"], "path": [*x["path"], node_id]}}
        return step

    app = langgraph(chain(LENGTH), make).compile()

    def batch(inputs: list[Any]) -> list[Any]:
        return [s["x"] for s in app.batch([{"x": v} for v in inputs], config={"max_concurrency": concurrency})]

    return batch


def child(side: str, tasks: int, concurrency: int, store: bool) -> dict[str, object]:
    """In the child interpreter: warm up, then run ``tasks`` tasks as one batch; check every result."""
    batch = _ae(concurrency, store)[0] if side == "ae" else _lg(concurrency)
    batch([{"i": -1 - i, "path": []} for i in range(WARMUP)])
    gc.collect()
    before = peak_rss_mib()
    inputs = [{"i": i, "path": []} for i in range(tasks)]
    start = time.perf_counter_ns()
    outputs = batch(inputs)
    seconds = (time.perf_counter_ns() - start) / 1e9
    expected_path = [node["id"] for node in chain(LENGTH)[0]]
    lost = sum(1 for i, out in enumerate(outputs) if out != {"i": i, "path": expected_path}) + tasks - len(outputs)
    return {"tasks_per_s": tasks / seconds, "peak_rss_before_mib": before, "peak_rss_after_mib": peak_rss_mib(),
            "lost": lost}


def _spawn(side: str, tasks: int, concurrency: int, store: bool) -> dict[str, object] | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", side, "--tasks", str(tasks),
           "--concurrency", str(concurrency)] + (["--store"] if store else [])
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        ERRORS.append(f"queue [{side}, {concurrency}]: child exited {proc.returncode}: {tail[0]}")
        return None
    return json.loads(proc.stdout)


WIDTH, SLEEP_S, LANES = 32, 0.05, 16
"""The sleeping workload: each task a 32-way fan-out of ``asyncio.sleep(0.05)`` children, 16 tasks at once."""


async def _asleep(payload: Any, ctx: Any) -> Any:
    await asyncio.sleep(SLEEP_S)  # an agent-like call: waiting on the network, the loop free
    return payload


def _sleeping_ae(tasks: int) -> float:
    from agent_engine_core import Engine  # noqa: PLC0415

    shape = fan_out(WIDTH, child_handler="asleep")
    engine = Engine.from_dict({"workflow": workflow(shape), "scheduler": {"scheduler": {
        "max_concurrency": LANES, "max_queue_size": None}}}, handlers={"asleep": _asleep, "noop": lambda p, c: p},
        runs=False)
    for i in range(tasks):
        engine.enqueue({"x": i})
    start = time.perf_counter()
    results = engine.run_queued()
    seconds = time.perf_counter() - start
    if [len(r.output["merge_inputs"]) for r in results] != [WIDTH] * tasks:
        raise RuntimeError("unexpected Agent Engine output")
    return seconds


def _sleeping_lg(tasks: int) -> float:
    shape = fan_out(WIDTH)
    pick = default_lg_fn(shape)

    async def child(state: dict[str, Any]) -> dict[str, Any]:
        await asyncio.sleep(SLEEP_S)
        return {"results": [state["x"]]}

    app = langgraph(shape, lambda n: child if n["id"].startswith("child") else pick(n)).compile()
    inputs = [{"x": {"x": i}, "results": []} for i in range(tasks)]
    start = time.perf_counter()
    outputs = asyncio.run(app.abatch(inputs, config={"max_concurrency": LANES}))
    seconds = time.perf_counter() - start
    if [len(o["x"]["merge_inputs"]) for o in outputs] != [WIDTH] * tasks:
        raise RuntimeError("unexpected LangGraph output")
    return seconds


def _sleeping_rows(settings: Settings) -> list[Row]:
    tasks = 50 if settings.quick else 200
    ideal = tasks / LANES * SLEEP_S
    sides = []
    for label, measure in (("Agent Engine", _sleeping_ae), ("LangGraph", _sleeping_lg)):
        try:
            sides.append(measure(tasks))
        except Exception as exc:  # a side that fails prints n/a and the reason
            ERRORS.append(f"queue, sleeping [{label}]: {type(exc).__name__}: {exc}")
            sides.append(None)
    name = f"9. {tasks} queued tasks of {WIDTH} x asyncio.sleep({SLEEP_S}), max_concurrency {LANES}"
    return [Row(name, "seconds per batch (lower is better)", sides[0], sides[1], f"ideal {ideal:.3f} s",
                note=f"ideal: {tasks} / {LANES} tasks in flight x {SLEEP_S} s, the sleeps of one task at once")]


def run(settings: Settings) -> list[Row]:
    tasks = 2000 if settings.quick else 10_000
    rows = _sleeping_rows(settings)
    for concurrency in (1, 8):
        ae = _spawn("ae", tasks, concurrency, store=False)
        stored = _spawn("ae", tasks, concurrency, store=True)
        lg = _spawn("lg", tasks, concurrency, store=False)

        def get(res: dict[str, object] | None, key: str) -> float | None:
            return None if res is None else float(res[key])  # type: ignore[arg-type]

        name = f"9. {tasks:,} queued {LENGTH}-node tasks, max_concurrency {concurrency}"
        lost = (f"tasks lost: Agent Engine {get(ae, 'lost')}, with its run store {get(stored, 'lost')}, "
                f"LangGraph {get(lg, 'lost')}")
        rows.append(Row(name, "tasks/s (higher is better)", get(ae, "tasks_per_s"), get(lg, "tasks_per_s"),
                        "≥ 5,000", note=lost))
        rows.append(Row(name + ", default in-memory run store", "tasks/s (higher is better)",
                        get(stored, "tasks_per_s"), get(lg, "tasks_per_s")))
        for res, label in ((ae, ""), (stored, ", default in-memory run store")):
            rows.append(Row(name + label, "peak RSS after the batch, MiB (results held)",
                            get(res, "peak_rss_after_mib"), get(lg, "peak_rss_after_mib"),
                            "≤ 1.5 x before + 20",
                            note=f"before: Agent Engine {get(res, 'peak_rss_before_mib')}, "
                                 f"LangGraph {get(lg, 'peak_rss_before_mib')}"))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("ae", "lg"), required=True)
    parser.add_argument("--tasks", type=int, default=10_000)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--store", action="store_true")
    args = parser.parse_args()
    print(json.dumps(child(args.child, args.tasks, args.concurrency, args.store)))
