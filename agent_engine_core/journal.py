"""The run journal contract: what a durable run appends while it runs, so that another process can resume it.

With memory.yaml's ``runs: {durability: stage}`` the engine opens the journal registered under the run store's
name (``register_run_journals``; the sqlite and postgres distributions provide theirs, the core the in-process
``memory`` one) and, before a task moves on from a stage, appends that stage's record (which holds its route)
to the journal in one transaction. ``agent_engine_core.testing.check_run_journal`` pins the semantics down:

- ``begin(run_id, header_json)`` starts (or starts again) a run's journal: its header (what was run and the
  hashes of what ran it) and status ``running``; whatever was journaled under that run id before is dropped;
- ``append(run_id, entries)`` appends entries ``(kind, json_text)`` in one transaction, durable on return;
- ``set_status(run_id, status, detail_json)`` records ``waiting`` (detail: the pending approvals) or
  ``running`` again;
- ``finish(run_id)`` drops the journal once the finished run is in the run store;
- ``read(run_id)`` returns the ``JournalRun``: header, status, detail and entries in append order, or ``None``;
- ``runs(status=)`` lists ``JournalSummary`` rows (run id, status, detail, last change), oldest first.

A journal is written from the run's own thread (it is on the run's path by design: a stage is durable before the
next one starts) and read from any thread or process. Entries are opaque text to a journal.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol, runtime_checkable

from agent_engine_core.runs import RunStoreSetup

__all__ = [
    "JOURNAL_FORMAT",
    "InMemoryRunJournal",
    "JournalEntry",
    "JournalRun",
    "JournalSummary",
    "RunJournal",
    "RunJournalFactory",
]

JOURNAL_FORMAT = 1
"""The layout of a journal's header and entries; a resume refuses a journal of a format it does not know."""

JournalEntry = tuple[str, str]
"""``(kind, json_text)``: ``"stage"`` (a stage record) or ``"approval"`` (a recorded decision)."""


@dataclass(frozen=True, slots=True)
class JournalSummary:
    """One journaled run as ``runs`` lists it."""

    run_id: str
    status: str
    """``running`` (in flight, or its process died) or ``waiting`` (for approvals)."""
    detail_json: str
    """The pending approvals of a waiting run (a JSON list), ``"[]"`` otherwise."""
    updated_at: float


@dataclass(frozen=True, slots=True)
class JournalRun:
    """Everything journaled for one run."""

    summary: JournalSummary
    header_json: str
    entries: tuple[JournalEntry, ...]


@runtime_checkable
class RunJournal(Protocol):
    """Where durable runs append their stages (see the module docstring for the semantics)."""

    def begin(self, run_id: str, header_json: str) -> None:
        """Start the run's journal (status ``running``), dropping anything journaled under ``run_id`` before."""

    def append(self, run_id: str, entries: Sequence[JournalEntry]) -> None:
        """Append ``entries`` in one transaction, durable on return."""

    def set_status(self, run_id: str, status: str, detail_json: str = "[]") -> None:
        """Record the run's status (``running`` or ``waiting``) and its detail."""

    def finish(self, run_id: str) -> None:
        """Drop the run's journal (the finished run is kept by the run store)."""

    def read(self, run_id: str) -> JournalRun | None:
        """The run's journal, or ``None``."""

    def runs(self, *, status: str | None = None) -> list[JournalSummary]:
        """Journaled runs, oldest change first."""

    def close(self) -> None:
        """Release files and connections."""


RunJournalFactory = Callable[[RunStoreSetup], RunJournal]


@dataclass(slots=True)
class _Kept:
    header_json: str
    status: str = "running"
    detail_json: str = "[]"
    updated_at: float = field(default_factory=time.time)
    entries: list[JournalEntry] = field(default_factory=list)


class InMemoryRunJournal:
    """The built-in ``memory`` journal: durable runs of this process only (approvals within one process, tests).

    A crash loses it, like the ``memory`` run store; resuming after a crash needs a persistent journal.
    """

    def __init__(self, setup: RunStoreSetup) -> None:
        if setup.config:
            raise ValueError(f"the memory run journal takes no config (got {', '.join(map(str, setup.config))})")
        self._runs: dict[str, _Kept] = {}
        self._lock = threading.Lock()

    def begin(self, run_id: str, header_json: str) -> None:
        """Start the run's journal."""
        with self._lock:
            self._runs.pop(run_id, None)
            self._runs[run_id] = _Kept(header_json)

    def append(self, run_id: str, entries: Sequence[JournalEntry]) -> None:
        """Append entries to a begun journal (``KeyError`` for one never begun)."""
        with self._lock:
            kept = self._runs[run_id]
            kept.entries.extend(entries)
            kept.updated_at = time.time()

    def set_status(self, run_id: str, status: str, detail_json: str = "[]") -> None:
        """Record the run's status."""
        with self._lock:
            kept = self._runs[run_id]
            kept.status, kept.detail_json, kept.updated_at = status, detail_json, time.time()

    def finish(self, run_id: str) -> None:
        """Drop the run's journal."""
        with self._lock:
            self._runs.pop(run_id, None)

    def read(self, run_id: str) -> JournalRun | None:
        """The run's journal, or ``None``."""
        with self._lock:
            kept = self._runs.get(run_id)
            if kept is None:
                return None
            return JournalRun(JournalSummary(run_id, kept.status, kept.detail_json, kept.updated_at),
                              kept.header_json, tuple(kept.entries))

    def runs(self, *, status: str | None = None) -> list[JournalSummary]:
        """Journaled runs, oldest change first."""
        with self._lock:
            found = [JournalSummary(run_id, k.status, k.detail_json, k.updated_at) for run_id, k in self._runs.items()
                     if status is None or k.status == status]
        return sorted(found, key=lambda s: (s.updated_at, s.run_id))

    def close(self) -> None:
        """Nothing to release."""
