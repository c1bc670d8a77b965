"""Shared helpers of the inspector CLI's tests (their fixtures are in ``_inspect_fixtures``).

The persistent run store under test is chosen in one place, ``STORE``: SQLite (agent-engine-memory-sqlite),
what ``agent-engine run`` keeps runs in. To test the same commands on another backend, change ``STORE``
(``runs:`` of memory.yaml and how to open the store).
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_engine_memory_sqlite import build_run_store
from click.testing import CliRunner, Result

from agent_engine_core import Engine
from agent_engine_core.cli import main
from agent_engine_core.runs import RunStore, RunStoreSetup

TESTS = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Store:
    """A persistent run store: memory.yaml's ``runs:`` for it, and how a test opens it directly."""

    runs: Mapping[str, Any]
    open: Callable[[Path], RunStore]


STORE = Store({"backend": "sqlite"},
              lambda project: build_run_store(RunStoreSetup(project.resolve().name, project, None, {})))

GOOD = {"topic": "hi", "words": ["ab", "c"]}
"""Two subtasks that succeed: the run succeeds."""
BOOM = {"topic": "hi", "words": ["ab", "boom", "c"]}
"""Three subtasks, the second fails (``each`` refuses ``boom``): the run fails at ``gather``."""


def run(project: Path, *inputs: tuple[str, Any]) -> None:
    """Run ``(run_id, input)`` pairs in this process; the engine's close writes them to the store."""
    with Engine.from_config_dir(project) as engine:
        for run_id, payload in inputs:
            engine.run(payload, run_id=run_id)


def cli(*args: Any) -> Result:
    """``agent-engine ARGS`` in this process."""
    return CliRunner().invoke(main, [str(a) for a in args])


def cli_env(kit: Path) -> dict[str, str]:
    """The environment of an ``agent-engine`` subprocess that finds the test kit."""
    env = {**os.environ, "NO_COLOR": "1"}
    env["PYTHONPATH"] = os.pathsep.join([str(kit), str(TESTS), env.get("PYTHONPATH", "")])
    env.pop("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", None)
    env.pop("AGENT_ENGINE_LOAD_PLUGINS", None)
    return env


def stored_documents(project: Path) -> dict[str, tuple[Any, str]]:
    """Every stored run's summary and document text, read from the store directly."""
    store = STORE.open(project)
    try:
        return {s.run_id: (s, store.get(s.run_id).document_json) for s in store.runs()}  # type: ignore[union-attr]
    finally:
        store.close()


def snapshot(folder: Path) -> Iterator[tuple[str, bytes]]:
    """Every file under ``folder`` with its bytes."""
    for path in sorted(folder.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            yield str(path.relative_to(folder)), path.read_bytes()

