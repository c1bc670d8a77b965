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

The third row is what a one-shot command (``agent-engine validate``, a CI check) pays for a large project: import,
then load and validate workload 5's 2000-node workflow written by hand in block style, once, against LangGraph
importing, parsing the same file with PyYAML's C loader and building + compiling the same ``StateGraph``. It
includes every one-time cost a warm load (workload 5) does not see: pydantic and the manifest models, PyYAML and
plugin discovery.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import bench_load_large
from _graphs import block_yaml, diamonds
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


FIRST_LOAD = {  # workload 5's block-style file, loaded once in a fresh interpreter (the dir is argv[1])
    "Agent Engine": (
        "import sys\n"
        "from agent_engine_core import Engine\n"
        "assert len(Engine.from_config_dir(sys.argv[1]).dag.nodes) == 2000"
    ),
    "LangGraph": (
        "import pathlib, sys, yaml\n"
        "from _graphs import langgraph, default_lg_fn\n"
        "text = (pathlib.Path(sys.argv[1]) / 'workflow.yaml').read_text(encoding='utf-8')\n"
        "manifest = yaml.load(text, Loader=getattr(yaml, 'CSafeLoader', yaml.SafeLoader))\n"
        "shape = (manifest['nodes'], manifest['edges'])\n"
        "assert len(langgraph(shape, default_lg_fn(shape)).compile().nodes) == 2001"
    ),
}


def _wall_ms(statement: str, env: dict[str, str], *args: str) -> float:
    start = time.perf_counter_ns()
    subprocess.run([sys.executable, "-c", statement, *args], check=True, capture_output=True, env=env, cwd=HERE)
    return (time.perf_counter_ns() - start) / 1e6


def run(settings: Settings) -> list[Row]:
    with tempfile.TemporaryDirectory(prefix="ae-bench-pycache-") as cache:
        env = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
        env["PYTHONPYCACHEPREFIX"] = cache
        repeats = max(5, settings.repeats)
        imported, base = _measure("import", STATEMENTS, repeats, env)
        first_run, _ = _measure("first run", FIRST_RUN, repeats, env)
        with tempfile.TemporaryDirectory(prefix="ae-bench-") as project:
            text = block_yaml(diamonds(bench_load_large.NODES, bench_load_large.EDGES))
            (Path(project) / "workflow.yaml").write_text(text, encoding="utf-8")
            first_load, _ = _measure("first load", FIRST_LOAD, repeats, env, project)
    note = f"bare interpreter start-up: {base:.1f} ms"
    return [
        Row("6. import in a fresh interpreter", "ms (minus bare `python -c pass`)",
            imported["Agent Engine"], imported["LangGraph"], note=note),
        Row("6. import + build and run a 6-node chain, fresh interpreter", "ms (minus bare `python -c pass`)",
            first_run["Agent Engine"], first_run["LangGraph"],
            note="includes what the import defers: pydantic and the manifest models load with the first project"),
        Row("6. import + load the 2000-node block-style workflow once, fresh interpreter",
            "ms (minus bare `python -c pass`)", first_load["Agent Engine"], first_load["LangGraph"],
            note="LangGraph: import, parse the same file with PyYAML's C loader, build and compile"),
    ]


def _measure(
    label: str, statements: dict[str, str], repeats: int, env: dict[str, str], *args: str
) -> tuple[dict[str, float | None], float]:
    """Median wall time of each statement (``args``: its ``sys.argv[1:]``) minus that of ``pass``, and the latter."""
    figures: dict[str, float | None] = {}
    for name, statement in statements.items():
        try:
            _wall_ms(statement, env, *args)  # warm-up: bytecode caches and the OS file cache
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
                samples[name].append(_wall_ms(statement, env, *args))
    base = statistics.median(baseline)
    for name in statements:
        if name not in figures:
            figures[name] = statistics.median(samples[name]) - base
    return figures, base
