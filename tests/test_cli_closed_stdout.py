"""``agent-engine ... | head -1``: a reader that leaves early ends the program quietly, as it ends any Unix tool."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from _cli import COMMAND

ROOT = Path(__file__).resolve().parents[1]
SIGPIPE_STATUS = 141  # what a shell reports for a tool ended by SIGPIPE: 128 + 13

BIG = 1 << 20  # far more than a pipe buffers (64 KiB on Linux): the writer is still writing when the reader leaves


@pytest.fixture
def big_output(tmp_path):
    """A project whose one handler returns a 1 MiB string."""
    (tmp_path / "workflow.yaml").write_text(
        'version: "1.0"\n'
        "nodes:\n"
        '  - {id: s, role: start, handler: "steps:big"}\n'
        "  - {id: x, role: exit}\n"
        "edges:\n"
        "  - {from: s, to: x}\n"
    )
    (tmp_path / "steps.py").write_text(f"def big(payload, ctx):\n    return {{'text': 'x' * {BIG}}}\n")
    return tmp_path


def into_a_closed_pipe(*args):
    """Run the CLI with stdout on a real pipe whose reader has already gone: every write of it fails (EPIPE)."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([*COMMAND, *map(str, args)], stdout=write_end, stderr=subprocess.PIPE, text=True,
                              env={**os.environ, "NO_COLOR": "1"}, timeout=120, check=False)
    finally:
        os.close(write_end)
    return done.returncode, done.stderr


def first_line_then_close(*args):
    """Run the CLI with stdout on a real pipe, read one line, close the read end (``| head -1``), wait for it."""
    with subprocess.Popen([*COMMAND, *map(str, args)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                          env={**os.environ, "NO_COLOR": "1"}) as process:
        assert process.stdout is not None and process.stderr is not None
        first = process.stdout.readline()
        process.stdout.close()
        stderr = process.stderr.read().decode()
        return first.decode(), process.wait(timeout=120), stderr


@pytest.mark.parametrize("args", [
    pytest.param(("run", "{big}", "--input", "{{}}"), id="run"),
    pytest.param(("run", "{big}", "--input", "{{}}", "--json"), id="run-json"),
    pytest.param(("graph", "{big}"), id="graph"),
    pytest.param(("validate", "{big}"), id="validate"),
    pytest.param(("schema",), id="schema"),
    pytest.param(("plugins", "--json"), id="plugins"),
])
def test_output_into_a_closed_pipe_ends_quietly_with_the_sigpipe_status(big_output, args):
    code, stderr = into_a_closed_pipe(*(arg.format(big=big_output) for arg in args))
    assert stderr == ""  # no "internal error: BrokenPipeError", no "Exception ignored" at exit
    assert code == SIGPIPE_STATUS


def test_run_piped_into_head_1_never_reports_an_error(big_output):
    """The reported case: the reader leaves after the first line, wherever the writer is by then."""
    for _ in range(3):
        first, code, stderr = first_line_then_close("run", big_output, "--input", "{}")
        assert first == "status: success\n"
        assert stderr == ""
        # 141 when a write found the pipe closed; 0 when the last write was cut short (CPython reports a
        # partial write to a closing pipe as written) — never 1, which would say the task failed
        assert code in (0, SIGPIPE_STATUS)
