"""The memory contract: three stores (task, project, global) of JSON items, plus artifacts, behind backends.

A backend is registered with ``register(name, factory)`` (``register_memory_backends``); memory.yaml names one
per store (``task_store: {backend: memory}``). ``factory(MemorySetup)`` returns one ``MemoryBackend`` for that
store. Every backend keeps the same semantics, which ``agent_engine_core.testing``'s backend conformance checks
(``check_memory_backend``) pin down:

- ``append`` is durable when it returns (an acknowledged write survives a crash of the process), then applies
  retention: beyond ``max_items`` items in the scope, the oldest are deleted;
- items are scoped: task and project items by ``project_id`` (task items also carry their ``task_id``), global
  items are shared by every project; ``query`` and retention see only the setup's scope;
- ``query`` returns items oldest first (by ``created_at``, then insertion order, whatever order they were
  appended in), filtered by ``task_id`` and by tags (an item matches when it has at least one of the given
  tags); ``limit`` keeps the newest ``limit``;
- artifacts live in the backend of the project store (``put_artifact``/``artifacts``), queryable by kind, task,
  node and schema, oldest first.

``created_at`` is stamped by ``write_time()``: wall-clock seconds, strictly increasing within a process, so items
written one after another order as written however fast the machine (context recency ranks by it).
"""

from __future__ import annotations

import math
import os
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, Literal, NamedTuple, Protocol, runtime_checkable

from agent_engine_core.codec import dumps, loads

__all__ = [
    "STORES",
    "Artifact",
    "Artifacts",
    "InMemoryBackend",
    "Memory",
    "MemoryBackend",
    "MemoryFactory",
    "MemoryItem",
    "MemorySetup",
    "MemoryStore",
    "StoreName",
    "check_limit",
    "file_store_path",
    "write_time",
]

StoreName = Literal["task", "project", "global"]

STORES: tuple[StoreName, ...] = ("task", "project", "global")
ARTIFACT_KINDS = ("node_output", "tool_result", "evaluation", "telemetry_snapshot")

_new_tuple = tuple.__new__
"""Builds an item or artifact from a complete field tuple, skipping the named tuple's keyword handling: half
the cost, on the engine's per-stage path (``tests/test_engine_memory.py`` holds the fields to the classes)."""


class _WriteClock:
    """``time.time()``, nudged to the next float when it would not move forward (a fast write, a clock step back)."""

    def __init__(self) -> None:
        self._last = 0.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        now = time.time()
        with self._lock:
            if now <= self._last:
                now = math.nextafter(self._last, math.inf)
            self._last = now
        return now


write_time = _WriteClock()
"""The ``created_at`` of a write: wall-clock seconds, strictly increasing within the process."""


class MemoryItem(NamedTuple):
    """One stored item; ``payload_json`` and ``metadata_json`` are JSON text (``payload`` decodes a copy).

    A named tuple rather than a frozen dataclass, like events: the engine writes one per successful stage and a
    tuple is built in a third of the time.
    """

    id: str
    store: StoreName
    project_id: str
    payload_json: str
    created_at: float
    task_id: str | None = None
    tags: tuple[str, ...] = ()
    metadata_json: str = "{}"

    @property
    def payload(self) -> Any:
        """A fresh copy of the payload."""
        return loads(self.payload_json)

    @property
    def metadata(self) -> Any:
        """A fresh copy of the metadata."""
        return loads(self.metadata_json)


class Artifact(NamedTuple):
    """A stored node output, tool result, evaluation or telemetry snapshot (a named tuple, as ``MemoryItem``)."""

    id: str
    kind: str
    project_id: str
    task_id: str
    payload_json: str
    created_at: float
    node_id: str | None = None
    schema: str | None = None
    metadata_json: str = "{}"

    @property
    def payload(self) -> Any:
        """A fresh copy of the payload."""
        return loads(self.payload_json)


@dataclass(frozen=True, slots=True)
class MemorySetup:
    """What a backend factory builds one store's backend from."""

    store: StoreName
    project_id: str
    project_dir: Path | None
    max_items: int | None = None
    config: Any = field(default_factory=lambda: MappingProxyType({}))
    """The store's ``config`` mapping from memory.yaml (paths, DSNs, pool sizes...)."""


@runtime_checkable
class MemoryBackend(Protocol):
    """One store of one project (see the module docstring for the semantics every backend keeps)."""

    def append(self, item: MemoryItem) -> None:
        """Store ``item`` durably, then apply retention."""
        ...

    def query(
        self, *, task_id: str | None = None, tags: Sequence[str] = (), limit: int | None = None
    ) -> list[MemoryItem]:
        """Items of this store and scope, oldest first."""
        ...

    def put_artifact(self, artifact: Artifact) -> None:
        """Store an artifact durably."""
        ...

    def artifacts(
        self, *, kind: str | None = None, task_id: str | None = None, node_id: str | None = None,
        schema: str | None = None, limit: int | None = None,
    ) -> list[Artifact]:
        """Artifacts of this project matching every given field, oldest first; ``limit`` keeps the newest."""
        ...

    def close(self) -> None:
        """Release files, connections and pools."""
        ...


MemoryFactory = Callable[[MemorySetup], MemoryBackend]
"""Builds a store's backend; raises ``ValueError`` (or ``OSError``, a driver error) when it cannot be used."""


def file_store_path(setup: MemorySetup, *, backend: str, default: str, kind: str) -> Path:
    """For file backends: the absolute ``config.path`` (default ``default``), after refusing other config keys.

    A relative path is taken from the config dir, or from the current directory when the manifests have no folder
    (in-memory manifests): then ``path`` is required. ``kind`` names what the path is ("folder", "database file").

    Raises:
        ValueError: a config that is not a mapping, an unknown key, a ``path`` that is not text, or no place.
    """
    config = setup.config
    if not isinstance(config, Mapping):
        raise ValueError(f"the {backend} backend's config must be a mapping, got {config!r}")
    unknown = sorted(map(str, set(config) - {"path"}))
    if unknown:
        raise ValueError(f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))}; "
                         f"the {backend} memory backend accepts path")
    raw = config.get("path")
    if raw is None:
        if setup.project_dir is None:
            raise ValueError(
                f"the {backend} backend of the {setup.store} store has no place for its {kind}: the manifests were "
                f"not loaded from a config dir, so set config.path in memory.yaml (an absolute {kind} path)"
            )
        raw = default
    if not isinstance(raw, str | os.PathLike) or not str(raw).strip():
        raise ValueError(f"config.path must be a {kind} path (text), got {raw!r}")
    base = setup.project_dir if setup.project_dir is not None else Path.cwd()
    return (base / Path(raw).expanduser()).absolute()


def check_limit(limit: int | None) -> None:
    """Refuse a ``limit`` that is not a whole number >= 0 or None (for backends that pass it to a query)."""
    if limit is not None and (isinstance(limit, bool) or not isinstance(limit, int) or limit < 0):
        raise ValueError(f"limit must be a whole number >= 0 or None, got {limit!r}")


def select_items(
    items: Iterable[MemoryItem], *, task_id: str | None, tags: Sequence[str], limit: int | None
) -> list[MemoryItem]:
    """The query semantics over items already in store order (for backends that filter in Python)."""
    wanted = set(tags)
    found = [i for i in items if (task_id is None or i.task_id == task_id) and (not wanted or wanted & set(i.tags))]
    return found[max(len(found) - limit, 0):] if limit is not None else found


def select_artifacts(
    artifacts: Iterable[Artifact], *, kind: str | None, task_id: str | None, node_id: str | None,
    schema: str | None, limit: int | None,
) -> list[Artifact]:
    """The artifact query semantics over artifacts already in store order."""
    found = [
        a for a in artifacts
        if (kind is None or a.kind == kind) and (task_id is None or a.task_id == task_id)
        and (node_id is None or a.node_id == node_id) and (schema is None or a.schema == schema)
    ]
    return found[max(len(found) - limit, 0):] if limit is not None else found


class InMemoryBackend:
    """The built-in ``memory`` backend: process memory, bounded (``max_items``, default 1,000 per store).

    Nothing survives the process. Items and artifacts beyond the bound are dropped oldest first, so a
    long-running engine's task memory does not grow without limit.
    """

    DEFAULT_MAX_ITEMS = 1_000

    def __init__(self, setup: MemorySetup) -> None:
        if setup.config:
            raise ValueError(f"the memory backend takes no config (got {', '.join(map(str, setup.config))})")
        self._bound = setup.max_items or self.DEFAULT_MAX_ITEMS
        self._items: deque[MemoryItem] = deque()  # in query order: by created_at, then insertion
        self._artifacts: deque[Artifact] = deque(maxlen=self._bound)
        self._lock = threading.Lock()

    def append(self, item: MemoryItem) -> None:
        """Keep the item in ``created_at`` order (the oldest one drops out past the bound)."""
        with self._lock:
            items = self._items
            at = len(items)
            while at and items[at - 1].created_at > item.created_at:  # written out of order: rare, near the end
                at -= 1
            items.insert(at, item)
            if len(items) > self._bound:
                items.popleft()

    def query(
        self, *, task_id: str | None = None, tags: Sequence[str] = (), limit: int | None = None
    ) -> list[MemoryItem]:
        """Items oldest first."""
        with self._lock:
            items = list(self._items)
        return select_items(items, task_id=task_id, tags=tags, limit=limit)

    def put_artifact(self, artifact: Artifact) -> None:
        """Keep the artifact (bounded like the items)."""
        with self._lock:
            self._artifacts.append(artifact)

    def artifacts(
        self, *, kind: str | None = None, task_id: str | None = None, node_id: str | None = None,
        schema: str | None = None, limit: int | None = None,
    ) -> list[Artifact]:
        """Artifacts oldest first."""
        with self._lock:
            stored = list(self._artifacts)
        return select_artifacts(stored, kind=kind, task_id=task_id, node_id=node_id, schema=schema, limit=limit)

    def close(self) -> None:
        """Nothing to release."""


class _Fixed:
    """Attributes set once, by the engine: a caller changes memory through ``append``/``put``, never by rebinding."""

    __slots__ = ()

    def __setattr__(self, name: str, value: object) -> None:
        raise AttributeError(f"{type(self).__name__}.{name} is read-only")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"{type(self).__name__}.{name} is read-only")

    def _set(self, **values: object) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)


class MemoryStore(_Fixed):
    """One store as embedders and handlers use it: ``engine.memory.project.append(...)``, ``.query(...)``."""

    __slots__ = ("backend", "name", "project_id")
    name: StoreName
    backend: MemoryBackend
    project_id: str

    def __init__(self, name: StoreName, backend: MemoryBackend, project_id: str) -> None:
        self._set(name=name, backend=backend, project_id=project_id)

    def append(
        self, payload: Any, *, tags: Sequence[str] = (), metadata: Any = None, task_id: str | None = None,
        item_id: str | None = None,
    ) -> MemoryItem:
        """Store ``payload`` (JSON) with ``tags``; returns the item once the backend has acknowledged it."""
        return self.append_json(dumps(payload), tags=tags, metadata=metadata, task_id=task_id, item_id=item_id)

    def append_json(
        self, payload_json: str, *, tags: Sequence[str] = (), metadata: Any = None, task_id: str | None = None,
        item_id: str | None = None, created_at: float | None = None,
    ) -> MemoryItem:
        """Store a payload that is already JSON text (the engine's stage outputs); ``created_at`` defaults to now."""
        item = _new_tuple(MemoryItem, (  # every field, in order: the engine writes one per stage
            item_id or f"{self.name}-{uuid.uuid4().hex}", self.name, self.project_id, payload_json,
            write_time() if created_at is None else created_at, task_id, tuple(tags),
            "{}" if metadata is None else dumps(metadata),
        ))
        self.backend.append(item)
        return item

    def query(
        self, *, task_id: str | None = None, tags: Sequence[str] = (), limit: int | None = None
    ) -> list[MemoryItem]:
        """Items oldest first, filtered by task and tags; ``limit`` keeps the newest."""
        return self.backend.query(task_id=task_id, tags=tags, limit=limit)


class Artifacts(_Fixed):
    """The project's artifacts (node outputs, tool results...): ``engine.artifacts.query(kind=..., node_id=...)``."""

    __slots__ = ("_backend", "_project_id")
    _backend: MemoryBackend
    _project_id: str

    def __init__(self, backend: MemoryBackend, project_id: str) -> None:
        self._set(_backend=backend, _project_id=project_id)

    def put(
        self, kind: str, task_id: str, payload_json: str, *, node_id: str | None = None, schema: str | None = None,
        artifact_id: str | None = None, metadata: Any = None, created_at: float | None = None,
    ) -> Artifact:
        """Store an artifact whose payload is already JSON text; ``created_at`` defaults to now."""
        if kind not in ARTIFACT_KINDS:
            raise ValueError(f"unknown artifact kind {kind!r}; use one of {', '.join(ARTIFACT_KINDS)}")
        artifact = _new_tuple(Artifact, (  # every field, in order
            artifact_id or f"artifact-{uuid.uuid4().hex}", kind, self._project_id, task_id, payload_json,
            write_time() if created_at is None else created_at, node_id, schema,
            "{}" if metadata is None else dumps(metadata),
        ))
        self._backend.put_artifact(artifact)
        return artifact

    def query(
        self, *, kind: str | None = None, task_id: str | None = None, node_id: str | None = None,
        schema: str | None = None, limit: int | None = None,
    ) -> list[Artifact]:
        """Artifacts matching every given field, oldest first; ``limit`` keeps the newest."""
        return self._backend.artifacts(kind=kind, task_id=task_id, node_id=node_id, schema=schema, limit=limit)


class _NotOpen:
    """The backend of every store of a memory not opened yet: loading opens no backend before the project is valid."""

    def _refuse(self) -> RuntimeError:
        return RuntimeError("memory is opened only once the whole project has validated")

    def append(self, item: MemoryItem) -> None:
        raise self._refuse()

    def query(
        self, *, task_id: str | None = None, tags: Sequence[str] = (), limit: int | None = None
    ) -> list[MemoryItem]:
        raise self._refuse()

    def put_artifact(self, artifact: Artifact) -> None:
        raise self._refuse()

    def artifacts(
        self, *, kind: str | None = None, task_id: str | None = None, node_id: str | None = None,
        schema: str | None = None, limit: int | None = None,
    ) -> list[Artifact]:
        raise self._refuse()

    def close(self) -> None:
        """Nothing was opened."""


class Memory(_Fixed):
    """An engine's three stores (``task``, ``project``, ``global_``) and its ``artifacts``."""

    __slots__ = ("artifacts", "global_", "project", "project_id", "task")
    project_id: str
    task: MemoryStore
    project: MemoryStore
    global_: MemoryStore
    artifacts: Artifacts

    def __init__(self, backends: Mapping[StoreName, MemoryBackend], project_id: str) -> None:
        self._set(project_id=project_id, task=MemoryStore("task", backends["task"], project_id),
                  project=MemoryStore("project", backends["project"], project_id),
                  global_=MemoryStore("global", backends["global"], project_id),
                  artifacts=Artifacts(backends["project"], project_id))

    @classmethod
    def unopened(cls, project_id: str) -> Memory:
        """A memory whose stores get their backends later, from ``open``.

        What is built while a project is validated (tools, context assemblers) holds its stores, and no backend
        is opened unless the whole project is valid.
        """
        not_open = _NotOpen()
        return cls(dict.fromkeys(STORES, not_open), project_id)

    def open(self, backends: Mapping[StoreName, MemoryBackend]) -> None:
        """Give every store of a memory made by ``unopened`` its backend."""
        for store in (self.task, self.project, self.global_):
            store._set(backend=backends[store.name])
        self.artifacts._set(_backend=backends["project"])

    def store(self, name: StoreName) -> MemoryStore:
        """The store called ``name`` (``task``, ``project`` or ``global``)."""
        return {"task": self.task, "project": self.project, "global": self.global_}[name]

    def close(self) -> None:
        """Close every backend once."""
        for backend in {id(s.backend): s.backend for s in (self.task, self.project, self.global_)}.values():
            backend.close()
