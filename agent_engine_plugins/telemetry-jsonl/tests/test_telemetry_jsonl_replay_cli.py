"""``agent-engine replay`` of a trace: a torn last line reported once at ``file:line``, non-traces refused.

Run as a real process: the CLI shows warnings its own way, and pytest's ``filterwarnings = error`` must not.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from _telemetry_jsonl_support import telemetry_jsonl_discovery  # noqa: F401 - a fixture, used through pytestmark

pytestmark = pytest.mark.usefixtures("telemetry_jsonl_discovery")

HELLO = Path(__file__).resolve().parents[3] / "examples" / "hello"
_SCRIPT = Path(sys.executable).with_name("agent-engine")
COMMAND = (
    [str(_SCRIPT)] if _SCRIPT.exists() else [sys.executable, "-c", "from agent_engine_core.cli import main; main()"]
)
TORN = b'{"type":"task_started","run_id":"r1","task_id":"r1","se'


def cli(*args):
    return subprocess.run([*COMMAND, *map(str, args)], capture_output=True, text=True, timeout=60, check=False,
                          env={**os.environ, "NO_COLOR": "1"})


@pytest.fixture
def recorded(tmp_path):
    """examples/hello recording its run ``r1`` to traces/r1.jsonl."""
    project = shutil.copytree(HELLO, tmp_path / "hello")
    (project / "plugins.yaml").write_text("plugins:\n  - id: trace_file\n    config: {path: traces}\n")
    ran = cli("run", project, "--input", '{"request": "Hello there"}', "--run-id", "r1")
    assert ran.returncode == 0, ran.stderr
    return project, project / "traces" / "r1.jsonl"


def assert_reported_once_and_located(stderr, trace, line):
    assert stderr.count("torn last line") == 1, stderr
    assert f"{trace}:{line}: skipped a torn last line" in stderr
    assert "agent_engine_core" not in stderr and "agent_engine_telemetry_jsonl" not in stderr
    assert ".py" not in stderr and "Traceback" not in stderr


def test_a_run_cut_short_by_a_torn_line_is_refused_naming_the_line_once(recorded):
    project, trace = recorded
    lines = trace.read_bytes().splitlines(keepends=True)
    trace.write_bytes(b"".join(lines[:-1]) + lines[-1].rstrip(b"\n")[:-20])  # the run's task_finished, torn
    done = cli("replay", project, trace)
    assert done.returncode == 2
    assert_reported_once_and_located(done.stderr, trace, len(lines))
    assert "incomplete trace of run 'r1'" in done.stderr


def test_a_torn_line_after_a_whole_run_is_a_one_line_warning_and_the_replay_goes_on(recorded):
    project, trace = recorded
    whole = trace.read_bytes()
    trace.write_bytes(whole + TORN)  # a second run of r1 died while writing its first event
    done = cli("replay", project, trace)
    assert done.returncode == 0, done.stderr
    assert "matches the recording of run r1" in done.stdout
    assert_reported_once_and_located(done.stderr, trace, whole.count(b"\n") + 1)
    assert done.stderr.startswith("warning: ")


WHAT_A_RECORDING_IS = ("A recording is a run id in the project's run store ('agent-engine inspect DIR runs'), the "
                       "result saved by 'agent-engine run DIR --input JSON --record FILE.json'")


@pytest.mark.parametrize(("name", "content", "problem"), [
    pytest.param("notes.txt", "hello, world\n", "notes.txt:1: not a JSON event", id="not-json"),
    pytest.param("empty.jsonl", "", "empty.jsonl: it holds no recorded events", id="empty"),
    pytest.param("folder", None, "folder: it holds no telemetry-jsonl trace files", id="directory"),
    pytest.param("other.jsonl", '{"type": "x"}\n', "other.jsonl: an event lacks the field 'run_id'", id="not-events"),
    pytest.param("typed.jsonl", '{"type": "task_started", "run_id": "r", "task_id": "r", "seq": 1, "lineage": "?"}\n'
                 '{"type": "task_finished", "run_id": "r", "task_id": "r", "seq": 2}\n',
                 "typed.jsonl: an event has a field of the wrong type", id="wrong-type"),
])
def test_what_is_not_a_trace_is_refused_located_with_exit_2(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is None:
        path.mkdir()
    else:
        path.write_text(content)
    done = cli("replay", HELLO, path)
    assert done.returncode == 2
    assert done.stdout == ""
    first, hint = done.stderr.splitlines()
    assert first.startswith(f"error: cannot replay {tmp_path}/") and problem in first
    assert hint.startswith(WHAT_A_RECORDING_IS)
    assert "Traceback" not in done.stderr
