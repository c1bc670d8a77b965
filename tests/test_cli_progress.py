"""SPEC §6 "long runs show progress": a spinner naming the current node on a terminal, nothing when piped."""

from __future__ import annotations

import json
import os
import select
import subprocess
import textwrap

import pytest
from _cli import COMMAND


@pytest.fixture
def slow_project(tmp_path):
    """One handler node, ``think_hard``, that takes 1.5 s: longer than the spinner waits before it shows."""
    (tmp_path / "workflow.yaml").write_text(textwrap.dedent("""\
        version: "1.0"
        nodes:
          - {id: s, role: start}
          - {id: think_hard, role: linear, handler: "steps:slow"}
          - {id: x, role: exit}
        edges:
          - {from: s, to: think_hard}
          - {from: think_hard, to: x}
    """))
    (tmp_path / "steps.py").write_text(textwrap.dedent("""\
        import time

        def slow(payload, ctx):
            time.sleep(1.5)
            return {"thought": True}
    """))
    return tmp_path


def on_a_terminal(*args):
    """Run the CLI with stdin, stdout and stderr on a pseudo-terminal; everything the terminal received."""
    controller, terminal = os.openpty()
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "100", "LINES": "30"}
    env.pop("NO_COLOR", None)
    process = subprocess.Popen([*COMMAND, *map(str, args)], stdin=terminal, stdout=terminal, stderr=terminal,
                               env=env, close_fds=True)
    os.close(terminal)
    received = b""
    try:
        while select.select([controller], [], [], 60)[0]:
            try:
                chunk = os.read(controller, 65536)
            except OSError:  # EIO: the program exited and the terminal closed
                break
            if not chunk:
                break
            received += chunk
    finally:
        os.close(controller)
    return process.wait(timeout=60), received.decode(errors="replace")


EXPECTED_TEXT = """\
status: success
task:   slow
digest: {digest}
output:
{{
  "thought": true
}}
"""


def test_piped_output_is_exactly_the_result(slow_project):
    done = subprocess.run([*COMMAND, "run", str(slow_project), "--input", "{}", "--run-id", "slow", "--json"],
                          capture_output=True, text=True, timeout=60, check=False)
    digest = json.loads(done.stdout)["trace_digest"]
    plain = subprocess.run([*COMMAND, "run", str(slow_project), "--input", "{}", "--run-id", "slow"],
                           capture_output=True, text=True, timeout=60, check=False)
    assert plain.returncode == 0
    assert plain.stdout == EXPECTED_TEXT.format(digest=digest)
    assert plain.stderr == ""
    assert done.stderr == ""


def test_a_long_run_on_a_terminal_shows_the_current_node_then_clears_it(slow_project):
    code, screen = on_a_terminal("run", slow_project, "--input", "{}", "--run-id", "slow")
    assert code == 0
    assert "running node 'think_hard'" in screen
    spinner_end, result = screen.rfind("running node"), screen.find("status: success")
    assert 0 <= spinner_end < result  # the spinner came first and the result after it
    assert "\x1b[2K" in screen[spinner_end:result]  # the spinner's line was erased before the result
    assert "running node" not in screen[result:]


def test_json_on_a_terminal_has_no_spinner(slow_project):
    code, screen = on_a_terminal("run", slow_project, "--input", "{}", "--json")
    assert code == 0
    assert "running node" not in screen
    assert json.loads(screen.replace("\r\n", "\n"))["output"] == {"thought": True}


def test_the_progress_observer_changes_nothing_in_the_result(slow_project, tmp_path):
    """Only where the result goes differs on a terminal: a --record made there has the same metadata and digest."""
    arguments = ["run", slow_project, "--input", "{}", "--run-id", "same", "--record"]
    code, screen = on_a_terminal(*arguments, tmp_path / "terminal.json")
    assert code == 0 and "running node 'think_hard'" in screen  # the progress observer was on
    piped = subprocess.run([*COMMAND, *map(str, arguments), str(tmp_path / "piped.json")], capture_output=True,
                           text=True, timeout=60, check=False)
    assert piped.returncode == 0, piped.stderr
    watched, plain = (json.loads((tmp_path / name).read_text()) for name in ("terminal.json", "piped.json"))
    assert watched["metadata"] == plain["metadata"]
    assert watched["trace_digest"] == plain["trace_digest"]
