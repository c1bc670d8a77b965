"""The run store contract: every finished run kept whole, so that another process can list, open and replay it.

A run store is registered with ``register(name, factory)`` (``register_run_stores``); memory.yaml's ``runs:``
names one (``runs: {backend: sqlite, retention: {max_items: 10000}}``). ``factory(RunStoreSetup)`` returns a
``RunStore``. Every store keeps the same semantics, which ``agent_engine_core.testing.check_run_store`` pins
down:

- ``write(runs)`` stores every run in one transaction: after a crash at any moment a run is there complete or
  not at all, and the store still opens. It is durable when it returns; retention then deletes the runs written
  longest ago beyond ``max_runs``. A run id names one run: writing it again replaces it (and it counts as
  written now);
- ``runs(status=, since=, limit=)`` lists summaries newest first (``started_at``, then run id, descending);
  ``since`` keeps runs started at or after it; ``limit`` keeps the newest ``limit``;
- ``get(run_id)`` returns the stored run, its document byte for byte as written, or ``None``.

A store holds each run as a ``RunSummary`` (the columns a listing needs) and one JSON document (format
``RUN_FORMAT``): the result, the trace with every stage's input, output, context, agent and tool calls and
timings, the run's artifacts, its events when they were kept, and where it came from (a replay's original).
The document is the store's unit; a backend never needs to read inside it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from agent_engine_core.codec import loads
from agent_engine_core.records import Trace

__all__ = [
    "RUN_FORMAT",
    "InMemoryRunStore",
    "RunStore",
    "RunStoreFactory",
    "RunStoreSetup",
    "RunSummary",
    "StoredRun",
    "run_store_path",
    "select_runs",
]

RUN_FORMAT = 1
"""The layout of a stored run's document; a reader refuses a document of a format it does not know."""


@dataclass(frozen=True, slots=True)
class RunSummary:
    """A stored run's listing columns. ``task_id`` is the root task's id, which is the run id."""

    run_id: str
    status: str
    started_at: float
    duration_s: float
    nodes: int
    """Stage records in the run (all tasks)."""
    tokens: int
    origin: str | None = None
    """The run id this run was replayed from (``None`` for a run of its own)."""

    @property
    def task_id(self) -> str:
        """The root task's id (equal to the run id, by construction)."""
        return self.run_id

    def to_dict(self) -> dict[str, Any]:
        """JSON form (``inspect runs --json``)."""
        return {"run_id": self.run_id, "task_id": self.run_id, "status": self.status, "started_at": self.started_at,
                "duration_s": self.duration_s, "nodes": self.nodes, "tokens": self.tokens, "origin": self.origin}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> RunSummary:
        """The summary ``to_dict`` wrote (``task_id`` is derived, so it is ignored)."""
        return cls(str(data["run_id"]), str(data["status"]), float(data["started_at"]), float(data["duration_s"]),
                   int(data["nodes"]), int(data["tokens"]), data.get("origin"))


class StoredRun:
    """One run as a store keeps it: its summary and its JSON document.

    A store builds one from what it kept (``StoredRun(summary, document_json)``). The engine hands stores
    ``deferred`` runs, whose summary and document are worked out on first read (in the writer thread of a
    persistent store; for the in-process store only if someone looks), so keeping a run costs the run nothing.
    """

    __slots__ = ("_compose", "_document_json", "_summarize", "_summary", "run_id")

    def __init__(self, summary: RunSummary, document_json: str) -> None:
        self.run_id = summary.run_id
        self._summary: RunSummary | None = summary
        self._document_json: str | None = document_json
        self._summarize: Callable[[], RunSummary] | None = None
        self._compose: Callable[[], str] | None = None

    @classmethod
    def deferred(cls, run_id: str, summarize: Callable[[], RunSummary], compose: Callable[[], str]) -> StoredRun:
        """A run whose summary and document are made when first read."""
        run = cls.__new__(cls)
        run.run_id, run._summary, run._document_json = run_id, None, None
        run._summarize, run._compose = summarize, compose
        return run

    @property
    def summary(self) -> RunSummary:
        """The run's listing columns."""
        summary = self._summary
        if summary is None:
            assert self._summarize is not None
            summary = self._summary = self._summarize()
            self._summarize = None
        return summary

    @property
    def document_json(self) -> str:
        """The run's document as JSON text."""
        text = self._document_json
        if text is None:
            assert self._compose is not None
            text = self._document_json = self._compose()
            self._compose = None
        return text

    def document(self) -> dict[str, Any]:
        """A fresh copy of the document; ``ValueError`` when it is of a format this core does not read."""
        data: dict[str, Any] = loads(self.document_json)
        if not isinstance(data, dict) or data.get("format") != RUN_FORMAT:
            found = data.get("format") if isinstance(data, dict) else type(data).__name__
            raise ValueError(f"run {self.run_id!r} is stored in format {found!r}; this engine reads format "
                             f"{RUN_FORMAT}")
        return data

    @property
    def trace(self) -> Trace:
        """The run's trace, with the canonical bytes and digest the run had."""
        return Trace.from_dict(self.document()["trace"])


@dataclass(frozen=True, slots=True)
class RunStoreSetup:
    """What a run store factory builds a store from (``max_runs``: retention, ``None`` for the store's default)."""

    project_id: str
    base_dir: Path | None
    max_runs: int | None
    config: Mapping[str, Any]


@runtime_checkable
class RunStore(Protocol):
    """Where finished runs are kept (see the module docstring for the semantics every store keeps)."""

    def write(self, runs: Sequence[StoredRun]) -> None:
        """Store ``runs`` in one transaction, durable on return; then apply retention."""

    def runs(
        self, *, status: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[RunSummary]:
        """Summaries, newest first."""

    def get(self, run_id: str) -> StoredRun | None:
        """The stored run, or ``None``."""

    def close(self) -> None:
        """Release files and connections; the store is not used afterwards."""


RunStoreFactory = Callable[[RunStoreSetup], RunStore]


def run_store_path(setup: RunStoreSetup, *, backend: str, default: str, kind: str) -> Path:
    """For file-based run stores: the absolute ``config.path`` (relative to the config dir), else ``default`` there.

    ``kind`` names what the path is ("file", "database file").

    Raises:
        ValueError: a config that is not a mapping, an unknown key, a ``path`` that is not text, or no config dir
            and no ``path``.
    """
    config = setup.config
    if not isinstance(config, Mapping):
        raise ValueError(f"the {backend} run store's config must be a mapping, got {config!r}")
    unknown = sorted(map(str, set(config) - {"path"}))
    if unknown:
        raise ValueError(f"unknown config key{'s' if len(unknown) > 1 else ''} {', '.join(map(repr, unknown))} "
                         f"in runs:; the {backend} run store accepts path")
    raw = config.get("path")
    if raw is None:
        if setup.base_dir is None:
            raise ValueError(f"the {backend} run store has no place for its {kind}: the manifests were not loaded "
                             "from a config dir, so set runs: {config: {path: ...}} (an absolute file path)")
        raw = default
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError(f"runs: config.path must be a {kind} path (text), got {raw!r}")
    base = setup.base_dir if setup.base_dir is not None else Path.cwd()
    return (base / Path(raw).expanduser()).absolute()


def select_runs(
    summaries: Sequence[RunSummary], *, status: str | None = None, since: float | None = None,
    limit: int | None = None,
) -> list[RunSummary]:
    """``RunStore.runs`` over summaries in any order: filtered, newest first, at most ``limit``."""
    if limit is not None and limit < 0:
        raise ValueError(f"limit must be 0 or more, not {limit}")
    chosen = [s for s in summaries
              if (status is None or s.status == status) and (since is None or s.started_at >= since)]
    chosen.sort(key=lambda s: (s.started_at, s.run_id), reverse=True)
    return chosen if limit is None else chosen[:limit]


class InMemoryRunStore:
    """The built-in ``memory`` run store: the last ``max_runs`` runs (default 100) of this process.

    What an engine keeps when memory.yaml has no ``runs:``: ``engine.inspector`` can look at recent runs, and a
    long-running engine's memory stays flat. A run's document is composed only if someone reads it.
    """

    DEFAULT_MAX_RUNS = 100

    def __init__(self, setup: RunStoreSetup) -> None:
        if setup.config:
            raise ValueError(f"the memory run store takes no config (got {', '.join(map(str, setup.config))})")
        self._bound = setup.max_runs or self.DEFAULT_MAX_RUNS
        self._runs: OrderedDict[str, StoredRun] = OrderedDict()
        self._lock = threading.Lock()

    def write(self, runs: Sequence[StoredRun]) -> None:
        """Keep the runs; those written longest ago drop out beyond the bound."""
        with self._lock:
            for run in runs:
                self._runs.pop(run.run_id, None)
                self._runs[run.run_id] = run
            while len(self._runs) > self._bound:
                self._runs.popitem(last=False)

    def runs(
        self, *, status: str | None = None, since: float | None = None, limit: int | None = None
    ) -> list[RunSummary]:
        """Summaries, newest first."""
        with self._lock:
            summaries = [run.summary for run in self._runs.values()]
        return select_runs(summaries, status=status, since=since, limit=limit)

    def get(self, run_id: str) -> StoredRun | None:
        """The kept run, or ``None``."""
        with self._lock:
            return self._runs.get(run_id)

    def close(self) -> None:
        """Nothing to release."""
