"""The suite's own helpers clean up after themselves: engines from ``_workflows.engine`` are closed per test."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

from _workflows import close_engines, split_engine

from agent_engine_core.testing import CANARY_ENV

TESTS = Path(__file__).resolve().parent


def _pool_threads() -> list[threading.Thread]:
    return [thread for thread in threading.enumerate() if thread.name.startswith("agent-engine-")]


def test_close_engines_joins_the_threads_of_every_engine_the_helper_made():
    before = set(_pool_threads())
    engines = [split_engine(lambda payload, ctx: payload) for _ in range(2)]
    assert all(eng.run([1, 2, 3]).status == "success" for eng in engines)
    started = [thread for thread in _pool_threads() if thread not in before]
    assert len({thread.name.rsplit("_", 1)[0] for thread in started}) == 2, "each engine started its pool"
    close_engines()
    assert [thread.name for thread in started if thread.is_alive()] == []


INNER = """
import threading
from _workflows import split_engine

STARTED = []
KEPT = []  # what a module-scoped fixture or a traceback does: the engine outlives its test


def test_runs_a_fan_out():
    eng = split_engine(lambda payload, ctx: payload)
    assert eng.run([1, 2, 3]).status == "success"
    KEPT.append(eng)
    STARTED.extend(t for t in threading.enumerate() if t.name.startswith("agent-engine-"))
    assert STARTED


def test_the_last_tests_engine_was_closed_when_it_ended():
    assert STARTED, "runs after test_runs_a_fan_out"
    assert [t.name for t in STARTED if t.is_alive()] == []
"""


def test_the_suites_fixture_closes_them_after_each_test(tmp_path):
    """Two tests in a session with tests/conftest.py: the first's engine is closed when the second runs.

    The first keeps its engine referenced, so only a close (not garbage collection) can have ended its threads.
    """
    (tmp_path / "test_inner.py").write_text(INNER)
    env = {key: value for key, value in os.environ.items() if key != CANARY_ENV}
    env["PYTHONPATH"] = os.pathsep.join([str(TESTS), env.get("PYTHONPATH", "")])
    done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "-p", "conftest",
                           "-p", "no:randomly", "test_inner.py"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "2 passed" in done.stdout
