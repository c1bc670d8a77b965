"""The ``proc.run_command`` tool: a program started without a shell, in a fresh process group, under a deadline.

``argv`` is handed to ``execve`` as it is (``shell=False``), so shell syntax in it (``;``, ``|``, ``$(...)``,
globs) reaches the program as literal text. The process runs in a new session (its own process group) with
stdin closed, a working directory inside the tool's root and an environment of ``PATH`` plus the variables the
entry's ``config.env`` lets through. Its output is read as it comes, keeping the first ``max_output_bytes`` of
each stream. When the process exits, or the deadline passes, its group, its session and what their members
started are killed (``SIGKILL``; see ``_session`` for what is guaranteed), so nothing it started in the
background outlives the call.
"""

from __future__ import annotations

import codecs
import os
import selectors
import shutil
import stat
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_engine_core.errors import ToolError
from agent_engine_core.tools import ToolResult, ToolSetup, ToolStatus

from agent_engine_tools_std._config import Option, read_config
from agent_engine_tools_std._jail import Location, Unavailable, confined_root, guarded
from agent_engine_tools_std._session import end_session

__all__ = ["RunCommandTool"]

KiB = 1024
DEFAULT_PATH = "/usr/local/bin:/usr/bin:/bin"
"""Where programs are looked up, and the PATH they see, unless ``config.path`` says otherwise."""
DRAIN_S = 1.0
"""How long output is still read after the kill (a process that escaped it may hold the pipes)."""
_POLL_S = 0.05


class RunCommandTool:
    """``proc.run_command``: ``{argv, cwd?, timeout_s?}`` -> ``{exit_code, stdout, stderr, timed_out, ...}``.

    Every call is misuse unless the entry has ``allow_shell: true``. A non-zero exit code is a successful
    call (the result says what the program answered); a timeout is an environment error whose ``output`` still
    holds what the program wrote; a program that cannot be found or started is an environment error.
    """

    def __init__(self, setup: ToolSetup) -> None:
        config = read_config("proc.run_command", setup.spec.config, {
            "max_output_bytes": Option("int", default=64 * KiB, minimum=0),
            "env": Option("str_list", default=[]),
            "path": Option("str"),
            "allowed_commands": Option("str_list"),
            "allow_symlinked_root": Option("bool", default=False),
        })
        self.root = confined_root(setup, "proc.run_command", allow_symlinked_root=config["allow_symlinked_root"])
        self.allow_shell = setup.spec.allow_shell
        self.timeout_s = setup.spec.timeout_s
        self.max_output_bytes: int = config["max_output_bytes"]
        self.env_names: tuple[str, ...] = tuple(config["env"])
        self.search_path: str = _search_path(config["path"])
        allowed = config["allowed_commands"]
        self.allowed_commands: dict[str, str] | None = None if allowed is None else {
            name: _resolve(name, self.search_path) for name in allowed}
        self.description = ("Run a program without a shell: argv is the program and its arguments as a list "
                            "(no pipes, redirection or variable expansion). Returns its exit code and output. "
                            "cwd is relative to the tool's root directory.")
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "argv": {"type": "array", "items": {"type": "string"}, "minItems": 1,
                         "description": "The program (found on the tool's search path) and its arguments, "
                                        "one list item each."},
                "cwd": {"type": "string", "minLength": 1, "default": ".",
                        "description": "The working directory, relative to the tool's root."},
                "timeout_s": {"type": "number", "exclusiveMinimum": 0, "maximum": self.timeout_s,
                              "description": f"Seconds before the program is killed (at most {self.timeout_s:g})."},
            },
            "required": ["argv"],
            "additionalProperties": False,
        }

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Run the program and wait for it (at most ``timeout_s``)."""
        if not self.allow_shell:
            return ToolResult.misuse("run_command needs allow_shell: true in tools.yaml")
        argv: Any = arguments.get("argv")
        refusal = self._refusal(argv, arguments.get("timeout_s", self.timeout_s))
        if refusal is not None:
            return ToolResult.misuse(refusal)
        cwd = arguments.get("cwd", ".")
        timeout = float(arguments.get("timeout_s", self.timeout_s))
        return guarded(cwd, lambda: self._run(list(argv), cwd, timeout))

    def _refusal(self, argv: Any, timeout: Any) -> str | None:
        if isinstance(argv, str):
            return ("argv must be a list of strings (the program, then each argument), not a string: "
                    "run_command never runs a shell")
        if not isinstance(argv, list) or not argv or not all(isinstance(item, str) for item in argv):
            return "argv must be a non-empty list of strings"
        if any("\x00" in item for item in argv) or not argv[0]:
            return "argv items must be non-empty program names and arguments without NUL characters"
        if self.allowed_commands is not None and argv[0] not in self.allowed_commands:
            allowed = ", ".join(sorted(self.allowed_commands)) or "none"
            return f"command '{argv[0]}' is not allowed (config.allowed_commands: {allowed})"
        if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not 0 < timeout <= self.timeout_s:
            return f"timeout_s must be a number above 0 and at most {self.timeout_s:g} (the entry's timeout_s)"
        return None

    def _run(self, argv: list[str], cwd: Any, timeout: float) -> ToolResult:
        directory = self._directory(cwd)
        environment = {"PATH": self.search_path}
        environment.update({name: os.environ[name] for name in self.env_names if name in os.environ})
        executable = None if self.allowed_commands is None else self.allowed_commands[argv[0]]
        try:
            process = subprocess.Popen(
                argv, executable=executable, cwd=directory, env=environment, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE, start_new_session=True, close_fds=True, shell=False,
            )
        except FileNotFoundError as exc:
            if exc.filename == str(directory):
                raise Unavailable(f"working directory '{cwd}' disappeared before the command started") from None
            raise Unavailable(f"command '{argv[0]}' was not found on the tool's PATH") from None
        except PermissionError:
            raise Unavailable(f"command '{argv[0]}' cannot be executed: permission denied") from None
        except OSError as exc:
            raise Unavailable(f"command '{argv[0]}' could not be started: {exc.strerror}") from None
        stdout, stderr, timed_out = _collect(process, timeout, self.max_output_bytes)
        output = {
            "exit_code": process.returncode,
            "stdout": stdout.text(),
            "stderr": stderr.text(),
            "stdout_truncated": stdout.truncated,
            "stderr_truncated": stderr.truncated,
            "timed_out": timed_out,
        }
        if timed_out:
            return ToolResult(ToolStatus.ERROR, output,
                              f"command '{argv[0]}' timed out after {timeout:g} s; its process group was killed")
        return ToolResult.ok(output)

    def _directory(self, cwd: Any) -> Path:
        with self.root.locate(cwd) as where:
            _require_directory(where, cwd)
        return self.root.physical(where)


def _search_path(configured: str | None) -> str:
    """``config.path``, or the fixed default.

    An empty or relative directory in it would search the working directory (where the command or the model
    may have put a file), so it is refused.
    """
    if configured is None:
        return DEFAULT_PATH
    if not all(directory.startswith("/") for directory in configured.split(os.pathsep)):
        raise ToolError(f"config.path of proc.run_command must list absolute directories separated by ':', "
                        f"not {configured!r}: an empty or relative element would search the working directory")
    return configured


def _resolve(name: str, search_path: str) -> str:
    """The absolute path ``name`` (an entry of ``config.allowed_commands``) runs, found when the tool is built."""
    if "/" in name and not name.startswith("/"):
        raise ToolError(f"config.allowed_commands of proc.run_command: '{name}' must be a program name or an "
                        f"absolute path (a relative path would depend on the working directory)")
    found = shutil.which(name, path=search_path)
    if found is None:
        raise ToolError(f"config.allowed_commands of proc.run_command: '{name}' is not an executable file in any "
                        f"directory of config.path ({search_path})")
    return found


def _require_directory(where: Location, cwd: Any) -> None:
    if where.name is None:  # the walk ended in a directory it entered itself
        return
    try:
        info = os.stat(where.name, dir_fd=where.dir_fd, follow_symlinks=False)
    except FileNotFoundError:
        raise Unavailable(f"working directory '{cwd}' does not exist") from None
    if not stat.S_ISDIR(info.st_mode):
        raise Unavailable(f"working directory '{cwd}' is not a directory")


class _Capped:
    """The first ``cap`` bytes of a stream, and how many there were in all."""

    __slots__ = ("cap", "data", "total")

    def __init__(self, cap: int) -> None:
        self.cap = cap
        self.data = bytearray()
        self.total = 0

    def add(self, chunk: bytes) -> None:
        self.total += len(chunk)
        room = self.cap - len(self.data)
        if room > 0:
            self.data += chunk[:room]

    @property
    def truncated(self) -> bool:
        return self.total > self.cap

    def text(self) -> str:
        """The kept bytes as text: invalid UTF-8 becomes U+FFFD, a character cut at the cap is dropped."""
        return codecs.getincrementaldecoder("utf-8")("replace").decode(bytes(self.data), final=not self.truncated)


def _collect(process: subprocess.Popen[bytes], timeout: float, cap: int) -> tuple[_Capped, _Capped, bool]:
    """Read both streams until the process exits or ``timeout`` passes; then end its session and reap it."""
    assert process.stdout is not None and process.stderr is not None
    stdout, stderr = _Capped(cap), _Capped(cap)
    streams = {process.stdout.fileno(): stdout, process.stderr.fileno(): stderr}
    deadline = time.monotonic() + timeout
    pidfd = _pidfd(process.pid)
    timed_out = False
    try:
        with selectors.DefaultSelector() as selector:
            for fd in streams:
                selector.register(fd, selectors.EVENT_READ)
            if pidfd is not None:
                selector.register(pidfd, selectors.EVENT_READ)
            exited = False
            while not exited:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    timed_out = True
                    break
                if pidfd is not None:
                    exited = _pump(selector, streams, pidfd, remaining)
                else:
                    _pump(selector, streams, None, min(remaining, _POLL_S))
                    exited = _exited(process)
            end_session(process.pid)  # the leader is not reaped yet, so its id still names its group and session
            if pidfd is not None:
                selector.unregister(pidfd)
            drain_until = time.monotonic() + DRAIN_S
            while selector.get_map() and (remaining := drain_until - time.monotonic()) > 0:
                _pump(selector, streams, None, remaining)
    finally:
        if pidfd is not None:
            os.close(pidfd)
        process.stdout.close()
        process.stderr.close()
        process.wait()
    return stdout, stderr, timed_out


def _pump(selector: selectors.BaseSelector, streams: Mapping[int, _Capped], pidfd: int | None,
          timeout: float) -> bool:
    """Read what is ready within ``timeout``; whether ``pidfd`` said the process exited."""
    exited = False
    for key, _ in selector.select(timeout):
        if key.fd == pidfd:
            exited = True
            continue
        chunk = os.read(key.fd, 64 * KiB)
        if chunk:
            streams[key.fd].add(chunk)
        else:
            selector.unregister(key.fd)
    return exited


def _exited(process: subprocess.Popen[bytes]) -> bool:
    """Whether the process has exited, without reaping it where possible (its group id stays reserved)."""
    waitid = getattr(os, "waitid", None)
    if waitid is None:
        return process.poll() is not None
    return waitid(os.P_PID, process.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None


def _pidfd(pid: int) -> int | None:
    """A descriptor that becomes readable when ``pid`` exits (Linux 5.3+), or ``None``."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        return int(opener(pid))
    except OSError:
        return None
