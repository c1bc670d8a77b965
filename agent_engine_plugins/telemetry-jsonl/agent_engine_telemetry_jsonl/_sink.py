"""The ``trace_file`` sink: every event of a run as one JSON line in that run's file, rotated by size.

Why it is built this way:

* **One lock per sink.** Events of sibling tasks arrive from several threads (runs started from different
  threads share the engine; ``dispatch: background`` delivers from the sink's own thread). A write is one
  short system call, so a single lock around "maybe rotate, then write" costs nothing measurable and makes
  the two impossible to interleave: a line is never split across files or glued to another.
* **Unbuffered writes, one ``write`` per line.** Each line reaches the operating system as soon as its event
  is delivered (a crash of the process loses nothing already delivered); if a write fails half-way, the file
  is cut back to the last complete line so the next one does not glue onto the fragment.
* **``fsync`` once per run**, when the root task finishes (its ``task_finished`` is the run's last event):
  durability of the whole run for the price of one disk flush, instead of one per event on the hot path.
* **A torn tail is repaired on open**: a crash mid-write leaves an unfinished last line; a later run with
  the same run id appends to the file, so the fragment is cut first (or terminated, when it is a complete
  event that only lacks its newline).
"""

from __future__ import annotations

import contextlib
import json
import os
import threading
import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent_engine_core import Event, hookimpl
from agent_engine_core.lazy import get_logger

from agent_engine_telemetry_jsonl._names import active_file, rotated_file

__all__ = ["DEFAULT_BACKUPS", "DEFAULT_MAX_BYTES", "DEFAULT_PATH", "TraceFileConfig", "TraceFileSink"]

log = get_logger(__name__)

DEFAULT_PATH = ".agent_engine/traces"
DEFAULT_MAX_BYTES = 10 * 1024 * 1024
DEFAULT_BACKUPS = 5
_KEYS = ("path", "max_bytes", "backups")
_TAIL_CHUNK = 64 * 1024


@dataclass(frozen=True, slots=True)
class TraceFileConfig:
    """The validated ``config`` of a ``trace_file`` entry in plugins.yaml.

    Attributes:
        directory: absolute folder of the trace files (created on the first event).
        max_bytes: size at which a run's file is rotated; 0 never rotates. A line is never split, so a file
            exceeds the limit only when a single event is larger than it.
        backups: rotated files kept per run (``<name>.1.jsonl`` newest); 0 keeps only the current file.
    """

    directory: Path
    max_bytes: int = DEFAULT_MAX_BYTES
    backups: int = DEFAULT_BACKUPS

    @classmethod
    def from_mapping(cls, config: Mapping[str, Any], project_dir: Path | None) -> TraceFileConfig:
        """Validate plugins.yaml's ``config``; a relative path is resolved against the project (or the cwd).

        Raises:
            ValueError: an unknown key, a size that is not a non-negative integer, or a path that cannot be a
                directory; the message names the key and what to write instead.
        """
        unknown = sorted(set(config) - set(_KEYS))
        if unknown:
            raise ValueError(
                f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                f"trace_file accepts {', '.join(_KEYS)}"
            )
        raw_path = config.get("path", DEFAULT_PATH)
        if not isinstance(raw_path, str | os.PathLike) or not str(raw_path).strip():
            raise ValueError(f"config.path must be a folder path (text), got {raw_path!r}")
        base = project_dir if project_dir is not None else Path.cwd()
        directory = (base / Path(raw_path).expanduser()).absolute()
        _check_directory(directory)
        return cls(directory, _count(config, "max_bytes", DEFAULT_MAX_BYTES), _count(config, "backups",
                                                                                     DEFAULT_BACKUPS))


def _count(config: Mapping[str, Any], key: str, default: int) -> int:
    value = config.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"config.{key} must be a whole number >= 0, got {value!r}")
    return value


def _check_directory(directory: Path) -> None:
    """Refuse a path that is, or lies under, an existing non-directory (the folder itself is made later)."""
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            if not candidate.is_dir():
                problem = "is a file, not a folder" if candidate == directory else (
                    f"cannot be a folder: {str(candidate)!r} is a file")
                raise ValueError(f"config.path {str(directory)!r} {problem}; point path at a folder "
                                 "(it is created when missing)")
            return


class TraceFileSink:
    """Observer that appends each event of a run to ``<directory>/<run id stem>.jsonl``.

    Build it with ``TraceFileSink.from_config(config, project_dir)`` (the factory the ``trace_file`` sink is
    registered with). Files of runs whose root task has not finished stay open until ``close()`` (called by
    ``Engine.close()``) or until the sink is garbage collected.
    """

    def __init__(self, config: TraceFileConfig) -> None:
        self.config = config
        self._lock = threading.Lock()
        self._open: dict[str, _RunFile] = {}
        self._finalizer = weakref.finalize(self, _close_all, self._open)

    @classmethod
    def from_config(cls, config: Mapping[str, Any], project_dir: Path | None = None) -> TraceFileSink:
        """The ``trace_file`` factory: validate ``config`` (``ValueError`` if unusable) and build the sink."""
        return cls(TraceFileConfig.from_mapping(config, project_dir))

    def path_for(self, run_id: str) -> Path:
        """The active file of ``run_id`` (rotated predecessors are ``<stem>.<n>.jsonl`` beside it)."""
        return active_file(self.config.directory, run_id)

    @hookimpl
    def on_event(self, event: Event) -> None:
        """Append ``event.to_dict()`` as one line; ``fsync`` and close the file when the root task ends."""
        line = _encode(event.to_dict())
        with self._lock:
            run_file = self._open.get(event.run_id)
            if run_file is None:
                run_file = self._open[event.run_id] = _RunFile(self.path_for(event.run_id), self.config)
            run_file.write(line)
            if event.type == "task_finished" and event.task_id == event.run_id:
                del self._open[event.run_id]
                run_file.sync_and_close()

    def close(self) -> None:
        """Sync and close the files of runs that did not finish (the core calls this from ``Engine.close``).

        A run is left unfinished when its root ``task_finished`` never arrived (a background queue
        overflowed, the process is shutting down mid-run): what was recorded of it is worth keeping.
        """
        with self._lock:
            _close_all(self._open, sync=True)


def _close_all(files: dict[str, _RunFile], *, sync: bool = False) -> None:
    for run_file in files.values():
        try:
            run_file.sync_and_close() if sync else run_file.close()
        except OSError as exc:  # one unwritable file must not keep the others open
            log.warning("could not sync a trace file", file=str(run_file.path), error=repr(exc))
    files.clear()


def _encode(data: Mapping[str, Any]) -> bytes:
    """One line of UTF-8 JSON; escaped to ASCII only when some text cannot be UTF-8 (a lone surrogate)."""
    try:
        return (json.dumps(data, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    except UnicodeEncodeError:
        return (json.dumps(data, separators=(",", ":")) + "\n").encode()


class _RunFile:
    """One run's active file: size-tracked appends and rotation. The sink's lock is held for every call."""

    def __init__(self, path: Path, config: TraceFileConfig) -> None:
        self.path = path
        self.max_bytes = config.max_bytes
        self.backups = config.backups
        path.parent.mkdir(parents=True, exist_ok=True)
        _repair_tail(path)
        self._file = path.open("ab", buffering=0)
        self.size = os.fstat(self._file.fileno()).st_size
        self.rotated = 0  # rotated files present, so rotating costs what exists, not what ``backups`` allows
        while self.rotated < self.backups and rotated_file(path, self.rotated + 1).exists():
            self.rotated += 1

    def write(self, line: bytes) -> None:
        if self.max_bytes and self.size and self.size + len(line) > self.max_bytes:
            self._rotate()
        view = memoryview(line)
        try:
            while view:
                written = self._file.write(view)
                if not written:
                    raise OSError(f"nothing could be written to {self.path}")
                view = view[written:]
        except OSError:
            os.ftruncate(self._file.fileno(), self.size)  # no fragment for the next line to glue onto
            raise
        self.size += len(line)

    def _rotate(self) -> None:
        """``.n`` -> ``.n+1`` (the oldest kept one is overwritten), active -> ``.1``, start a new active file."""
        self._file.close()
        if self.backups == 0:
            self.path.unlink()
        else:
            for number in range(min(self.rotated, self.backups - 1), 0, -1):
                with contextlib.suppress(FileNotFoundError):  # removed by hand: the others still move on
                    os.replace(rotated_file(self.path, number), rotated_file(self.path, number + 1))
            os.replace(self.path, rotated_file(self.path, 1))
            self.rotated = min(self.rotated + 1, self.backups)
        self._file = self.path.open("ab", buffering=0)
        self.size = 0

    def sync_and_close(self) -> None:
        try:
            os.fsync(self._file.fileno())
        finally:
            self._file.close()

    def close(self) -> None:
        self._file.close()


def _repair_tail(path: Path) -> None:
    """Cut an unfinished last line (a crash mid-write), or terminate it when it is a complete event."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        return
    with path.open("r+b") as file:
        end, keep = size, 0
        while end > 0:
            start = max(0, end - _TAIL_CHUNK)
            file.seek(start)
            newline = file.read(end - start).rfind(b"\n")
            if newline >= 0:
                keep = start + newline + 1
                break
            end = start
        if keep == size:
            return
        file.seek(keep)
        fragment = file.read()
        try:
            json.loads(fragment)
        except ValueError:
            file.truncate(keep)
            log.warning("trace file ended in a torn line; cut it", file=str(path), bytes=size - keep)
        else:
            file.seek(size)
            file.write(b"\n")
