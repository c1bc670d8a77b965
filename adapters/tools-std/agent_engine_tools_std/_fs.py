"""The file tools ``fs.read_file``, ``fs.write_file`` and ``fs.list_dir``, confined to their entry's ``root``.

Every path goes through ``Root.locate`` (``_jail``); the final component is then opened relative to the
directory the walk ended in, with ``O_NOFOLLOW``. Misuse: a path that is absolute, empty or leads outside the
root, content over the write cap. Environment errors: whatever the file system decides (a missing file, a
directory where a file was expected, permissions, a full disk, text that is not UTF-8).
"""

from __future__ import annotations

import codecs
import contextlib
import os
import secrets
import stat
from collections.abc import Mapping
from typing import Any

from agent_engine_core.tools import ToolResult, ToolSetup

from agent_engine_tools_std._config import Option, read_config
from agent_engine_tools_std._jail import Location, Refused, Unavailable, confined_root, guarded

__all__ = ["ListDirTool", "ReadFileTool", "WriteFileTool"]

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)  # a FIFO must not block the open; it is refused right after

MiB = 1024 * 1024
_ROOT_OPTIONS = {"allow_symlinked_root": Option("bool", default=False)}
_PATH = "A path relative to the tool's root directory, with '/' as separator; absolute paths are refused."


class ReadFileTool:
    """``fs.read_file``: ``{path}`` -> ``{path, text, size, truncated}`` (UTF-8; at most ``max_bytes`` read).

    A file larger than ``max_bytes`` is not an error: its first ``max_bytes`` bytes come back (cut at a
    character boundary) with ``truncated: true`` and the file's full ``size``.
    """

    def __init__(self, setup: ToolSetup) -> None:
        config = read_config("fs.read_file", setup.spec.config,
                             {"max_bytes": Option("int", default=MiB, minimum=1), **_ROOT_OPTIONS})
        self.root = confined_root(setup, "fs.read_file", allow_symlinked_root=config["allow_symlinked_root"])
        self.max_bytes: int = config["max_bytes"]
        self.description = (f"Read a UTF-8 text file (at most {self.max_bytes} bytes; a longer file comes back "
                            "truncated, with truncated: true). Paths are relative to the tool's root directory.")
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {"path": {"type": "string", "minLength": 1, "description": _PATH}},
            "required": ["path"],
            "additionalProperties": False,
        }

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Read the file; a missing file is an environment error (the node decides)."""
        path = arguments.get("path")
        return guarded(path, lambda: self._read(path))

    def _read(self, path: Any) -> ToolResult:
        with self.root.locate(path) as where:
            fd = _open_final(where, path, os.O_RDONLY | _NONBLOCK, "file")
            try:
                info = os.fstat(fd)
                if stat.S_ISDIR(info.st_mode):
                    raise Unavailable(f"'{path}' is a directory")
                if not stat.S_ISREG(info.st_mode):
                    raise Unavailable(f"'{path}' is not a regular file")
                data = _read_at_most(fd, self.max_bytes + 1)
            finally:
                os.close(fd)
        truncated = len(data) > self.max_bytes
        try:  # an incomplete character at the cut is dropped, not an error
            text = codecs.getincrementaldecoder("utf-8")().decode(data[: self.max_bytes], final=not truncated)
        except UnicodeDecodeError as exc:
            raise Unavailable(f"'{path}' is not UTF-8 text (invalid byte at offset {exc.start})") from None
        return ToolResult.ok({"path": where.relative, "text": text, "size": max(info.st_size, len(data)),
                              "truncated": truncated})


class WriteFileTool:
    """``fs.write_file``: ``{path, content}`` -> ``{path, bytes_written}``, atomically.

    The content goes to a temporary file in the target's directory, is flushed to disk (``fsync``) and renamed
    over the target (``os.replace``), so readers see the old file or the new one, never a part. An existing
    file keeps its permission bits. Missing parent directories are created inside the root unless
    ``create_parents: false``.
    """

    def __init__(self, setup: ToolSetup) -> None:
        config = read_config("fs.write_file", setup.spec.config, {
            "max_bytes": Option("int", default=10 * MiB, minimum=0),
            "create_parents": Option("bool", default=True),
            **_ROOT_OPTIONS,
        })
        self.root = confined_root(setup, "fs.write_file", allow_symlinked_root=config["allow_symlinked_root"])
        self.max_bytes: int = config["max_bytes"]
        self.create_parents: bool = config["create_parents"]
        parents = "created" if self.create_parents else "not created"
        self.description = (f"Write a UTF-8 text file, replacing it if it exists (missing directories are "
                            f"{parents}). Paths are relative to the tool's root directory.")
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {
                "path": {"type": "string", "minLength": 1, "description": _PATH},
                "content": {"type": "string", "description": "The file's new content, written as UTF-8."},
            },
            "required": ["path", "content"],
            "additionalProperties": False,
        }

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """Write the file; content over ``max_bytes`` is misuse, a full disk an environment error."""
        path = arguments.get("path")
        return guarded(path, lambda: self._write(path, arguments.get("content")))

    def _write(self, path: Any, content: Any) -> ToolResult:
        if not isinstance(content, str):
            raise Refused(f"content must be a string, not {type(content).__name__}")
        try:
            data = content.encode("utf-8")
        except UnicodeEncodeError:
            raise Refused("content is not valid Unicode text (it holds a lone surrogate)") from None
        if len(data) > self.max_bytes:
            raise Refused(f"content is {len(data)} bytes; this tool writes at most {self.max_bytes} "
                          "(config.max_bytes)")
        with self.root.locate(path, create_dirs=self.create_parents) as where:
            if where.name is None:
                raise Unavailable(f"'{path}' is a directory")
            try:
                info: os.stat_result | None = os.stat(where.name, dir_fd=where.dir_fd, follow_symlinks=False)
            except FileNotFoundError:
                info = None
            if info is not None and stat.S_ISLNK(info.st_mode):  # the walk followed it: it appeared since
                raise Refused(f"path '{path}' changed into a symbolic link while it was being opened")
            if info is not None and stat.S_ISDIR(info.st_mode):
                raise Unavailable(f"'{path}' is a directory")
            if info is not None and not stat.S_ISREG(info.st_mode):
                raise Unavailable(f"'{path}' is not a regular file")
            _replace(where.dir_fd, where.name, data, None if info is None else stat.S_IMODE(info.st_mode))
        return ToolResult.ok({"path": where.relative, "bytes_written": len(data)})


class ListDirTool:
    """``fs.list_dir``: ``{path = "."}`` -> ``{path, entries: [{name, type, size}], truncated}``.

    Entries are sorted by name; ``type`` is ``file``, ``dir``, ``symlink`` (not followed: where it points is
    not shown) or ``other``; ``size`` is the byte size of a file and ``null`` otherwise. At most
    ``max_entries`` (the first by name) come back, with ``truncated: true`` when there were more.
    """

    def __init__(self, setup: ToolSetup) -> None:
        config = read_config("fs.list_dir", setup.spec.config,
                             {"max_entries": Option("int", default=1000, minimum=1), **_ROOT_OPTIONS})
        self.root = confined_root(setup, "fs.list_dir", allow_symlinked_root=config["allow_symlinked_root"])
        self.max_entries: int = config["max_entries"]
        self.description = ("List a directory: each entry's name, type (file, dir, symlink, other) and size. "
                            "Paths are relative to the tool's root directory ('.' is the root).")
        self.parameters: dict[str, Any] = {
            "type": "object",
            "properties": {"path": {"type": "string", "minLength": 1, "default": ".", "description": _PATH}},
            "additionalProperties": False,
        }

    def invoke(self, arguments: Mapping[str, Any]) -> ToolResult:
        """List the directory; a missing one is an environment error."""
        path = arguments.get("path", ".")
        return guarded(path, lambda: self._list(path))

    def _list(self, path: Any) -> ToolResult:
        with self.root.locate(path) as where:
            fd = _open_final(where, path, os.O_RDONLY | _DIRECTORY, "directory")
            try:
                entries = _entries(fd)
            finally:
                os.close(fd)
        return ToolResult.ok({"path": where.relative, "entries": entries[: self.max_entries],
                              "truncated": len(entries) > self.max_entries})


def _open_final(where: Location, path: Any, flags: int, noun: str) -> int:
    """Open the walk's final component (or the directory it ended in) without following a link."""
    name = "." if where.name is None else where.name
    try:
        return os.open(name, flags | _NOFOLLOW | _CLOEXEC, dir_fd=where.dir_fd)
    except FileNotFoundError:
        raise Unavailable(f"{noun} '{path}' does not exist") from None
    except NotADirectoryError:
        raise Unavailable(f"'{path}' is not a directory") from None
    except IsADirectoryError:
        raise Unavailable(f"'{path}' is a directory") from None


def _read_at_most(fd: int, limit: int) -> bytes:
    chunks: list[bytes] = []
    left = limit
    while left > 0:
        chunk = os.read(fd, min(left, MiB))
        if not chunk:
            break
        chunks.append(chunk)
        left -= len(chunk)
    return b"".join(chunks)


def _replace(dir_fd: int, name: str, data: bytes, mode: int | None) -> None:
    """Write ``data`` to a temporary file beside ``name``, flush it, and rename it over ``name``."""
    temp = f".{name[:64]}.{secrets.token_hex(8)}.tmp"
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | _NOFOLLOW | _CLOEXEC
    fd = os.open(temp, flags, 0o666 if mode is None else 0o600, dir_fd=dir_fd)  # 0o666 less the umask
    try:
        try:
            if mode is not None:
                os.fchmod(fd, mode)
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view):]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, name, src_dir_fd=dir_fd, dst_dir_fd=dir_fd)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp, dir_fd=dir_fd)
        raise
    with contextlib.suppress(OSError):  # durability of the rename; some file systems refuse to sync directories
        directory = os.open(".", os.O_RDONLY | _DIRECTORY | _CLOEXEC, dir_fd=dir_fd)
        try:
            os.fsync(directory)
        finally:
            os.close(directory)


def _entries(fd: int) -> list[dict[str, Any]]:
    rows: list[dict[str, Any]] = []
    with os.scandir(fd) as found:
        for entry in found:
            try:
                info = entry.stat(follow_symlinks=False)
            except FileNotFoundError:  # removed while listing
                continue
            mode = info.st_mode
            kind = ("symlink" if stat.S_ISLNK(mode) else "dir" if stat.S_ISDIR(mode)
                    else "file" if stat.S_ISREG(mode) else "other")
            # names that are not UTF-8 cannot travel as JSON: shown with U+FFFD for the undecodable bytes
            name = entry.name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
            rows.append({"name": name, "type": kind, "size": info.st_size if kind == "file" else None})
    rows.sort(key=lambda row: row["name"])
    return rows
