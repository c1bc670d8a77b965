"""Ending every process a command started: its process group, its session, and what their members started.

The command runs as the leader of a new session, so every process it starts is in that session unless it
calls ``setsid()``, whatever process group it moves to (``setpgid``). When the call ends, the leader's group,
and (on Linux, through ``/proc``) every live process of the session and every descendant of one of those (or
of the leader), are stopped, then killed, until a scan finds none: a process that called ``setsid()`` is
caught through its parent as long as that parent is still alive when the call ends. What escapes: a process
that left the session and whose chain of parents back to the command had already exited (a daemon's double
fork), since the kernel then hands it to ``init`` and nothing links it to the command any more; a process
running as another user (a setuid program), which may not be signalled; elsewhere than Linux, anything that
left the process group.

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

STOP_S = 0.5
"""How long stopping may go on while members keep appearing (a fork loop) or cannot be stopped (another user's)."""
SETTLE_S = 2.0
"""How long killing may go on while members keep appearing or linger (uninterruptible sleep)."""
_PAUSE_S = 0.005
_PROC = "/proc"


@dataclass(frozen=True, slots=True)
class _Process:
    pid: int
    parent: int
    session: int
    started: int  # clock ticks after boot: with the pid, names one process for good
    stopped: bool


def end_session(leader: int) -> None:
    """SIGKILL ``leader``'s process group, its session's processes and their descendants (the last two on Linux).

    Everything is stopped (``SIGSTOP``) first, so that no process exits, handing its children to ``init``, or
    forks while the tree is read; then everything found is killed. ``leader`` must not be reaped yet: until it
    is, its pid names its group and session alone.
    """
    if not os.path.isdir(f"{_PROC}/self"):
        _signal_group(leader, signal.SIGKILL)
        return
    until = time.monotonic() + STOP_S
    while not all(process.stopped for process in _signal_all(leader, signal.SIGSTOP)) and time.monotonic() < until:
        time.sleep(_PAUSE_S)
    until = time.monotonic() + SETTLE_S
    while _signal_all(leader, signal.SIGKILL) and time.monotonic() < until:
        time.sleep(_PAUSE_S)


def _signal_all(leader: int, signum: int) -> list[_Process]:
    """Send ``signum`` to the members read before, then to the group; the members."""
    members = _members(leader)
    for process in members:
        _send(process, signum)
    _signal_group(leader, signum)
    return members


def _signal_group(leader: int, signum: int) -> None:
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(leader, signum)


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
    return _Process(pid, parent=int(fields[1]), session=int(fields[3]), started=int(fields[19]),
                    stopped=fields[0] in (b"T", b"t"))


def _send(process: _Process, signum: int) -> None:
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
                signal.pidfd_send_signal(pidfd, signum)
            else:
                os.kill(process.pid, signum)
    finally:
        if pidfd is not None:
            os.close(pidfd)
