"""Root confinement: a caller's relative path resolved inside a tool's root, one directory descriptor at a time.

``Root.locate(path)`` walks ``path`` component by component from an open descriptor of the root, never from a
path string the kernel would resolve on its own:

* an absolute path, a NUL character or an empty path is refused before anything is touched;
* ``..`` pops the last directory the walk entered; popping past the root is refused;
* a component that cannot be entered (missing, not a directory) does not end the walk: the components after
  it are resolved lexically (``missing/..`` is where the walk was) until ``..`` brings the walk back to a
  directory it entered, so confinement is decided on the whole resolved path, whether or not its components
  exist, before the file system's answer (a missing directory, say) is reported; ``create_dirs`` creates
  missing directories only then;
* a symbolic link is read (``readlink`` relative to its directory) and its target spliced into the remaining
  components: a relative target continues from the link's directory, an absolute one must start with the
  root's own (resolved) path and restarts from the root; anything else is refused, and so are more than
  ``MAX_SYMLINKS`` links in one walk;
* each directory is opened with ``O_NOFOLLOW | O_DIRECTORY`` relative to its parent's descriptor, so a
  component swapped for a symbolic link between the check and the open fails the open instead of being
  followed (time-of-check to time-of-use), and ``..`` is never handed to the kernel.

The walk hands back the descriptor of the final component's directory and the final name; tools open the
final component relative to it, again with ``O_NOFOLLOW``. What this cannot stop is another process *moving*
a directory out of the root while a walk is inside it (only ``openat2(RESOLVE_BENEATH)`` could, and Python
does not offer it); see the README's "What is not protected".

Refusals raise ``Refused`` (the tool answers misuse); problems of the file system raise ``Unavailable`` or
``OSError`` (the tool answers an environment error). Messages name paths relative to the root only.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import Any

from agent_engine_core.errors import ToolError
from agent_engine_core.tools import ToolResult, ToolSetup

__all__ = ["MAX_SYMLINKS", "Location", "Refused", "Root", "Unavailable", "confined_root", "guarded"]

MAX_SYMLINKS = 40
"""Symbolic links one walk may follow (Linux's own limit for a path lookup)."""

_CLOEXEC = getattr(os, "O_CLOEXEC", 0)
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)
# O_PATH (Linux) opens a directory for lookups only: traversing needs the x bit, not the r bit, as for the kernel
_LOOKUP = getattr(os, "O_PATH", os.O_RDONLY) | _DIRECTORY | _NOFOLLOW | _CLOEXEC


class Refused(Exception):
    """The path is not acceptable (absolute, outside the root, too many links): the call is misuse."""


class Unavailable(Exception):
    """The file system cannot serve the path (missing directory, not a directory): an environment error."""


class Location:
    """Where a path leads: an open directory, the final name in it, and the physical path below the root.

    ``name`` is ``None`` when the path is a directory reached by the walk itself (``.``, ``a/..``). The object
    owns ``dir_fd``: use it as a context manager.
    """

    __slots__ = ("dir_fd", "name", "parts")

    def __init__(self, dir_fd: int, name: str | None, parts: tuple[str, ...]) -> None:
        self.dir_fd = dir_fd
        self.name = name
        self.parts = parts

    @property
    def relative(self) -> str:
        """The physical path below the root (``.`` for the root itself)."""
        return "/".join(self.parts) or "."

    def __enter__(self) -> Location:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, value: BaseException | None, traceback: TracebackType | None
    ) -> None:
        os.close(self.dir_fd)


class Root:
    """A tool's root directory, pinned when the tool is built: the walk checks it is still the same directory."""

    def __init__(self, path: Path) -> None:
        if not _SUPPORTED:
            raise ToolError("root-confined tools need a POSIX system (openat, O_NOFOLLOW, O_DIRECTORY)")
        self.path = path
        info = os.stat(path)
        self._identity = (info.st_dev, info.st_ino)
        self._parts = tuple(part for part in path.parts if part != path.anchor)

    def locate(self, path: Any, *, follow_final: bool = True, create_dirs: bool = False) -> Location:
        """Walk ``path`` below the root; the final component need not exist.

        ``follow_final`` follows a final symbolic link (within the root) instead of stopping at it;
        ``create_dirs`` creates missing intermediate directories (inside the root) instead of failing, once the
        whole path is known to stay inside the root.
        """
        walk = _Walk(self, path)
        try:
            return walk.run(follow_final=follow_final, create_dirs=create_dirs)
        except BaseException:
            walk.close()
            raise

    def physical(self, location: Location) -> Path:
        """The absolute path of ``location`` (for APIs that take a path, such as a process's cwd)."""
        return self.path.joinpath(*location.parts)

    def _open_root(self) -> int:
        try:
            fd = os.open(self.path, _LOOKUP)
        except OSError as exc:
            raise Unavailable(f"the tool's root directory cannot be opened: {exc.strerror}") from None
        info = os.fstat(fd)
        if (info.st_dev, info.st_ino) != self._identity:
            os.close(fd)
            raise Unavailable("the tool's root directory was replaced after the engine loaded it")
        return fd

    def _below_root(self, target: str) -> list[str] | None:
        """The components of an absolute link target below the root, or ``None`` when it does not start there."""
        parts = _parts(target)
        count = len(self._parts)
        if tuple(parts[:count]) != self._parts:
            return None
        return parts[count:]


_SUPPORTED = (
    os.name == "posix" and bool(_NOFOLLOW) and bool(_DIRECTORY)
    and os.open in os.supports_dir_fd and os.stat in os.supports_dir_fd and os.readlink in os.supports_dir_fd
)


def _components(path: Any) -> list[str]:
    """The components of a caller's path, or ``Refused`` for a path that is never acceptable."""
    if not isinstance(path, str):
        raise Refused(f"path must be a string, not {type(path).__name__}")
    if not path:
        raise Refused("path is empty: give a path relative to the tool's root ('.' is the root itself)")
    if "\x00" in path:
        raise Refused("path contains a NUL character")
    if path.startswith("/") or (sys.platform == "win32" and os.path.isabs(path)):
        raise Refused(f"absolute path '{path}' is not accepted: give a path relative to the tool's root")
    return _parts(path)


def _parts(path: str) -> list[str]:
    """The components of a ``/``-separated path, without empty and ``.`` ones (``..`` is kept).

    A trailing ``/`` or ``/.`` stays as a final ``.``: as for the kernel, the name before it must be a directory.
    """
    parts = [part for part in path.split("/") if part not in ("", ".")]
    if parts and parts[-1] != ".." and path.rsplit("/", 1)[-1] in ("", ".") and "/" in path:
        parts.append(".")
    return parts


class _Walk:
    """One walk of a caller's path: the directories entered below the root, and what lies beyond them.

    ``stack`` holds the directories entered, physically (links resolved), each with its open descriptor. Once a
    component cannot be entered (it does not exist, is not a directory, cannot be looked up), the components
    after it are ``beyond``: resolved lexically, ``..`` dropping the last of them, until ``..`` brings the walk
    back to ``stack`` and it goes on physically. Why the walk could not go on (``missing``, ``stuck``) is
    reported only once the whole path is known to stay inside the root, so leaving the root is misuse whether
    or not the components on the way exist.
    """

    def __init__(self, root: Root, path: Any) -> None:
        self.root = root
        self.path = path
        # each pending component remembers the link whose target it came from (None: the caller's path)
        self.pending: deque[tuple[str, str | None]] = deque((part, None) for part in _components(path))
        self.root_fd = root._open_root()
        self.stack: list[tuple[str, int]] = []
        self.beyond: list[str] = []
        self.missing: str | None = None  # the first directory that does not exist (create_dirs may create it)
        self.stuck: str | None = None  # the first component that cannot be entered for another reason
        self.hops = 0

    def run(self, *, follow_final: bool, create_dirs: bool) -> Location:
        found: str | None = None  # the final component, when it exists and is not a link to follow
        ends_in_dir = False
        while self.pending:
            name, via = self.pending.popleft()
            ends_in_dir = name in (".", "..")
            if name == ".":  # only after a name that had to be a directory (see _parts): nothing to do
                continue
            if name == "..":
                self._up(via)
            elif self.beyond:
                self.beyond.append(name)
            else:
                found = self._enter(name, final=not self.pending, follow_final=follow_final)
        # the path stays inside the root: from here on the file system may say no
        if self.stuck or (self.missing and (not create_dirs or (ends_in_dir and self.beyond))):
            raise Unavailable(self.stuck or self.missing)
        if self.beyond:
            *parents, found = self.beyond
            for name in parents:
                self._make(name)
        return _hand_over(self.root_fd, self.stack, found)

    def close(self) -> None:
        _close_all(self.stack)
        os.close(self.root_fd)

    def _here(self) -> int:
        return self.stack[-1][1] if self.stack else self.root_fd

    def _up(self, via: str | None) -> None:
        if self.beyond:
            self.beyond.pop()
            return
        if not self.stack:
            through = f" through the symbolic link '{via}'" if via else ""
            raise Refused(f"path '{self.path}' leads outside the tool's root{through}")
        os.close(self.stack.pop()[1])

    def _enter(self, name: str, *, final: bool, follow_final: bool) -> str | None:
        """Step into ``name``; the name itself when it is the existing final component (not a followed link)."""
        here = self._here()
        where = "/".join([*(entry for entry, _ in self.stack), name])
        try:
            info = os.stat(name, dir_fd=here, follow_symlinks=False)
        except OSError as exc:
            if not (final and exc.errno == errno.ENOENT):  # a missing final component: the tool decides
                self._block(where, exc.errno)
            self.beyond.append(name)
            return None
        if stat.S_ISLNK(info.st_mode) and (follow_final or not final):
            self._follow(name, here, where)
            return None
        if final:
            return name
        if not stat.S_ISDIR(info.st_mode):
            self._block(where, errno.ENOTDIR)
            self.beyond.append(name)
            return None
        try:
            fd = _open_lookup(name, here, self.path)
        except OSError as exc:
            self._block(where, exc.errno)
            self.beyond.append(name)
            return None
        self.stack.append((name, fd))
        return None

    def _follow(self, name: str, here: int, where: str) -> None:
        """Splice the link's target into the pending components (an absolute one restarts from the root)."""
        self.hops += 1
        if self.hops > MAX_SYMLINKS:
            raise Refused(f"path '{self.path}' goes through more than {MAX_SYMLINKS} symbolic links")
        target = os.readlink(name, dir_fd=here)
        if target.startswith("/"):
            below = self.root._below_root(target)
            if below is None:
                raise Refused(f"path '{self.path}' leads outside the tool's root through the symbolic link '{where}'")
            _close_all(self.stack)
        else:
            below = _parts(target)
        self.pending.extendleft((part, where) for part in reversed(below))

    def _block(self, where: str, number: int | None) -> None:
        if number == errno.ENOENT:
            self.missing = self.missing or f"directory '{where}' does not exist (in path '{self.path}')"
            return
        if number == errno.ENOTDIR:
            reason = f"'{where}' is not a directory"
        else:
            reason = f"'{where}': {_REASONS.get(number or 0) or os.strerror(number or 0)}"
        self.stuck = self.stuck or f"{reason} (in path '{self.path}')"

    def _make(self, name: str) -> None:
        """Create the missing directory ``name`` in the current one and enter it, never through a link."""
        here = self._here()
        with contextlib.suppress(FileExistsError):  # created concurrently: entered all the same, if a directory
            os.mkdir(name, dir_fd=here)
        self.stack.append((name, _open_lookup(name, here, self.path)))


def _open_lookup(name: str, here: int, path: str) -> int:
    try:
        return os.open(name, _LOOKUP, dir_fd=here)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # it changed into a link or a file after the check
            raise Refused(f"path '{path}' changed while it was being resolved") from None
        raise


def _hand_over(root_fd: int, stack: list[tuple[str, int]], name: str | None) -> Location:
    """A ``Location`` owning the last directory's descriptor; every other descriptor of the walk is closed."""
    parts = tuple(entry for entry, _ in stack)
    if stack:
        fd = stack.pop()[1]
        _close_all(stack)
        os.close(root_fd)
    else:
        fd = root_fd
    return Location(fd, name, (*parts, name) if name is not None else parts)


def _close_all(stack: list[tuple[str, int]]) -> None:
    while stack:
        os.close(stack.pop()[1])


def confined_root(setup: ToolSetup, tool_type: str, *, allow_symlinked_root: bool) -> Root:
    """The entry's root, or ``ToolError`` when it has none, or reaches its directory through a symbolic link.

    The core hands over ``setup.root`` resolved; the root as written (joined to the resolved config dir, with
    ``..`` removed lexically) differs from it exactly when the written path goes through a symbolic link.
    Such a root is refused unless ``allow_symlinked_root`` is set: then the resolved directory, as it was when
    the engine loaded, is the root, and re-pointing the link later does not move it.
    """
    if setup.root is None or setup.spec.root is None:
        raise ToolError(f"{tool_type} needs root: the directory its paths are confined to "
                        "(relative to the config dir)")
    written = Path(setup.spec.root).expanduser()
    if not written.is_absolute():
        written = (setup.project_dir or Path.cwd()).resolve() / written
    if Path(os.path.abspath(written)) != setup.root and not allow_symlinked_root:
        raise ToolError(f"root '{setup.spec.root}' goes through a symbolic link (it resolves to {setup.root}); "
                        "write the resolved path as root, or set config.allow_symlinked_root: true to confine "
                        "the tool to the directory the link points to when the engine loads")
    return Root(setup.root)


_REASONS = {
    errno.ENOENT: "does not exist",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.EISDIR: "is a directory",
    errno.ENOSPC: "no space left on the device",
    errno.EDQUOT: "disk quota exceeded",
    errno.EROFS: "read-only file system",
    errno.ENAMETOOLONG: "a name in the path is too long",
    errno.EFBIG: "file too large",
    errno.EIO: "input/output error",
}


def guarded(path: Any, action: Callable[[], ToolResult]) -> ToolResult:
    """``action()``'s result, or the misuse or environment result its exception stands for.

    The messages are built from ``path`` (the caller's, relative to the root) and the error number, never from
    the ``OSError`` text, which may carry absolute paths.
    """
    try:
        result = action()
    except Refused as exc:
        return ToolResult.misuse(str(exc))
    except Unavailable as exc:
        return ToolResult.environment(str(exc))
    except OSError as exc:
        if exc.errno == errno.ELOOP:  # O_NOFOLLOW met a link that appeared after the walk checked the path
            return ToolResult.misuse(f"path '{path}' changed into a symbolic link while it was being opened")
        reason = _REASONS.get(exc.errno or 0) or exc.strerror or type(exc).__name__
        return ToolResult.environment(f"'{path}': {reason}")
    return result
