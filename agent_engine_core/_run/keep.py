"""Keep every finished run in the run store, with as little of the store's cost on the run's path as it can.

The in-process store is handed each run as it finishes: a run object holding the result, composed into a
document only if someone reads it. A persistent store is written by one writer thread per engine: ``keep``
composes the run's document, queues it and returns; the writer takes every queued run and writes them with
one ``write`` call (one transaction: each run is complete or absent after a crash). ``flush`` waits until
everything queued is written; the engine flushes before it closes, before its inspector reads, and at
interpreter exit. A queue that fills up makes ``keep`` wait (a run is never dropped to keep up); a write that
fails is logged and raised by the next ``flush``, with the runs it lost counted.
"""

from __future__ import annotations

import atexit
import queue
import threading
import weakref
from collections.abc import Mapping, Sequence
from typing import Any

from agent_engine_core._build.runs import KeptRuns
from agent_engine_core._logging import get_logger
from agent_engine_core.codec import compose, embed, plain
from agent_engine_core.errors import PluginError
from agent_engine_core.events import Event
from agent_engine_core.memory import Artifact
from agent_engine_core.records import TaskResult
from agent_engine_core.runs import RUN_FORMAT, RunSummary, StoredRun

__all__ = ["QUEUE_SIZE", "Origin", "RunKeeper", "stored_run"]

log = get_logger(__name__)

QUEUE_SIZE = 1024
"""Runs waiting for the writer before ``keep`` waits for it (a bound on memory, never a reason to drop one)."""
BATCH = 256
"""Most runs written in one transaction (a long transaction would hold the store's write lock for long)."""
LINGER_S = 0.02
"""How long the writer waits after a first run for others to join its transaction. Waking up for every run
costs the runs more in GIL hand-overs than the writing itself. A ``flush`` cuts the wait short: whoever waits
for the runs to be written should not also wait for company to join them."""

Origin = Mapping[str, Any]
"""Where a run came from: ``{"run_id": original, "from_node": node, "input_changed": bool}`` for a replay."""


def stored_run(
    result: TaskResult, started_at: float, duration_s: float, artifacts: Sequence[Artifact] = (),
    events: Sequence[Event] | None = None, origin: Origin | None = None,
) -> StoredRun:
    """The run a store keeps for ``result``, its summary and document made when first read.

    Neither closure refers to the run it makes: a run that is never read (most runs of the in-process store)
    is then freed by its reference count alone, not left for the cycle collector with its whole trace.
    """
    made: list[RunSummary] = []

    def summary() -> RunSummary:
        if made:
            return made[0]
        usage = result.usage
        made.append(RunSummary(
            run_id=result.task_id, status=str(result.status), started_at=started_at, duration_s=duration_s,
            nodes=len(result.trace.records), tokens=usage.get("input_tokens", 0) + usage.get("output_tokens", 0),
            origin=None if origin is None else str(origin["run_id"]),
        ))
        return made[0]

    def document() -> str:
        return compose({
            "format": RUN_FORMAT, "summary": summary().to_dict(), "result": result.stored(_metadata_json(
                result.metadata)), "trace": result.trace.stored(), "artifacts": [_artifact(a) for a in artifacts],
            "events": None if events is None else [event.to_dict() for event in events],
            "origin": None if origin is None else dict(origin),
        })

    return StoredRun.deferred(result.task_id, summary, document)


_last_metadata: tuple[Mapping[str, Any], str] | None = None


def _metadata_json(metadata: Mapping[str, Any]) -> str:
    """The JSON text of a result's metadata, remembered for the next run of the same engine (the same object)."""
    global _last_metadata  # noqa: PLW0603 - a one-entry cache: runs of one engine share their metadata object
    last = _last_metadata
    if last is not None and last[0] is metadata:
        return last[1]
    text = compose(plain(metadata))
    _last_metadata = (metadata, text)
    return text


def _artifact(artifact: Artifact) -> dict[str, Any]:
    return {"id": artifact.id, "kind": artifact.kind, "task_id": artifact.task_id, "node_id": artifact.node_id,
            "schema": artifact.schema, "created_at": artifact.created_at, "payload": embed(artifact.payload_json),
            "metadata": embed(artifact.metadata_json)}


_LIVE: weakref.WeakSet[RunKeeper] = weakref.WeakSet()


@atexit.register
def _flush_at_exit() -> None:
    """An embedder that never closed its engine still gets its runs written at a normal exit."""
    for keeper in list(_LIVE):
        try:
            keeper.close()
        except Exception as exc:  # at exit there is no caller left to raise to
            log.error("run_store_lost_runs_at_exit", error=str(exc))


class RunKeeper:
    """Feeds one engine's run store (see the module docstring)."""

    def __init__(self, runs: KeptRuns) -> None:
        self.runs = runs
        self._queue: queue.Queue[StoredRun | None] | None = None
        self._writer: threading.Thread | None = None
        self._failures: list[str] = []
        self._lost = 0
        self._lock = threading.Lock()
        self._closed = False
        self._flushing = 0
        self._hurry = threading.Event()  # set while a flush waits: the writer does not linger then
        self._journaled: set[str] = set()  # durable runs queued: their journals go once they are written
        if runs.background:
            self._queue = queue.Queue(QUEUE_SIZE)
            _LIVE.add(self)

    def keep(self, run: StoredRun, *, journaled: bool = False) -> None:
        """Hand ``run`` to the store (queued for the writer when the store is persistent).

        ``journaled``: a durable run, whose journal is dropped once the run is written (not before: a crash in
        between leaves a journal whose resume takes every stage from it and writes the run).
        """
        if journaled:
            with self._lock:
                self._journaled.add(run.run_id)
        if self._queue is None:
            self.runs.store.write((run,))
            self._finish_journals((run,))
            return
        if self._writer is None:
            with self._lock:
                if self._writer is None:
                    self._writer = threading.Thread(target=self._write_queued, name="agent-engine-run-store",
                                                    daemon=True)
                    self._writer.start()
        _ = run.document_json  # composed here, where the run's own thread has the GIL anyway: not in a hand-over
        self._queue.put(run)

    def flush(self) -> None:
        """Wait until every run kept so far is written; raise ``PluginError`` if the store lost some."""
        if self._queue is not None and self._writer is not None:
            with self._lock:
                self._flushing += 1
                self._hurry.set()
            try:
                self._queue.join()
            finally:
                with self._lock:
                    self._flushing -= 1
                    if not self._flushing:
                        self._hurry.clear()
        with self._lock:
            failures, lost = self._failures, self._lost
            self._failures, self._lost = [], 0
        if failures:
            raise PluginError(f"the run store '{self.runs.backend}' failed to write {lost} run(s): "
                              + "; ".join(dict.fromkeys(failures)))

    def close(self) -> None:
        """Write what is queued, stop the writer and close the store (once)."""
        with self._lock:
            if self._closed:
                return
            self._closed = True
        try:
            self.flush()
        finally:
            if self._queue is not None and self._writer is not None:
                self._queue.put(None)
                self._writer.join()
            _LIVE.discard(self)
            self.runs.store.close()

    def _finish_journals(self, runs: Sequence[StoredRun]) -> None:
        """Drop the journals of the durable runs among ``runs``, which are written."""
        journal = self.runs.journal
        if journal is None or not self._journaled:
            return
        with self._lock:
            done = [run.run_id for run in runs if run.run_id in self._journaled]
            self._journaled.difference_update(done)
        for run_id in done:
            journal.finish(run_id)

    def _write_queued(self) -> None:
        assert self._queue is not None
        waiting = self._queue
        while True:
            batch = [waiting.get()]
            if batch[0] is not None and waiting.qsize() < BATCH:
                self._hurry.wait(LINGER_S)  # let runs gather: one transaction for many, the GIL left to the runs
            while len(batch) < BATCH:
                try:
                    batch.append(waiting.get_nowait())
                except queue.Empty:
                    break
            runs = [run for run in batch if run is not None]
            try:
                if runs:
                    self.runs.store.write(runs)
                    self._finish_journals(runs)
            except Exception as exc:  # a full disk or a lost server: logged, counted, raised by the next flush
                log.error("run_store_write_failed", store=self.runs.backend, runs=len(runs),
                          error=f"{type(exc).__name__}: {exc}")
                with self._lock:
                    self._failures.append(f"{type(exc).__name__}: {exc}")
                    self._lost += len(runs)
            finally:
                for _ in batch:
                    waiting.task_done()
            if len(runs) < len(batch):
                return
