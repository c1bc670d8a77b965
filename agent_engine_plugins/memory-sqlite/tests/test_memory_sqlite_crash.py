"""Crash safety: writers killed with SIGKILL at random moments lose no acknowledged write, and the store loads.

A writer appends as fast as it can and reports each acknowledged id; the test kills it after a random 5-100 ms
(from a fixed seed: set MEMORY_CRASH_SEED to replay another sequence), 50 times on the same store, and reopens
the store after each kill. Kills land while the database is opened, mid-transaction and mid-commit.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from agent_engine_core.memory import MemorySetup

from agent_engine_memory_sqlite import build_backend

pytestmark = pytest.mark.skipif(sys.platform == "win32", reason="SIGKILL and fork are POSIX")

SEED = int(os.environ.get("MEMORY_CRASH_SEED", "20240611"))
KILLS = 50
WRITERS = Path(__file__).with_name("_memory_sqlite_writers.py")


class WriterServer:
    """The test's side of ``_memory_sqlite_writers.py``."""

    def __init__(self, factory: str, log: Path) -> None:
        self.log = log.open("w")
        self.process = subprocess.Popen([sys.executable, str(WRITERS), factory], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, stderr=self.log, text=True, bufsize=1)
        assert self._line() == "ready"

    def _line(self) -> str:
        assert self.process.stdout is not None
        line = self.process.stdout.readline()
        assert line, f"the writer server died; its log: {Path(self.log.name).read_text()}"
        return line.rstrip("\n")

    def write_then_kill(self, folder: Path, run: int, max_items: int | None, delay: float) -> list[str]:
        """Start a writer, SIGKILL it after ``delay`` seconds; the ids it saw acknowledged, in order."""
        assert self.process.stdin is not None
        self.process.stdin.write(f"{folder} {run} {'-' if max_items is None else max_items}\n")
        self.process.stdin.flush()
        line = self._line()
        assert line.startswith("child "), line
        time.sleep(delay)
        os.kill(int(line.split()[1]), signal.SIGKILL)
        acknowledged = []
        while not (line := self._line()).startswith("exit "):
            assert not line.startswith("error "), f"the writer failed before it was killed: {line}"
            acknowledged.append(line)
        status = int(line.split()[1])
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGKILL, line
        return acknowledged

    def close(self) -> None:
        self.process.communicate(timeout=10)  # closes stdin (the server then exits) and drains stdout
        self.log.close()


@pytest.fixture
def writers(tmp_path):
    server = WriterServer("agent_engine_memory_sqlite:build_backend", tmp_path / "writers.log")
    yield server
    server.close()


def reopen(folder: Path, max_items: int | None) -> list[str]:
    """The stored ids, read the way the next engine would (recovering the WAL a killed writer left)."""
    backend = build_backend(MemorySetup("project", "p1", folder, max_items=max_items))
    try:
        return [item.id for item in backend.query()]
    finally:
        backend.close()


def write_order(item_id: str) -> tuple[int, int]:
    run, n = item_id.split("-")
    return int(run), int(n)


def test_no_acknowledged_write_is_lost_when_writers_are_killed(tmp_path, writers):
    rng = random.Random(SEED)
    acknowledged: list[str] = []
    for run in range(KILLS):
        delay = rng.uniform(0.005, 0.100)
        seen = writers.write_then_kill(tmp_path, run, None, delay)
        acknowledged += seen
        stored = reopen(tmp_path, None)
        context = f"seed {SEED}, kill {run} after {delay * 1000:.1f} ms"
        assert set(acknowledged) <= set(stored), f"{context}: lost {sorted(set(acknowledged) - set(stored))}"
        in_flight = f"{run}-{len(seen)}"  # written, maybe, but killed before it was acknowledged
        assert set(stored) <= {*acknowledged, in_flight}, context
        if in_flight in stored:
            acknowledged.append(in_flight)
        assert stored == sorted(stored, key=write_order), context
    assert len(acknowledged) > KILLS, "the writers should have acknowledged many writes"


def test_retention_deletes_survive_kills(tmp_path, writers):
    rng, bound = random.Random(SEED + 1), 20
    written: list[str] = []  # acknowledged, or written and found after the kill
    for run in range(KILLS // 2):
        delay = rng.uniform(0.005, 0.100)
        seen = writers.write_then_kill(tmp_path, run, bound, delay)
        written += seen
        stored = reopen(tmp_path, bound)
        if f"{run}-{len(seen)}" in stored:
            written.append(f"{run}-{len(seen)}")
        assert stored == written[-bound:], f"seed {SEED + 1}, kill {run} after {delay * 1000:.1f} ms"
