"""An engine keeps nothing per run: records, tasks and events live only as long as the caller's result."""

from __future__ import annotations

import gc

from _workflows import branch_merge

from agent_engine_core import Engine, hookimpl
from agent_engine_core._run.stage import TaskState
from agent_engine_core.events import Event
from agent_engine_core.records import StageRecord, TaskResult
from agent_engine_core.runs import InMemoryRunStore
from agent_engine_core.testing import EventRecorder

MANIFESTS = branch_merge("inc")


def live(kind: type) -> int:
    gc.collect()
    return sum(1 for obj in gc.get_objects() if isinstance(obj, kind))


def test_runs_leave_no_records_tasks_or_results_behind():
    engine = Engine.from_dict(MANIFESTS, handlers={"inc": lambda payload, ctx: payload + 1}, runs=False)
    engine.run(0)
    before = {kind: live(kind) for kind in (StageRecord, TaskState, TaskResult)}
    for index in range(200):
        assert engine.run(index).status == "success"
    assert {kind: live(kind) for kind in (StageRecord, TaskState, TaskResult)} == before


def test_the_in_memory_run_store_keeps_the_last_runs_and_no_more():
    engine = Engine.from_dict(MANIFESTS, handlers={"inc": lambda payload, ctx: payload + 1})
    engine.run(0)
    before = {kind: live(kind) for kind in (StageRecord, TaskState, TaskResult, Event)}
    for index in range(300):
        assert engine.run(index).status == "success"
    after = {kind: live(kind) for kind in (StageRecord, TaskState, TaskResult, Event)}
    bound = InMemoryRunStore.DEFAULT_MAX_RUNS
    assert after[TaskResult] == before[TaskResult] + bound - 1
    assert after[TaskState] == before[TaskState]
    assert after[StageRecord] == before[StageRecord] * bound
    assert after[Event] == before[Event] == 0  # the default store keeps no events: none are built
    assert len(engine.inspector.runs()) == bound


def test_observed_runs_leave_no_events_behind_in_the_engine():
    class Counter:
        def __init__(self):
            self.count = 0

        @hookimpl
        def on_event(self, event):
            self.count += 1

    counter = Counter()
    engine = Engine.from_dict(MANIFESTS, handlers={"inc": lambda payload, ctx: payload + 1}, plugins=[counter],
                              runs=False)
    engine.run(0)
    before = live(Event)
    for index in range(100):
        engine.run(index)
    assert counter.count > 100 * 10
    assert live(Event) == before  # the engine delivered every event and kept none


def test_a_recorder_keeps_what_it_was_given_and_no_more():
    recorder = EventRecorder()
    engine = Engine.from_dict(MANIFESTS, handlers={"inc": lambda payload, ctx: payload + 1}, plugins=[recorder])
    engine.run(0)
    per_run = len(recorder.events)
    engine.run(1)
    assert len(recorder.events) == 2 * per_run
    assert live(Event) >= 2 * per_run
