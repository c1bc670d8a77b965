"""proc.run_command: exit codes, output caps, timeouts, the process group, the environment, the working directory."""

from __future__ import annotations

import json
import os
import signal
import sys
import time

import pytest
from _tools_std_kit import build
from agent_engine_core.errors import ToolError
from agent_engine_core.testing import CANARY_ENV
from agent_engine_core.tools import ToolStatus
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

PY = sys.executable


@pytest.fixture
def root(tmp_path):
    path = tmp_path / "root"
    (path / "work").mkdir(parents=True)
    return path


def run(root, *argv, config=None, entry_timeout_s=10.0, **arguments):
    tool = build("proc.run_command", root, allow_shell=True, timeout_s=entry_timeout_s, config=config or {})
    return tool.invoke({"argv": list(argv), **arguments})


def alive(pid: int) -> bool:
    """Whether ``pid`` is a live process (a zombie nobody reaped yet counts as dead)."""
    try:
        with open(f"/proc/{pid}/stat") as status:
            return status.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except FileNotFoundError:
        return False


def gone(pid: int, within: float = 5.0) -> bool:
    end = time.monotonic() + within
    while time.monotonic() < end:
        if not alive(pid):
            return True
        time.sleep(0.02)
    return False


def test_exit_code_stdout_and_stderr_come_back(root):
    result = run(root, PY, "-c", "import sys; print('out'); print('err', file=sys.stderr); sys.exit(3)")
    assert result.status is ToolStatus.SUCCESS  # a non-zero exit is the program's answer, not a failed call
    assert result.output == {"exit_code": 3, "stdout": "out\n", "stderr": "err\n", "stdout_truncated": False,
                             "stderr_truncated": False, "timed_out": False}


def test_output_is_capped_per_stream_and_flagged(root):
    code = "import sys; sys.stdout.write('x' * 100000); sys.stderr.write('\u00e9' * 3)"
    result = run(root, PY, "-c", code, config={"max_output_bytes": 5})
    assert result.output["stdout"] == "xxxxx" and result.output["stdout_truncated"] is True
    assert result.output["stderr"] == "\u00e9\u00e9" and result.output["stderr_truncated"] is True  # cut char dropped
    assert result.output["exit_code"] == 0


def test_output_that_is_not_utf8_is_shown_with_replacement_characters(root):
    result = run(root, PY, "-c", "import sys; sys.stdout.buffer.write(b'ok\\xff')")
    assert result.output["stdout"] == "ok\ufffd"


def test_a_timeout_kills_the_whole_process_group_and_keeps_the_output(root, tmp_path):
    pid_file = tmp_path / "child.pid"
    code = ("import subprocess, sys, time; child = subprocess.Popen(['sleep', '60']); "
            f"open({str(pid_file)!r}, 'w').write(str(child.pid)); print('started', flush=True); time.sleep(60)")
    began = time.monotonic()
    result = run(root, PY, "-c", code, timeout_s=1.0)
    assert time.monotonic() - began < 5
    assert result.status is ToolStatus.ERROR
    assert result.error == f"command '{PY}' timed out after 1 s; its process group was killed"
    assert result.output["timed_out"] is True and result.output["exit_code"] == -9
    assert result.output["stdout"] == "started\n"
    assert gone(int(pid_file.read_text()))  # the grandchild died with its group


def test_processes_left_in_the_background_are_killed_when_the_command_exits(root, tmp_path):
    code = "import subprocess; print(subprocess.Popen(['sleep', '60']).pid)"
    began = time.monotonic()
    result = run(root, PY, "-c", code)
    assert time.monotonic() - began < 5  # the sleeper held stdout open; the call did not wait for it
    assert result.status is ToolStatus.SUCCESS and result.output["exit_code"] == 0
    assert gone(int(result.output["stdout"]))


ESCAPER = """
import os, sys, time
ready, told = os.pipe()
pid = os.fork()
if pid == 0:
    if sys.argv[2] == "setpgid":
        os.setpgid(0, 0)  # a process group of its own, still in the command's session
    else:
        os.setsid()  # a session of its own: found through its parent, still alive when the call ends
    os.write(told, b"x")
    time.sleep(60)
    os._exit(0)
os.read(ready, 1)
print(pid, flush=True)
if sys.argv[1] == "stay":
    time.sleep(60)
"""


@pytest.mark.parametrize(("ending", "escape"), [("exit", "setpgid"), ("stay", "setpgid"), ("stay", "setsid")])
def test_a_child_that_left_the_process_group_ends_with_the_call(root, ending, escape):
    """On a normal exit and on a timeout, a child that moved to a process group of its own is killed too, and
    so is one that started a session of its own while the command that started it still runs."""
    result = run(root, PY, "-c", ESCAPER, ending, escape, timeout_s=2.0)
    pid = int(result.output["stdout"])
    try:
        assert result.output["timed_out"] is (ending == "stay")
        assert gone(pid)
    finally:
        if alive(pid):
            os.kill(pid, signal.SIGKILL)


def test_the_timeout_may_not_exceed_the_entry_and_defaults_to_it(root):
    tool = build("proc.run_command", root, allow_shell=True, timeout_s=2)
    assert tool.parameters["properties"]["timeout_s"]["maximum"] == 2
    refused = tool.invoke({"argv": ["true"], "timeout_s": 3})
    assert refused.status is ToolStatus.FAILURE and "at most 2 (the entry's timeout_s)" in refused.error
    began = time.monotonic()
    result = tool.invoke({"argv": ["sleep", "30"]})
    assert result.output["timed_out"] is True and 1.5 < time.monotonic() - began < 6


def test_the_environment_is_path_plus_the_allowed_variables(root, monkeypatch):
    monkeypatch.setenv("TOOLS_STD_SECRET", "do-not-pass")
    monkeypatch.setenv("TOOLS_STD_LANG", "C.UTF-8")
    code = "import json, os; print(json.dumps(dict(os.environ)))"
    plain = run(root, PY, "-c", code)
    assert set(json.loads(plain.output["stdout"])) <= {"PATH", "LC_CTYPE"}  # LC_CTYPE: Python's own C-locale coercion
    allowed = run(root, PY, "-c", code, config={"env": ["TOOLS_STD_LANG", "TOOLS_STD_UNSET"], "path": "/usr/bin"})
    environment = json.loads(allowed.output["stdout"])
    assert environment["PATH"] == "/usr/bin" and environment["TOOLS_STD_LANG"] == "C.UTF-8"
    assert "TOOLS_STD_SECRET" not in environment and "TOOLS_STD_UNSET" not in environment


def test_the_engines_api_keys_do_not_reach_the_program(root, secret_ledger):
    assert os.environ[CANARY_ENV] == secret_ledger.canary  # the session's canary key is in our environment
    result = run(root, "env", config={"env": ["HOME"]})
    secret_ledger.add(result, result.output["stdout"])
    assert secret_ledger.canary not in result.output["stdout"]
    assert CANARY_ENV not in result.output["stdout"]


def test_the_working_directory_is_the_root_or_a_directory_inside_it(root):
    (root / "alias").symlink_to("work")
    assert run(root, "pwd").output["stdout"] == f"{root}\n"
    assert run(root, "pwd", cwd="work").output["stdout"] == f"{root / 'work'}\n"
    assert run(root, "pwd", cwd="alias").output["stdout"] == f"{root / 'work'}\n"
    missing = run(root, "pwd", cwd="nowhere")
    assert (missing.status, missing.error) == (ToolStatus.ERROR, "working directory 'nowhere' does not exist")
    (root / "file").write_text("")
    assert run(root, "pwd", cwd="file").error == "working directory 'file' is not a directory"


def test_stdin_is_closed(root):
    result = run(root, PY, "-c", "import sys; print(repr(sys.stdin.read()))")
    assert result.output["stdout"] == "''\n"


def test_a_missing_or_unexecutable_program_is_an_environment_error(root):
    missing = run(root, "no-such-program-here")
    assert (missing.status, missing.error) == (
        ToolStatus.ERROR, "command 'no-such-program-here' was not found on the tool's PATH")
    script = root / "script.sh"
    script.write_text("#!/bin/sh\necho hi\n")
    script.chmod(0o644)
    denied = run(root, str(script))
    assert denied.status is ToolStatus.ERROR
    assert denied.error == f"command '{script}' cannot be executed: permission denied"


def test_allowed_commands_limits_the_programs(root):
    config = {"allowed_commands": ["echo"]}
    assert run(root, "echo", "hi", config=config).output["stdout"] == "hi\n"
    refused = run(root, "touch", "x", config=config)
    assert (refused.status, refused.error) == (
        ToolStatus.FAILURE, "command 'touch' is not allowed (config.allowed_commands: echo)")
    assert not (root / "x").exists()


@pytest.mark.parametrize("engine_path", [":/usr/bin:/bin", "/nowhere::/usr/bin:/bin", ".:/usr/bin:/bin"])
def test_an_allowed_command_never_runs_from_the_working_directory(root, monkeypatch, engine_path):
    """An ``echo`` planted in the root (the working directory) with an empty or relative element in the engine's
    PATH: the allowed ``echo`` is the one on the tool's search path, and the planted one never runs."""
    marker = root / "planted-ran"
    planted = root / "echo"
    planted.write_text(f"#!/bin/sh\ntouch {marker}\n")
    planted.chmod(0o755)
    monkeypatch.setenv("PATH", engine_path)
    result = run(root, "echo", "real", config={"allowed_commands": ["echo"]})
    assert (result.status, result.output["stdout"]) == (ToolStatus.SUCCESS, "real\n")
    assert not marker.exists()
    plain = run(root, "echo", "real")  # without allowed_commands, the lookup is the same
    assert plain.output["stdout"] == "real\n" and not marker.exists()


def test_allowed_commands_are_found_on_the_search_path_when_the_tool_is_built(root, tmp_path):
    tools = tmp_path / "bin"
    tools.mkdir()
    (tools / "hello").write_text("#!/bin/sh\necho from-bin\n")
    (tools / "hello").chmod(0o755)
    config = {"allowed_commands": ["hello"], "path": str(tools)}
    assert run(root, "hello", config=config).output["stdout"] == "from-bin\n"
    with pytest.raises(ToolError, match=r"config\.allowed_commands of proc\.run_command: 'nope' is not an "
                                        r"executable file in any directory of config\.path \(/usr/bin:/bin\)"):
        build("proc.run_command", root, config={"allowed_commands": ["echo", "nope"], "path": "/usr/bin:/bin"})
    with pytest.raises(ToolError, match=r"'./hello' .* a program name or an absolute path"):
        build("proc.run_command", root, config={"allowed_commands": ["./hello"]})


@pytest.mark.parametrize("path", ["", "/usr/bin:", "/usr/bin::/bin", "bin:/usr/bin", ".", "/usr/bin:~/bin"])
def test_a_search_path_with_an_empty_or_relative_directory_is_refused_when_the_tool_is_built(root, path):
    with pytest.raises(ToolError, match=r"config\.path of proc\.run_command must list absolute directories"):
        build("proc.run_command", root, config={"path": path})


DIRECTORY = st.text(st.sampled_from("ab./~-"), max_size=6)


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(st.lists(DIRECTORY, min_size=1, max_size=5))
def test_a_search_path_is_accepted_exactly_when_every_element_is_absolute(root, elements):
    path = ":".join(elements)
    if all(element.startswith("/") for element in elements):
        assert build("proc.run_command", root, allow_shell=True, config={"path": path}).search_path == path
    else:
        with pytest.raises(ToolError, match="an empty or relative element would search the working directory"):
            build("proc.run_command", root, config={"path": path})


def test_the_default_search_path_is_fixed_not_the_engines(root, monkeypatch):
    monkeypatch.setenv("PATH", "/somewhere/else")
    result = run(root, PY, "-c", "import os; print(os.environ['PATH'])")
    assert result.output["stdout"] == "/usr/local/bin:/usr/bin:/bin\n"


@pytest.mark.parametrize("argv", [[], [""], ["echo", "a\x00b"], ["echo", 3], "echo hi"])
def test_malformed_argv_is_misuse(root, argv):
    tool = build("proc.run_command", root, allow_shell=True)
    assert tool.invoke({"argv": argv}).status is ToolStatus.FAILURE


def test_config_is_checked_when_the_tool_is_built(root):
    with pytest.raises(ToolError, match="has no config key 'shell'"):
        build("proc.run_command", root, allow_shell=True, config={"shell": True})
    with pytest.raises(ToolError, match=r"config\.max_output_bytes of proc\.run_command must be an integer >= 0"):
        build("proc.run_command", root, config={"max_output_bytes": -1})
