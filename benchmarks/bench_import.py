"""Workload 6: import time of the package, in a fresh interpreter.

What it measures: what ``from agent_engine_core import Engine`` adds to a program's start-up (CLI latency,
serverless cold starts, test collection). Each sample is the wall time of a fresh
``python -c "from agent_engine_core import Engine"`` minus the median of ``python -c pass``, so interpreter
start-up is not counted; LangGraph's figure is ``from langgraph.graph import StateGraph`` measured the same
way. Fresh subprocesses, because the suite's own process has both imported already.

Bytecode caches: the subprocesses get ``PYTHONPYCACHEPREFIX`` set to a temporary dir and
``PYTHONDONTWRITEBYTECODE`` removed, and one untimed warm-up import fills that cache. Otherwise a source
checkout installed in editable mode under ``PYTHONDONTWRITEBYTECODE=1`` (as on this project's machines) is
recompiled from source on every import, while site-packages carry the ``.pyc`` files pip wrote, which would
bill compilation to Agent Engine only.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _harness import ERRORS, Row, Settings

HERE = Path(__file__).parent

STATEMENTS = {
    "Agent Engine": "from agent_engine_core import Engine",
    "LangGraph": "from langgraph.graph import StateGraph",
}
FIRST_RUN = {  # import, build a 6-node chain in memory, run it once: what a short CLI or serverless call pays
    "Agent Engine": (
        "from _graphs import chain, agent_engine, noop\n"
        "assert agent_engine(chain(6), {'noop': noop}).run({'n': 1}).output == {'n': 1}"
    ),
    "LangGraph": (
        "from _graphs import chain, langgraph, default_lg_fn\n"
        "shape = chain(6)\n"
        "graph = langgraph(shape, default_lg_fn(shape)).compile()\n"
        "assert graph.invoke({'x': {'n': 1}, 'results': []})['x'] == {'n': 1}"
    ),
}


def _wall_ms(statement: str, env: dict[str, str]) -> float:
    start = time.perf_counter_ns()
    subprocess.run([sys.executable, "-c", statement], check=True, capture_output=True, env=env, cwd=HERE)
    return (time.perf_counter_ns() - start) / 1e6


def run(settings: Settings) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="ae-bench-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        repeats = max(5, settings.repeats)
        imported, base = _measure("import", STATEMENTS, repeats, env)
        first_run, _ = _measure("first run", FIRST_RUN, repeats, env)
    note = f"bare interpreter start-up: {base:.1f} ms"
    return [
        Row("6. import in a fresh interpreter", "ms (minus bare `python -c pass`)",
            imported["Agent Engine"], imported["LangGraph"], note=note),
        Row("6. import + build and run a 6-node chain, fresh interpreter", "ms (minus bare `python -c pass`)",
            first_run["Agent Engine"], first_run["LangGraph"],
            note="includes what the import defers: pydantic and the manifest models load with the first project"),
    ]


def _measure(
    label: str, statements: dict[str, str], repeats: int, env: dict[str, str]
) -> tuple[dict[str, float | None], float]:
    """Median wall time of each statement minus that of ``pass``, and that baseline."""
    figures: dict[str, float | None] = {}
    for name, statement in statements.items():
        try:
            _wall_ms(statement, env)  # warm-up: bytecode caches and the OS file cache
        except subprocess.CalledProcessError as exc:
            last = exc.stderr.decode(errors="replace").strip().splitlines()[-1:] or ["no output"]
            ERRORS.append(f"{label} [{name}]: {last[0]}")
            figures[name] = None
    samples: dict[str, list[float]] = {name: [] for name in statements}
    baseline: list[float] = []
    for _ in range(repeats):  # interleaved, like time_pair
        baseline.append(_wall_ms("pass", env))
        for name, statement in statements.items():
            if name not in figures:
                samples[name].append(_wall_ms(statement, env))
    base = statistics.median(baseline)
    for name in statements:
        if name not in figures:
            figures[name] = statistics.median(samples[name]) - base
    return figures, base
