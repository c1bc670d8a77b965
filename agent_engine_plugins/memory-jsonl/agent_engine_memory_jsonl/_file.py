"""One JSON Lines file of records, open in this process: the durable appends, the index, the retention rewrite.

Why it is built this way:

* **Loaded once, then answered from memory.** Context assembly queries memory before every agent node, so
  a query must not re-read the file. The file is parsed when it is opened and every record is kept in an
  index ordered the way queries answer (``created_at``, then file order): by scope (project, or everything
  for the global store) and by task. A query is a slice of a list, or a newest-first scan that stops at
  ``limit``. The price is memory: the store's records and their lines stay in RAM, which ``max_items``
  bounds.
* **One open file per path per process.** Every backend handle on the same path shares one ``JsonlFile``
  (reference counted in ``_open_files``), with one lock and one index. Two engines in one process therefore
  see each other's writes, and retention never races an append.
* **One process per file.** An exclusive ``flock`` on ``<file>.lock``, taken when the file is opened and
  held until it is closed, makes a second process fail at once with a clear error, before two writers or
  two indexes could drift apart. The kernel drops the lock when the process dies, even when it is killed.
* **An acknowledged append is on disk.** The line goes out in one ``write`` (looped only if the OS accepts
  part of it) and is ``fsync``ed before ``append`` returns. A failed write is cut back, so no fragment stays
  behind. A new file's directory entry is synced too.
* **A torn last line is skipped, then cut.** Only the last line can be unfinished: the writer died mid-line
  or the machine lost power before the ``fsync``. That line was never acknowledged. It is skipped on load
  with a ``TornLineWarning``, and cut off before the next append, so that append does not glue onto it.
  Damage on any other line is not a crash artefact, so loading raises instead of losing records silently.
* **Retention rewrites the file.** When an append would take its scope past ``max_items``, the kept records
  and the new one go to a temporary file in the same folder. That file is ``fsync``ed, renamed over the
  store (``os.replace`` is atomic) and the folder is ``fsync``ed. A crash leaves the old file or the new
  one, never a mix.
"""

from __future__ import annotations

import bisect
import contextlib
import inspect
import os
import sys
import tempfile
import threading
import warnings
from collections.abc import Callable
from pathlib import Path
from types import FrameType
from typing import Any, Generic, TypeVar, cast

from agent_engine_core.lazy import get_logger

from agent_engine_memory_jsonl._codec import Codec, LineError, Record

if sys.platform != "win32":
    import fcntl

__all__ = ["JsonlFile", "TornLineWarning", "acquire", "release"]


log = get_logger(__name__)


R = TypeVar("R", bound=Record)
Entry = tuple[float, int, R]
"""``(created_at, sequence number, record)``: entries sort in query order (the sequence number is file order)."""

_FLAGS = os.O_RDWR | os.O_APPEND | os.O_CREAT | getattr(os, "O_CLOEXEC", 0)


class TornLineWarning(UserWarning):
    """A memory file ends in an unfinished line (its writer stopped mid-line); the line was skipped."""


def _order(entry: Entry[Any]) -> tuple[float, int]:
    return entry[0], entry[1]


class _Index(Generic[R]):
    """Entries by scope and by (scope, task id), each list in query order."""

    def __init__(self, shared: bool) -> None:
        self._shared = shared
        self._scopes: dict[str | None, list[Entry[R]]] = {}
        self._tasks: dict[tuple[str | None, str | None], list[Entry[R]]] = {}

    def scope_of(self, project_id: str) -> str | None:
        """The scope key of a project (the global store has a single scope)."""
        return None if self._shared else project_id

    def add(self, seq: int, record: R) -> None:
        scope = self.scope_of(record.project_id)
        entry = (record.created_at, seq, record)
        bisect.insort(self._scopes.setdefault(scope, []), entry, key=_order)
        bisect.insort(self._tasks.setdefault((scope, record.task_id), []), entry, key=_order)

    def entries(self, project_id: str, task_id: str | None = None) -> list[Entry[R]]:
        """The scope's entries (of one task, if given), oldest first; the list must not be modified."""
        scope = self.scope_of(project_id)
        if task_id is None:
            return self._scopes.get(scope, [])
        return self._tasks.get((scope, task_id), [])


class JsonlFile(Generic[R]):
    """The open store file at ``path``: build with ``acquire``, give back with ``release``."""

    def __init__(self, path: Path, codec: Codec[R], *, shared: bool) -> None:
        self.path = path
        self.codec = codec
        self.users = 0
        self._shared = shared
        self._lock = threading.Lock()
        self._records: dict[int, tuple[bytes, R]] = {}  # file order: sequence number -> (line, record)
        self._index: _Index[R] = _Index(shared)
        self._next_seq = 0
        self._size = 0
        self._cut_at: int | None = None  # where a torn last line starts: cut there before the next append
        self._terminate = False  # the last line is complete but lacks its newline
        self._lock_fd = self._fd = -1
        self._pid = os.getpid()
        _make_dirs(path.parent)
        self._lock_fd = _lock(path)
        try:
            _remove_stale_temporaries(path)
            created = not path.exists()
            self._fd = os.open(path, _FLAGS, 0o666)
            if created:
                _sync_dir(path.parent)
            self._load()
        except BaseException:
            self.close()
            raise

    # -- reading ---------------------------------------------------------------------------------------------

    def _load(self) -> None:
        data = _read_all(self._fd)
        self._size = len(data)
        lines = data.split(b"\n")
        last = max((n for n, raw in enumerate(lines) if raw.strip()), default=-1)
        offset = 0
        for number, raw in enumerate(lines):
            start, offset = offset, offset + len(raw) + 1
            if number > last:
                break
            if not raw.strip():
                continue
            try:
                record = self.codec.decode(raw)
            except LineError as exc:
                if number < last:
                    raise ValueError(
                        f"{self.path}:{number + 1}: {exc}. Only the last line of a memory file can be torn by a "
                        "crash, so this file was damaged otherwise: restore it from a backup, or remove the line "
                        "if losing that record is acceptable"
                    ) from None
                self._cut_at = start
                self._skip_torn(number + 1, len(data) - start, exc)
                break
            self._add(raw + b"\n", record)
            self._terminate = number == len(lines) - 1  # the file's last byte is not a newline

    def _skip_torn(self, line: int, size: int, reason: LineError) -> None:
        log.warning("skipped a torn last line of a memory file", file=str(self.path), line=line, bytes=size,
                    reason=str(reason))
        warnings.warn(
            f"{self.path}:{line}: skipped a torn last line ({size} bytes, {reason}); its writer stopped mid-line, "
            "before the write was acknowledged. It is cut off before the next append.",
            TornLineWarning,
            stacklevel=_first_caller_outside_this_package(),
        )

    def select(
        self, project_id: str, task_id: str | None, keep: Callable[[R], bool] | None, limit: int | None
    ) -> list[R]:
        """Records of the project's scope (and task), oldest first, that ``keep`` accepts; the newest ``limit``."""
        if limit == 0:
            return []
        with self._lock:
            entries = self._index.entries(project_id, task_id)
            if keep is None:
                return [entry[2] for entry in (entries if limit is None else entries[-limit:])]
            found: list[R] = []
            for entry in reversed(entries):  # newest first, so that a limit stops the scan early
                if keep(entry[2]):
                    found.append(entry[2])
                    if len(found) == limit:
                        break
        found.reverse()
        return found

    # -- writing ---------------------------------------------------------------------------------------------

    def append(self, record: R, *, max_items: int | None = None) -> None:
        """Store ``record`` durably; past ``max_items`` in its scope, the oldest records of the scope go."""
        line, stored = self.codec.encode(record)
        with self._lock:
            if self._fd < 0:
                raise ValueError(f"{self.path} is closed")
            if os.getpid() != self._pid:
                raise ValueError(f"{self.path} was opened by process {self._pid}, before it forked this one: open "
                                 "the store in the child process instead (after closing it in the parent)")
            if max_items is not None and len(self._index.entries(stored.project_id)) >= max_items:
                self._rewrite(line, stored, max_items)
            else:
                self._write(line)
                self._add(line, stored)

    def _add(self, line: bytes, record: R) -> None:
        seq, self._next_seq = self._next_seq, self._next_seq + 1
        self._records[seq] = (line, record)
        self._index.add(seq, record)

    def _write(self, line: bytes) -> None:
        if self._cut_at is not None:
            os.ftruncate(self._fd, self._cut_at)  # made durable by the fsync below
            self._size, self._cut_at, self._terminate = self._cut_at, None, False
        data = b"\n" + line if self._terminate else line
        try:
            _write_all(self._fd, data)
            _fsync(self._fd)
        except OSError:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, self._size)  # leave no fragment for the next append to glue onto
            raise
        self._size += len(data)
        self._terminate = False

    def _rewrite(self, line: bytes, stored: R, max_items: int) -> None:
        """Write the kept records plus the new one to a temporary file and rename it over the store."""
        scope = [*self._index.entries(stored.project_id), (stored.created_at, self._next_seq, stored)]
        scope.sort(key=_order)
        dropped = {entry[1] for entry in scope[: len(scope) - max_items]}
        kept = [(seq, entry) for seq, entry in self._records.items() if seq not in dropped]
        if self._next_seq not in dropped:  # an item older than the whole full scope is dropped at once
            kept.append((self._next_seq, (line, stored)))
        data = b"".join(entry[0] for _, entry in kept)
        new_fd = _write_temporary(self.path, data, mode=os.fstat(self._fd).st_mode & 0o7777)
        os.close(self._fd)
        self._fd = new_fd
        self._records = dict(kept)
        self._index = _Index(self._shared)
        for seq, (_, record) in self._records.items():
            self._index.add(seq, record)
        self._next_seq += 1
        self._size, self._cut_at, self._terminate = len(data), None, False
        _sync_dir(self.path.parent)

    def close(self) -> None:
        """Close the file and drop the process lock (``release`` calls this when the last user leaves)."""
        with self._lock:
            for fd in (self._fd, self._lock_fd):
                if fd >= 0:
                    with contextlib.suppress(OSError):
                        os.close(fd)
            self._fd = self._lock_fd = -1


# -- the files open in this process ---------------------------------------------------------------------------

_open_files: dict[Path, JsonlFile[Any]] = {}
_open_files_lock = threading.Lock()


def acquire(path: Path, codec: Codec[R], *, shared: bool) -> JsonlFile[R]:
    """The open file at ``path`` (opened and loaded on first use); ``release`` it when done.

    Raises:
        OSError: the folder or file cannot be created, opened or read.
        ValueError: another process holds the file, or a line other than the last is damaged.
    """
    with _open_files_lock:
        opened = _open_files.get(path)
        if opened is None:
            opened = _open_files[path] = JsonlFile(path, codec, shared=shared)
        opened.users += 1
        return cast(JsonlFile[R], opened)


def release(opened: JsonlFile[Any]) -> None:
    """Give back a file from ``acquire``; the last user closes it."""
    with _open_files_lock:
        opened.users -= 1
        if opened.users == 0:
            del _open_files[opened.path]
            opened.close()


def _first_caller_outside_this_package() -> int:
    """The ``stacklevel`` that points a warning at the code that built the backend (the engine, a script)."""
    package = os.path.dirname(__file__)
    here = inspect.currentframe()
    frame: FrameType | None = here.f_back if here is not None else None  # level 1: the caller of warnings.warn
    level = 1
    while frame is not None and frame.f_code.co_filename.startswith(package):
        frame, level = frame.f_back, level + 1
    return level


# -- system calls -----------------------------------------------------------------------------------------------


def _make_dirs(directory: Path) -> None:
    """Create the missing folders of ``directory``, syncing each new entry into its parent."""
    missing: list[Path] = []
    while not directory.exists() and directory != directory.parent:
        missing.append(directory)
        directory = directory.parent
    for folder in reversed(missing):
        folder.mkdir(exist_ok=True)
        _sync_dir(folder.parent)


def _lock(path: Path) -> int:
    lock_path = path.with_name(f".{path.name}.lock")
    fd = os.open(lock_path, os.O_RDWR | os.O_CREAT | getattr(os, "O_CLOEXEC", 0), 0o666)
    if sys.platform == "win32":  # pragma: no cover - no flock: one process per store is documented only
        return fd
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        holder = os.pread(fd, 32, 0).decode(errors="replace").strip()
        os.close(fd)
        raise ValueError(
            f"{path} is open in another process{f' (pid {holder})' if holder else ''}: a JSONL memory store "
            "belongs to one process at a time; to share memory between processes use the sqlite backend "
            "(one host) or postgres"
        ) from None
    except BaseException:
        os.close(fd)
        raise
    os.ftruncate(fd, 0)
    os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
    return fd


def _temporary_prefix(path: Path) -> str:
    return f".{path.name}."


def _remove_stale_temporaries(path: Path) -> None:
    """Delete rewrite files a crash left behind (safe: this process holds the store's lock)."""
    for stale in path.parent.glob(f"{_temporary_prefix(path)}*.tmp"):
        with contextlib.suppress(FileNotFoundError):
            stale.unlink()


def _write_temporary(path: Path, data: bytes, *, mode: int) -> int:
    """Write ``data`` durably to a new file beside ``path`` and rename it to ``path``; an append handle on it."""
    fd, name = tempfile.mkstemp(prefix=_temporary_prefix(path), suffix=".tmp", dir=path.parent)
    new_fd = -1
    try:
        with contextlib.suppress(OSError):
            os.fchmod(fd, mode)
        _write_all(fd, data)
        _fsync(fd)
        new_fd = os.open(name, _FLAGS)
        os.replace(name, path)
    except BaseException:
        if new_fd >= 0:
            os.close(new_fd)
        with contextlib.suppress(OSError):
            os.unlink(name)
        raise
    finally:
        os.close(fd)
    return new_fd


def _read_all(fd: int) -> bytes:
    chunks: list[bytes] = []
    offset = 0
    while chunk := os.pread(fd, 1 << 20, offset):
        chunks.append(chunk)
        offset += len(chunk)
    return b"".join(chunks)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def _fsync(fd: int) -> None:
    if sys.platform == "darwin":  # pragma: no cover - fsync does not flush the drive's cache on macOS
        fcntl.fcntl(fd, fcntl.F_FULLFSYNC)
    else:
        os.fsync(fd)


def _sync_dir(directory: Path) -> None:
    """Make the folder's entries (a new file, a rename) durable."""
    if sys.platform == "win32":  # pragma: no cover - folders cannot be opened, NTFS journals the entries
        return
    fd = os.open(directory, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
