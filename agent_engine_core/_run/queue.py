"""The engine's task queue: FIFO, bounded by scheduler.yaml's ``max_queue_size``, with each task's state.

A task is ``queued`` until ``run_queued`` takes it, ``running`` while it runs, then ``success``, ``failure`` or
``partial``. The queue keeps the state of the tasks still queued or running and of those the latest
``run_queued`` finished: a long-lived engine that runs queue after queue holds no more than one batch of states.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType

from agent_engine_core.errors import InvalidInput, QueueFullError

__all__ = ["QUEUE_STATES", "QueueStatus", "Queued", "TaskQueue"]

QUEUE_STATES = ("queued", "running", "success", "failure", "partial", "waiting")
"""``waiting``: a durable run that paused at an approval gate (docs/DURABLE_RUNS.md)."""


@dataclass(frozen=True, slots=True)
class Queued:
    """A task waiting in the queue: its run id, input (JSON text, a snapshot) and start node."""

    run_id: str
    input_json: str
    start: str
    queued_at: float


@dataclass(frozen=True, slots=True)
class QueueStatus:
    """``engine.queue_status()``: how many tasks are in each state, and each task's state in queue order."""

    counts: Mapping[str, int]
    tasks: Mapping[str, str]
    max_queue_size: int | None

    def to_dict(self) -> dict[str, object]:
        """JSON form."""
        return {"counts": dict(self.counts), "tasks": dict(self.tasks), "max_queue_size": self.max_queue_size}


class TaskQueue:
    """FIFO of ``Queued`` tasks and the states of recent ones (thread safe: ``enqueue`` may come from any thread)."""

    def __init__(self, limit: int | None) -> None:
        self.limit = limit
        self._waiting: deque[Queued] = deque()
        self._states: dict[str, str] = {}
        self._lock = threading.Lock()

    def put(self, run_id: str, input_json: str, start: str) -> int:
        """Queue a task; its position (1 = next). ``QueueFullError`` at the limit, ``InvalidInput`` for a taken id."""
        with self._lock:
            if self._states.get(run_id) in ("queued", "running"):
                raise InvalidInput(f"run id '{run_id}' is already {self._states[run_id]}: give each task its own")
            if self.limit is not None and len(self._waiting) >= self.limit:
                raise QueueFullError(f"the task queue is full: it holds {self.limit} tasks (scheduler.yaml "
                                     "max_queue_size); run_queued() drains it", limit=self.limit)
            self._waiting.append(Queued(run_id, input_json, start, time.perf_counter()))
            self._states.pop(run_id, None)  # a finished run id queued again goes to the end of the order
            self._states[run_id] = "queued"
            return len(self._waiting)

    def capacity(self) -> int | None:
        """Free places before the limit (``None``: unbounded)."""
        with self._lock:
            return None if self.limit is None else self.limit - len(self._waiting)

    def begin(self) -> None:
        """A ``run_queued`` starts: forget the states of tasks an earlier one finished."""
        with self._lock:
            self._states = {run_id: state for run_id, state in self._states.items() if state in ("queued", "running")}

    def take(self) -> Queued | None:
        """The next task, now ``running`` (``None`` when the queue is empty)."""
        with self._lock:
            if not self._waiting:
                return None
            task = self._waiting.popleft()
            self._states[task.run_id] = "running"
            return task

    def restore(self, tasks: Sequence[Queued]) -> None:
        """Put tasks taken but not run back at the front, in their order (their executor could not run them)."""
        with self._lock:
            self._waiting.extendleft(reversed(tasks))
            for task in tasks:
                self._states[task.run_id] = "queued"

    def finish(self, run_id: str, status: str) -> None:
        """Record how a task ended."""
        with self._lock:
            self._states[run_id] = status

    def status(self) -> QueueStatus:
        """A snapshot of the states."""
        with self._lock:
            states = dict(self._states)
        counts = dict.fromkeys(QUEUE_STATES, 0)
        for state in states.values():
            counts[state] += 1
        return QueueStatus(MappingProxyType(counts), MappingProxyType(states), self.limit)
