"""Ending every process a command started: its process group, its session, and what their members started.

The command runs as the leader of a new session, so every process it starts is in that session unless it
calls ``setsid()``, whatever process group it moves to (``setpgid``). When the call ends, the leader's group
is killed, then (on Linux, through ``/proc``) every live process of the session and every descendant of one
of those (or of the leader), until a scan finds none: a process that called ``setsid()`` is caught through
its parent as long as that parent is still alive when the call ends. What escapes: a process that left the
session and whose chain of parents back to the command had already exited (a daemon's double fork), since
the kernel then hands it to ``init`` and nothing links it to the command any more; elsewhere than Linux,
anything that left the process group.

Each process is signalled through a pidfd opened after its start time was checked again, so a pid reused
between the scan and the kill is never signalled.
"""

from __future__ import annotations

import contextlib
import os
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass

__all__ = ["end_session"]

SETTLE_S = 2.0
"""How long killing may go on while members keep appearing (a fork loop) or linger (uninterruptible sleep)."""
_PAUSE_S = 0.005
_PROC = "/proc"


@dataclass(frozen=True, slots=True)
class _Process:
    pid: int
    parent: int
    session: int
    started: int  # clock ticks after boot: with the pid, names one process for good


def end_session(leader: int) -> None:
    """SIGKILL ``leader``'s process group, then its session's processes and their descendants (Linux).

    ``leader`` must not be reaped yet: until it is, its pid names its group and session alone.
    """
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signal.SIGKILL)
    if not os.path.isdir(f"{_PROC}/self"):
        return
    until = time.monotonic() + SETTLE_S
    while (targets := _members(leader)) and time.monotonic() < until:
        for process in targets:
            _kill(process)
        time.sleep(_PAUSE_S)


def _members(leader: int) -> list[_Process]:
    """Live processes in ``leader``'s session, and every live descendant of those or of ``leader``."""
    live = list(_live_processes())
    children: dict[int, list[_Process]] = {}
    for process in live:
        children.setdefault(process.parent, []).append(process)
    found = {process.pid: process for process in live if process.session == leader and process.pid != leader}
    pending = [leader, *found]
    while pending:
        for child in children.get(pending.pop(), ()):
            if child.pid not in found:
                found[child.pid] = child
                pending.append(child.pid)
    return list(found.values())


def _live_processes() -> Iterator[_Process]:
    for name in os.listdir(_PROC):
        if name.isdigit() and (process := _read(int(name))) is not None:
            yield process


def _read(pid: int) -> _Process | None:
    """The process ``pid`` from ``/proc/<pid>/stat``; ``None`` when it is gone or a zombie."""
    try:
        with open(f"{_PROC}/{pid}/stat", "rb") as stat:
            fields = stat.read().rsplit(b")", 1)[1].split()  # the name before ")" may hold anything
    except (FileNotFoundError, ProcessLookupError, PermissionError, IndexError):
        return None
    if fields[0] in (b"Z", b"X"):
        return None
    return _Process(pid, parent=int(fields[1]), session=int(fields[3]), started=int(fields[19]))


def _kill(process: _Process) -> None:
    pidfd: int | None
    try:
        pidfd = os.pidfd_open(process.pid)
    except ProcessLookupError:
        return
    except OSError:  # no pidfd before Linux 5.3: the start time check below narrows the race to a moment
        pidfd = None
    try:
        again = _read(process.pid)
        if again is None or again.started != process.started:
            return  # exited, or the pid now names another process
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if pidfd is not None:
                signal.pidfd_send_signal(pidfd, signal.SIGKILL)
            else:
                os.kill(process.pid, signal.SIGKILL)
    finally:
        if pidfd is not None:
            os.close(pidfd)
