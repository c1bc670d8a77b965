"""Durable runs survive SIGKILL: ``agent-engine run`` killed at seeded stages, then ``agent-engine resume``.

The project (tests/projects/durable) has a decision agent, a split whose subtasks run a handler and an agent,
a merge, a branch into a handler and an agent, and a second merge. Every handler call and every tool call the
agents make leaves a line in a side-effect log, and pauses there for the test's SIGKILL at the line a seeded
RNG chose (before or after writing it). After each kill the stages in the journal are the completed ones: the
resume must not write any of their lines again (a stage killed after its line is written runs again, so its
line may be there twice), must write every other line, and must end with the digest the
run has uninterrupted. Each run is killed twice (the second time during its first resume): 24 kills in all.
"""

from __future__ import annotations

import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import time
from collections import Counter
from pathlib import Path

import pytest
from _cli import COMMAND

from agent_engine_core import Engine

pytest.importorskip("agent_engine_memory_sqlite", reason="the durable project journals in SQLite")
pytest.importorskip("agent_engine_tools_std", reason="the agents' side effects run through proc.run_command")

PROJECT = Path(__file__).parent / "projects" / "durable"
INPUT = {"mode": "deep", "items": ["alpha", "beta", "gamma"]}
RUNS = 12
KILLS_PER_RUN = 2
LINES = 15
"""Side-effect lines of one uninterrupted run: 9 handler calls and 6 tool calls of agents."""


def _copy(target: Path) -> Path:
    shutil.copytree(PROJECT, target, ignore=shutil.ignore_patterns(".agent_engine", "__pycache__"))
    return target


def _key(line: str) -> tuple[str, str]:
    node, payload = line.rstrip("\n").split("\t")
    return node, payload


def _lines(log: Path) -> list[tuple[str, str]]:
    return [_key(line) for line in log.read_text(encoding="utf-8").splitlines()] if log.exists() else []


def _journaled_stages(project: Path, run_id: str) -> list[dict]:
    with sqlite3.connect(project / ".agent_engine" / "journal.db") as db:
        rows = db.execute("SELECT body FROM journal_entries WHERE run_id = ? AND kind = 'stage' ORDER BY seq",
                          (run_id,)).fetchall()
    return [json.loads(body) for (body,) in rows]


def _effects_of(stage: dict) -> list[tuple[str, str]]:
    """The log lines a completed stage left: its handler's, or the tool calls its agent made."""
    if stage["tool_calls"]:
        return [(f"tool:{stage['node_id']}", json.dumps(stage["input"], sort_keys=True))
                for _ in stage["tool_calls"]]
    if stage["node_id"] in ("triage", "review", "right"):
        return []
    return [(stage["node_id"], json.dumps(stage["input"], sort_keys=True))]


def _start(args: list[str], env: dict[str, str]) -> subprocess.Popen[str]:
    return subprocess.Popen([*COMMAND, *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _kill_when_paused(process: subprocess.Popen[str], paused: Path) -> None:
    deadline = time.monotonic() + 60
    while not paused.exists():
        if process.poll() is not None:
            out, err = process.communicate()
            raise AssertionError(f"the run ended (exit {process.returncode}) before its kill point:\n{out}\n{err}")
        assert time.monotonic() < deadline, "the run never reached its kill point"
        time.sleep(0.01)
    pid = int(paused.read_text())
    process.send_signal(signal.SIGKILL)
    process.communicate()
    if pid != process.pid:  # a tool's program paused in its own process group
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _wait_for_leftovers(log: Path) -> None:
    """Wait until no tool program of the killed engine (each in its own session: it outlives the engine) runs.

    One that waited for the log's lock writes its line and exits once the paused one is killed; the next kill
    point is counted from the lines after that.
    """
    marker = f"EFFECTS_LOG={log}".encode()
    deadline = time.monotonic() + 30
    while True:
        left = []
        for proc in Path("/proc").iterdir():
            if not proc.name.isdigit():
                continue
            try:
                if b"effect.py" in (proc / "cmdline").read_bytes() and marker in (proc / "environ").read_bytes():
                    left.append(proc.name)
            except OSError:  # gone, or not ours to read
                continue
        if not left:
            return
        assert time.monotonic() < deadline, f"tool programs {left} outlived their engine by 30 s"
        time.sleep(0.02)


def test_sigkilled_runs_resume_to_the_uninterrupted_digest_without_repeating_a_completed_stage(tmp_path):
    project = _copy(tmp_path / "project")
    uninterrupted = _copy(tmp_path / "uninterrupted")
    with Engine.from_config_dir(uninterrupted, runs=False) as engine:
        expected = {f"run-{n}": engine.run(INPUT, run_id=f"run-{n}").trace.digest for n in range(RUNS)}
    rng = random.Random(16)
    kills = 0
    for n in range(RUNS):
        run_id, log = f"run-{n}", tmp_path / f"effects-{n}.log"
        env = {**os.environ, "EFFECTS_LOG": str(log)}
        command = ["run", str(project), "--input", json.dumps(INPUT), "--run-id", run_id, "--json"]
        completed: dict[tuple[str, str], int] = {}  # a completed stage's line -> how often it was written by then
        written = 0
        for kill in range(KILLS_PER_RUN):
            paused = tmp_path / f"paused-{n}-{kill}"
            # the next process writes at least the lines not written yet: the kill point is among them
            remaining = LINES - len(set(_lines(log)))
            at = rng.randint(written + 1, written + max(remaining - 1, 1))
            after = remaining == 1 or rng.random() < 0.5
            process = _start(command, {**env, "DURABLE_PAUSE_AT": str(at), "DURABLE_PAUSE_AFTER": str(int(after)),
                                       "DURABLE_PAUSED": str(paused)})
            _kill_when_paused(process, paused)
            _wait_for_leftovers(log)
            kills += 1
            stages = _journaled_stages(project, run_id)
            lines = Counter(_lines(log))
            for effect in (effect for stage in stages for effect in _effects_of(stage)):
                first_seen = completed.setdefault(effect, lines[effect])
                assert first_seen == lines[effect], f"completed stage ran again: {effect}"
            written = sum(lines.values())
            command = ["resume", str(project), run_id, "--json"]
        finished = subprocess.run([*COMMAND, *command], env=env, capture_output=True, text=True, timeout=120,
                                  check=False)
        assert finished.returncode == 0, finished.stderr
        result = json.loads(finished.stdout)
        assert result["status"] == "success"
        assert result["trace_digest"] == expected[run_id]
        counts = Counter(_lines(log))
        assert len(counts) == LINES, "some side effect never happened"
        for effect, times in completed.items():
            assert counts[effect] == times, f"completed stage ran again: {effect}"
        # a line written by a stage a kill interrupted is written again by its re-execution, and by no other
        assert max(counts.values()) <= 1 + KILLS_PER_RUN
    assert kills >= 20
