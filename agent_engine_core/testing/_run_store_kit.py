"""``check_runs_survive_kills``: an engine keeping its runs in a store is killed mid-run; no acknowledged run is lost.

The engine's side of durability, end to end: memory.yaml names the store, the engine's writer thread writes
each finished run, and ``engine.flush_runs()`` returning acknowledges every run so far. A child interpreter
runs a small workflow over and over and prints each acknowledged run; the parent kills it with SIGKILL at a
random moment while it works, then opens the store afresh and checks every run in it.

Run as ``python -m agent_engine_core.testing._run_store_kit CONFIG_DIR RUNS``, this module is that child.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent_engine_core.engine import Engine
from agent_engine_core.runs import RunStore, RunStoreSetup

__all__ = ["check_runs_survive_kills"]

_PROJECT = "crash"
_TIMEOUT = 60  # seconds for one child to print a line; a fresh interpreter needs about half of one to start
_WORKFLOW_YAML = """\
version: "1.0"
nodes:
  - {id: s, role: start}
  - {id: e, role: exit}
edges:
  - {from: s, to: e}
"""


def check_runs_survive_kills(
    build: Callable[[RunStoreSetup], RunStore], config_dir: Path, backend: str, *,
    config: Mapping[str, Any] | None = None, runs: int = 50, rounds: int = 3, seed: int | None = None,
) -> None:
    """Kill an engine keeping runs in ``backend`` ``rounds`` times mid-way; the store keeps every acknowledged run.

    Writes a project into ``config_dir`` whose memory.yaml has ``runs: {backend: ..., config: ...}`` (``config``
    must be JSON). Each round, a child engine starts ``runs`` runs, printing each run's id and trace digest
    once ``flush_runs()`` returned; the parent kills it after a random number of them (a fifth to three fifths
    of ``runs``), at a random moment of the next ones. Then a store built by ``build`` on the project's setup
    must open and hold every acknowledged run, its document complete (its trace's digest the printed one), and
    any other run in it must be complete too. The next round's engine opens the store the kill left behind.
    """
    rng = random.Random(seed if seed is not None else int(os.environ.get("AGENT_ENGINE_KILL_SEED", "20261203")))
    (config_dir / "workflow.yaml").write_text(_WORKFLOW_YAML)
    (config_dir / "memory.yaml").write_text(
        f"memory: {{project_id: {_PROJECT}}}\n"
        f"runs: {{backend: {backend}, config: {json.dumps(dict(config or {}))}}}\n")
    acknowledged: dict[str, str] = {}
    for _ in range(rounds):
        acknowledged.update(_kill_a_child(config_dir, runs, rng))
        store = build(RunStoreSetup(_PROJECT, config_dir, None, dict(config or {})))
        try:
            _check_store(store, acknowledged)
        finally:
            store.close()


def _kill_a_child(config_dir: Path, runs: int, rng: random.Random) -> dict[str, str]:
    """Start a child engine, kill it mid-way, and return what it acknowledged (run id -> trace digest)."""
    stop_after = rng.randint(max(1, runs // 5), max(1, runs * 3 // 5))  # in the middle, never at the end
    child = subprocess.Popen([sys.executable, "-m", __name__, str(config_dir), str(runs)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    acknowledged: dict[str, str] = {}
    try:
        assert child.stdout is not None
        while len(acknowledged) < stop_after:
            line = child.stdout.readline()
            if not line:
                error = child.stderr.read() if child.stderr else ""
                raise AssertionError(f"the engine process ended before it was killed (code {child.wait()}):\n"
                                     f"{error[-3000:]}")
            run_id, digest = line.split()
            acknowledged[run_id] = digest
        time.sleep(rng.uniform(0, 0.01))  # somewhere in the next runs, their writes included
        child.send_signal(signal.SIGKILL)
        code = child.wait(_TIMEOUT)
        assert code == -signal.SIGKILL, f"the engine process ended (code {code}) before it was killed"
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
        for stream in (child.stdout, child.stderr):
            if stream is not None:
                stream.close()
    return acknowledged


def _check_store(store: RunStore, acknowledged: Mapping[str, str]) -> None:
    listed = {summary.run_id: summary for summary in store.runs()}
    lost = sorted(set(acknowledged) - set(listed))
    assert not lost, f"acknowledged runs are missing after the kill: {lost}"
    for run_id, summary in listed.items():
        run = store.get(run_id)
        assert run is not None, f"run {run_id!r} is listed but get() does not find it"
        assert run.summary == summary, f"run {run_id!r}: get() and runs() disagree"
        document = run.document()  # parses completely, in the format this core reads
        assert document["summary"]["run_id"] == run_id, f"run {run_id!r}: its document is another run's"
        digest = run.trace.digest  # the trace rebuilds completely
        if run_id in acknowledged:
            assert digest == acknowledged[run_id], f"run {run_id!r} changed after it was acknowledged"


def _main(config_dir: str, runs: str) -> None:
    engine = Engine.from_config_dir(config_dir)
    for n in range(int(runs)):
        result = engine.run({"n": n, "text": "x" * (n * 97 % 4000)})
        engine.flush_runs()
        print(result.task_id, result.trace.digest, flush=True)
    engine.close()


if __name__ == "__main__":
    _main(*sys.argv[1:])
