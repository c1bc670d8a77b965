"""The ``jsonl`` backend: one handle per store, over the shared files of ``_file``.

A store's items live in ``<folder>/<store>_store.jsonl``; artifacts live in ``<folder>/artifacts.jsonl``. The
folder is ``<config dir>/.agent_engine/memory`` unless memory.yaml's ``config: {path: ...}`` names another.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from agent_engine_core.memory import Artifact, MemoryItem, MemorySetup, check_limit, file_store_path

from agent_engine_memory_jsonl._codec import ARTIFACT_CODEC, ITEM_CODEC
from agent_engine_memory_jsonl._file import JsonlFile, acquire, release

__all__ = ["DEFAULT_PATH", "JsonlMemoryBackend", "memory_folder"]

DEFAULT_PATH = ".agent_engine/memory"
"""The store folder, relative to the config dir, when memory.yaml's ``config`` names no ``path``."""

ARTIFACTS_FILE = "artifacts.jsonl"


def memory_folder(setup: MemorySetup) -> Path:
    """The absolute folder of the store's files, from ``setup.config["path"]`` and ``setup.project_dir``.

    A relative ``path`` is taken from the config dir, or from the current directory when the manifests have no
    folder (in-memory manifests); without a config dir, ``path`` is required.

    Raises:
        ValueError: an unknown config key, a ``path`` that is not text, or no place to store the files.
    """
    return file_store_path(setup, backend="jsonl", default=DEFAULT_PATH, kind="folder")


def _open(path: Path, *, artifacts: bool, shared: bool) -> JsonlFile[Any]:
    try:
        if artifacts:
            return acquire(path, ARTIFACT_CODEC, shared=False)
        return acquire(path, ITEM_CODEC, shared=shared)
    except OSError as exc:
        raise ValueError(
            f"cannot use {path} as a JSONL memory file ({exc.strerror or exc}): config.path must name a writable "
            "folder (it is created when missing)"
        ) from exc


def _release_all(files: list[JsonlFile[Any]]) -> None:
    while files:
        release(files.pop())


class JsonlMemoryBackend:
    """One store of one project in JSON Lines files (the ``jsonl`` backend; ``JsonlMemoryBackend(setup)``).

    Handles on the same folder share the open files of this process (one lock, one in-memory index per file).
    Another process opening the same store fails with ``ValueError`` until this one closes it.

    Raises (when built):
        ValueError: a bad ``config``, no folder to write to, a folder that cannot be created or written, a file
            held by another process, or a damaged line other than a torn last one. The message names the path.
    """

    def __init__(self, setup: MemorySetup) -> None:
        self.setup = setup
        self.folder = memory_folder(setup)
        self._shared = setup.store == "global"
        self._files: list[JsonlFile[Any]] = []
        self._finalizer = weakref.finalize(self, _release_all, self._files)
        self._lock = threading.Lock()
        self._items: JsonlFile[MemoryItem] = _open(self.folder / f"{setup.store}_store.jsonl", artifacts=False,
                                                   shared=self._shared)
        self._files.append(self._items)
        self._artifacts: JsonlFile[Artifact] | None = None
        if setup.store == "project":  # the engine keeps artifacts here: fail now rather than at the first one
            try:
                self._artifact_file()
            except BaseException:
                self.close()
                raise

    @property
    def items_path(self) -> Path:
        """The file of this store's items."""
        return self._items.path

    def append(self, item: MemoryItem) -> None:
        """Append ``item`` to the file and ``fsync`` it, then apply retention (see ``_file``).

        Raises:
            ValueError: the item belongs to another store or project, its JSON texts are not JSON, or the
                backend is closed.
            OSError: the write or the ``fsync`` failed; nothing was stored.
        """
        self._check_open()
        if item.store != self.setup.store:
            raise ValueError(f"item {item.id!r} belongs to the {item.store} store, not the {self.setup.store} store")
        if not self._shared and item.project_id != self.setup.project_id:
            raise ValueError(f"item {item.id!r} belongs to project {item.project_id!r}, not to this store's "
                             f"project {self.setup.project_id!r}")
        self._items.append(item, max_items=self.setup.max_items)

    def query(
        self, *, task_id: str | None = None, tags: Sequence[str] = (), limit: int | None = None
    ) -> list[MemoryItem]:
        """Items of this store's scope, oldest first, filtered by task and by any of ``tags``; the newest ``limit``."""
        self._check_open()
        check_limit(limit)
        wanted = frozenset(tags)
        keep = (lambda item: not wanted.isdisjoint(item.tags)) if wanted else None
        return self._items.select(self.setup.project_id, task_id, keep, limit)

    def put_artifact(self, artifact: Artifact) -> None:
        """Append ``artifact`` to ``artifacts.jsonl`` and ``fsync`` it (artifacts are not bounded by retention)."""
        self._check_open()
        if artifact.project_id != self.setup.project_id:
            raise ValueError(f"artifact {artifact.id!r} belongs to project {artifact.project_id!r}, not to "
                             f"{self.setup.project_id!r}")
        self._artifact_file().append(artifact)

    def artifacts(
        self, *, kind: str | None = None, task_id: str | None = None, node_id: str | None = None,
        schema: str | None = None, limit: int | None = None,
    ) -> list[Artifact]:
        """Artifacts of this project matching every given field, oldest first; ``limit`` keeps the newest."""
        self._check_open()
        check_limit(limit)

        def keep(artifact: Artifact) -> bool:
            return ((kind is None or artifact.kind == kind) and (node_id is None or artifact.node_id == node_id)
                    and (schema is None or artifact.schema == schema))

        plain = kind is None and node_id is None and schema is None
        return self._artifact_file().select(self.setup.project_id, task_id, None if plain else keep, limit)

    def close(self) -> None:
        """Give the files back; the last handle on a file in this process closes it. Closing twice is harmless."""
        self._finalizer()

    def _artifact_file(self) -> JsonlFile[Artifact]:
        with self._lock:
            if self._artifacts is None:
                self._artifacts = _open(self.folder / ARTIFACTS_FILE, artifacts=True, shared=False)
                self._files.append(self._artifacts)
            return self._artifacts

    def _check_open(self) -> None:
        if not self._finalizer.alive:
            raise ValueError(f"the jsonl backend of the {self.setup.store} store ({self.folder}) is closed")
