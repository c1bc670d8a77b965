"""Workload 4: 2000 sequential runs of a 5-node chain: throughput, and whether memory stays flat.

What it measures: runs per second of a small workflow (start -> 3 linear -> exit, no-op handlers) run back to
back, timed in blocks of 100 runs (the figure comes from the median block, robust to a noisy neighbour); and
the peak RSS (high-water mark) after 200 warm-up runs and after all runs. An engine that keeps something per
run (histories, tasks, events, caches keyed by run id) shows up as RSS growing with the number of runs; the
target is a flat line (growth ≈ 0). The current RSS is sampled every 500 runs and shown in the notes.

Why a child process per framework: a peak RSS only ever goes up and is per process, so measuring in the
suite's own process would mix in the other framework and the earlier workloads. Each framework runs in a
fresh interpreter (``python bench_sequential_runs.py --child ae|lg``) that imports only that framework and
reports JSON back. Stdlib only: ``/proc/self/status`` on Linux, ``resource.getrusage`` elsewhere.

The run store's cost: the same workload with no run store (``runs=False``), with the default in-memory one,
and with every run kept in SQLite (memory.yaml ``runs: {backend: sqlite}``, with and without its events) in a
temporary folder, each in its own child too. A block's time includes ``flush_runs()`` at its end, so the
writer thread's backlog is paid inside the measurement, never left for after it.
"""

from __future__ import annotations

import argparse
import gc
import json
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _graphs import agent_engine, chain, default_lg_fn, langgraph, noop, workflow
from _harness import ERRORS, Row, Settings, current_rss_mib, peak_rss_mib

LENGTH = 5
WARMUP_RUNS = 200
BLOCK = 100  # runs per timed block; runs/s is taken from the median block, robust to a noisy neighbour


RUN_STORES: dict[str, tuple[str, dict[str, Any] | None]] = {
    "ae-no-runs": ("runs=False (no run store)", None),
    "ae-sqlite": ("runs in SQLite, events: false", {"backend": "sqlite", "events": False}),
    "ae-sqlite-events": ("runs in SQLite, events: true", {"backend": "sqlite", "events": True}),
}
"""Agent Engine children beyond ``ae`` (the default in-memory run store): a label and memory.yaml's ``runs:``."""


def _engine(side: str, folder: Path) -> Any:
    shape = chain(LENGTH)
    if side == "ae":
        return agent_engine(shape, {"noop": noop})
    from agent_engine_core import Engine  # noqa: PLC0415 - the other side must run without this import

    kept = RUN_STORES[side][1]
    manifests: dict[str, Any] = {"workflow": workflow(shape)}
    if kept is not None:
        manifests["memory"] = {"runs": kept}
    return Engine.from_dict(manifests, base_dir=folder, handlers={"noop": noop}, runs=False if kept is None else None)


def _runner(side: str, folder: Path) -> tuple[Callable[[], object], Callable[[], None]]:
    """One run, and what ends a block (``flush_runs`` for an engine)."""
    if side.startswith("ae"):
        engine = _engine(side, folder)
        result = engine.run({"x": 1})
        if result.status != "success" or result.output != {"x": 1}:
            raise RuntimeError(f"unexpected result: status={result.status!r} output={result.output!r}")
        return lambda: engine.run({"x": 1}), engine.flush_runs
    shape = chain(LENGTH)
    app = langgraph(shape, default_lg_fn(shape)).compile()
    return lambda: app.invoke({"x": {"x": 1}}), lambda: None


def child(side: str, runs: int) -> dict[str, object]:
    """Runs in the child interpreter: warm up, then time ``runs`` runs and watch the RSS."""
    with tempfile.TemporaryDirectory(prefix="bench-runs-") as folder:
        return _measure(*_runner(side, Path(folder)), runs)


def _measure(once: Callable[[], object], flush: Callable[[], None], runs: int) -> dict[str, object]:
    for _ in range(WARMUP_RUNS):
        once()
    flush()
    gc.collect()
    peak_before, trajectory = peak_rss_mib(), [current_rss_mib()]
    block_ns = []
    for i in range(runs // BLOCK):
        start = time.perf_counter_ns()
        for _ in range(BLOCK):
            once()
        flush()
        block_ns.append(time.perf_counter_ns() - start)
        if (i + 1) * BLOCK % 500 == 0:
            trajectory.append(current_rss_mib())
    gc.collect()
    return {
        "runs_per_s": BLOCK / (statistics.median(block_ns) / 1e9),
        "peak_rss_before_mib": peak_before,
        "peak_rss_after_mib": peak_rss_mib(),
        "rss_every_500_mib": trajectory,
    }


def _spawn(side: str, runs: int, label: str) -> dict[str, object] | None:
    cmd = [sys.executable, str(Path(__file__).resolve()), "--child", side, "--runs", str(runs)]
    proc = subprocess.run(cmd, capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        tail = proc.stderr.strip().splitlines()[-1:] or ["no output"]
        ERRORS.append(f"sequential runs [{label}]: child exited {proc.returncode}: {tail[0]}")
        return None
    return json.loads(proc.stdout)


def run(settings: Settings) -> list[Row]:
    runs = 500 if settings.quick else 2000
    ae = _spawn("ae", runs, "Agent Engine")
    lg = _spawn("lg", runs, "LangGraph")
    kept = {side: _spawn(side, runs, f"Agent Engine, {label}") for side, (label, _) in RUN_STORES.items()}

    def get(res: dict[str, object] | None, key: str) -> float | None:
        return None if res is None else float(res[key])  # type: ignore[arg-type]

    def growth(res: dict[str, object] | None) -> float | None:
        return None if res is None else get(res, "peak_rss_after_mib") - get(res, "peak_rss_before_mib")

    def trajectory(res: dict[str, object] | None) -> str:
        if res is None:
            return "n/a"
        return " -> ".join(f"{v:.1f}" for v in res["rss_every_500_mib"])  # type: ignore[attr-defined]

    name = f"4. {runs} runs of a {LENGTH}-node chain"
    return [
        Row(name, "runs/s (higher is better)", get(ae, "runs_per_s"), get(lg, "runs_per_s")),
        Row(
            name,
            f"peak RSS after {WARMUP_RUNS} warm-up runs, MiB",
            get(ae, "peak_rss_before_mib"),
            get(lg, "peak_rss_before_mib"),
        ),
        Row(
            name,
            f"peak RSS growth over {runs} runs, MiB",
            growth(ae),
            growth(lg),
            "flat (≈ 0)",
            note=f"current RSS every 500 runs, MiB: Agent Engine {trajectory(ae)}; LangGraph {trajectory(lg)}",
        ),
        *_run_store_rows(name, ae, kept, get),
    ]


def _run_store_rows(name: str, default: dict[str, object] | None, kept: dict[str, dict[str, object] | None],
                    get: Callable[[dict[str, object] | None, str], float | None]) -> list[Row]:
    """Agent Engine's runs/s with each run store, and its cost against keeping no runs at all."""
    bare = get(kept["ae-no-runs"], "runs_per_s")
    rows = [Row(name, f"Agent Engine runs/s, {RUN_STORES['ae-no-runs'][0]}", bare, None)]
    for label, result in (("default in-memory run store (last 100 runs)", default),
                          *((RUN_STORES[side][0], kept[side]) for side in ("ae-sqlite", "ae-sqlite-events"))):
        rps = get(result, "runs_per_s")
        cost = "n/a" if rps is None or not bare else f"{(bare / rps - 1) * 100:+.1f}% time per run vs runs=False"
        rows.append(Row(name, f"Agent Engine runs/s, {label}", rps, None, note=cost))
    return rows


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--child", choices=("ae", "lg", *RUN_STORES), required=True)
    parser.add_argument("--runs", type=int, default=2000)
    args = parser.parse_args()
    print(json.dumps(child(args.child, args.runs)))
