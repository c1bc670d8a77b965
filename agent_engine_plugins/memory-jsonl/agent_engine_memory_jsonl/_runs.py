"""The ``jsonl`` run store: every finished run of a project as one line of ``<config dir>/.agent_engine/runs.jsonl``.

Why it is built this way:

* **One line per run, one ``write`` per ``write(runs)``.** The lines of a call go out in one ``write`` and are
  ``fsync``ed before it returns. The last line of a call says ``"ends_write": true``: on load, lines after the
  last such line are an unfinished write (the writer died mid-write, or the machine lost power before the
  ``fsync``). They were never acknowledged, so they are skipped together with a ``TornLineWarning``, and cut
  off before the next write. A run is therefore there complete or not at all, and so is every write.
* **Readers in other processes.** The inspector opens the file while an engine writes it. Writers hold an
  exclusive ``flock`` on ``.runs.jsonl.lock`` for a write, readers a shared one while they read new lines, so
  a reader never mistakes a write in progress for a torn one. Each store keeps an index (summary, offset and
  length of each run's latest line, in write order) and, before answering, reads only what was appended
  since; a document is read from the file when ``get`` asks for it, so memory holds summaries only.
* **Retention by rewriting, amortized.** The index keeps the ``max_runs`` runs written last. When the file
  holds more than twice that many lines (replaced and retired runs included), the writer writes the kept
  lines to a temporary file, ``fsync``s it, renames it over the store and syncs the folder: a crash leaves the
  old file or the new one. Other stores see the new inode and reload.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import threading
import warnings
from collections import OrderedDict
from collections.abc import Iterator, Sequence
from pathlib import Path

from agent_engine_core.lazy import get_logger
from agent_engine_core.runs import RunStoreSetup, RunSummary, StoredRun, run_store_path, select_runs

from agent_engine_memory_jsonl._file import (
    TornLineWarning,
    _first_caller_outside_this_package,
    _fsync,
    _make_dirs,
    _read_all,
    _remove_stale_temporaries,
    _sync_dir,
    _write_all,
    _write_temporary,
)

if sys.platform != "win32":
    import fcntl

__all__ = ["DEFAULT_MAX_RUNS", "DEFAULT_RUNS_PATH", "JsonlRunStore", "runs_file_path"]

log = get_logger(__name__)

DEFAULT_RUNS_PATH = ".agent_engine/runs.jsonl"
"""The runs file, relative to the config dir, when ``runs: {config: {path: ...}}`` names none."""

DEFAULT_MAX_RUNS = 10_000
"""Runs kept when memory.yaml's ``runs: {retention: {max_items: ...}}`` sets no bound."""

_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)
_Entry = tuple[RunSummary, int, int]
"""A run's summary and where its line is: offset and length."""


def runs_file_path(setup: RunStoreSetup) -> Path:
    """The absolute runs file: ``config.path`` from the config dir, else the default there (see ``run_store_path``)."""
    return run_store_path(setup, backend="jsonl", default=DEFAULT_RUNS_PATH, kind="file")


def _encode(run: StoredRun, *, ends_write: bool) -> bytes:
    line = {"ends_write": ends_write, "summary": run.summary.to_dict(), "document": run.document_json}
    return json.dumps(line, separators=(",", ":")).encode() + b"\n"  # ASCII: no raw newline, any text survives


def _decode(raw: bytes) -> tuple[bool, RunSummary, str]:
    """``(ends_write, summary, document)``; ``ValueError`` for anything that is not a line this store wrote."""
    line = json.loads(raw)
    if not isinstance(line, dict) or not isinstance(line.get("document"), str):
        raise ValueError("not a run line (an object with summary and document)")
    return bool(line.get("ends_write")), RunSummary.from_dict(line["summary"]), line["document"]


class JsonlRunStore:
    """One project's runs in a JSON Lines file (the ``jsonl`` run store; see the module docstring).

    Raises (when built):
        ValueError: a bad ``config`` or ``max_runs``, or a file that cannot be used or is damaged.
    """

    def __init__(self, setup: RunStoreSetup) -> None:
        if setup.max_runs is not None and setup.max_runs < 1:
            raise ValueError(f"runs: retention max_items must be at least 1, not {setup.max_runs}")
        self.path = runs_file_path(setup)
        self._bound = setup.max_runs or DEFAULT_MAX_RUNS
        self._lock = threading.Lock()
        self._pid = os.getpid()
        self._index: OrderedDict[str, _Entry] = OrderedDict()
        self._lines = 0  # lines of finished writes in the file, replaced and retired runs included
        self._done = 0  # where the last finished write ends: read from here, cut here
        self._torn_at: int | None = None  # a torn tail already warned about
        self._fd = self._lock_fd = -1
        if self.path.is_dir():
            raise ValueError(f"runs: config.path {str(self.path)!r} is a folder; point it at the runs file")
        try:
            _make_dirs(self.path.parent)
            self._lock_fd = os.open(self.path.with_name(f".{self.path.name}.lock"),
                                    os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
            created = not self.path.exists()
            self._fd = os.open(self.path, _FLAGS, 0o666)
            if created:
                _sync_dir(self.path.parent)
            with self._lock, self._flocked(exclusive=False):
                self._refresh()
        except OSError as exc:
            self.close()
            raise ValueError(f"cannot use {self.path} as the JSONL runs file ({exc.strerror or exc}): config.path "
                             "must name a file in a writable folder") from exc
        except BaseException:
            self.close()
            raise

    # -- reading -------------------------------------------------------------------------------------------------

    def runs(
        self, *, status: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[RunSummary]:
        """Summaries, newest first (``started_at``, then run id)."""
        with self._lock, self._flocked(exclusive=False):
            self._check_open()
            self._refresh()
            summaries = [entry[0] for entry in self._index.values()]
        return select_runs(summaries, status=status, since=since, limit=limit)

    def get(self, run_id: str) -> StoredRun | None:
        """The stored run, its document as written, or ``None``."""
        with self._lock, self._flocked(exclusive=False):
            self._check_open()
            self._refresh()
            entry = self._index.get(run_id)
            if entry is None:
                return None
            raw = os.pread(self._fd, entry[2], entry[1])
        return StoredRun(entry[0], _decode(raw)[2])

    def _refresh(self) -> None:
        """Read what finished writes appended since the last look (all of a new file after a rewrite)."""
        if os.stat(self.path).st_ino != os.fstat(self._fd).st_ino:  # another store rewrote it
            os.close(self._fd)
            self._fd = os.open(self.path, _FLAGS)
            self._index.clear()
            self._lines = self._done = 0
            self._torn_at = None
        base = self._done
        data = _read_all(self._fd) if base == 0 else os.pread(self._fd, os.fstat(self._fd).st_size - base, base)
        pending: list[_Entry] = []
        damaged: tuple[int, str] | None = None
        offset = base
        for raw in data.split(b"\n")[:-1]:  # the piece after the last newline is unfinished by definition
            line_start, offset = offset, offset + len(raw) + 1
            if not raw.strip():
                continue
            try:
                ends_write, summary, _ = _decode(raw)
            except (ValueError, KeyError, TypeError) as exc:
                damaged = damaged or (line_start, str(exc))
                continue
            if damaged is not None:  # a finished write after a bad line: not a crash's tail
                raise ValueError(f"{self.path}: the line at byte {damaged[0]} is damaged ({damaged[1]}), and runs "
                                 "written later follow it. Only an unfinished last write can be torn by a crash: "
                                 "restore the file from a backup, or remove that line")
            pending.append((summary, line_start, offset - line_start))
            if ends_write:
                for entry in pending:
                    self._index.pop(entry[0].run_id, None)
                    self._index[entry[0].run_id] = entry
                self._lines += len(pending)
                pending.clear()
                self._done = offset
        while len(self._index) > self._bound:
            self._index.popitem(last=False)
        torn = base + len(data) - self._done
        if torn and self._torn_at != self._done:
            self._torn_at = self._done
            self._warn_torn(torn)

    def _warn_torn(self, size: int) -> None:
        log.warning("skipped the torn end of a runs file", file=str(self.path), offset=self._done, bytes=size)
        warnings.warn(
            f"{self.path}: skipped a torn last write ({size} bytes at byte {self._done}); its writer stopped "
            "before the write was acknowledged. It is cut off before the next write.",
            TornLineWarning,
            stacklevel=_first_caller_outside_this_package(),
        )

    # -- writing -------------------------------------------------------------------------------------------------

    def write(self, runs: Sequence[StoredRun]) -> None:
        """Append ``runs`` as one durable write; past twice the bound, rewrite the file with the kept runs."""
        if not runs:
            return
        data = b"".join(_encode(run, ends_write=n == len(runs) - 1) for n, run in enumerate(runs))
        with self._lock, self._flocked(exclusive=True):
            self._check_open()
            self._refresh()
            size = os.fstat(self._fd).st_size
            if size != self._done:
                os.ftruncate(self._fd, self._done)  # a torn tail: made durable by the fsync below
            try:
                _write_all(self._fd, data)
                _fsync(self._fd)
            except OSError:
                with contextlib.suppress(OSError):
                    os.ftruncate(self._fd, self._done)  # leave no fragment behind
                raise
            self._torn_at = None
            self._refresh()
            if self._lines > 2 * self._bound:
                self._rewrite()

    def _rewrite(self) -> None:
        """Write the kept runs' lines to a temporary file and rename it over the store (under the write lock)."""
        _remove_stale_temporaries(self.path)
        kept = b"".join(os.pread(self._fd, length, offset) for _, offset, length in self._index.values())
        new_fd = _write_temporary(self.path, kept, mode=os.fstat(self._fd).st_mode & 0o7777)
        _sync_dir(self.path.parent)
        os.close(self._fd)
        self._fd = new_fd
        self._index.clear()
        self._lines = self._done = 0
        self._torn_at = None
        self._refresh()

    # -- the file ------------------------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _flocked(self, *, exclusive: bool) -> Iterator[None]:
        """Hold the store's lock file (shared to read, exclusive to write) across processes and stores."""
        if sys.platform == "win32" or self._lock_fd < 0:  # pragma: no cover - no flock: one process per file
            yield
            return
        fcntl.flock(self._lock_fd, fcntl.LOCK_EX if exclusive else fcntl.LOCK_SH)
        try:
            yield
        finally:
            fcntl.flock(self._lock_fd, fcntl.LOCK_UN)

    def close(self) -> None:
        """Close the file and the lock file; closing twice is harmless."""
        with self._lock:
            for fd in (self._fd, self._lock_fd):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._fd = self._lock_fd = -1

    def _check_open(self) -> None:
        if self._fd < 0:
            raise ValueError(f"the jsonl run store ({self.path}) is closed")
        if os.getpid() != self._pid:
            raise ValueError(f"the jsonl run store was opened by process {self._pid} before it forked this one: "
                             "build the store in the child process instead")
