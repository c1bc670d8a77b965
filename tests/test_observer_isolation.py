"""Observers only watch: frozen snapshots, isolated failures, background delivery that never blocks."""

from __future__ import annotations

import threading
import time

import pytest
from _workflows import branch_merge
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, hookimpl
from agent_engine_core.events import EVENT_TYPES
from agent_engine_core.testing import EventRecorder, assert_same_trace

BRANCH_MERGE = branch_merge("double")
FAILURES_ALLOWED = 3
"""docs/EVENTS.md: after 3 failures in one run the plugin receives nothing more in that run."""
HANDLERS = {"double": lambda payload, ctx: {"items": payload["items"] * 2}}


class Mutator:
    """Tries to change every snapshot it receives, in every way it can reach."""

    def __init__(self):
        self.blocked = 0

    @hookimpl
    def on_event(self, event):
        for name in event._fields:
            try:
                setattr(event, name, None)
            except AttributeError:
                self.blocked += 1
        data = event.to_dict()
        data.clear()
        if hasattr(event, "output_json"):
            value = event.output
            if isinstance(value, dict):
                value.clear()


class Raiser:
    @hookimpl
    def on_event(self, event):
        raise RuntimeError(f"observer bug on {event.type}")


class Sleeper:
    def __init__(self):
        self.delivered = 0
        self.thread_names = set()

    @hookimpl
    def on_event(self, event):
        time.sleep(0.05)
        self.delivered += 1
        self.thread_names.add(threading.current_thread().name)


def run(plugins=(), manifests=BRANCH_MERGE):
    engine = Engine.from_dict(manifests, handlers=HANDLERS, plugins=plugins)
    try:
        return engine.run({"items": [1]}, run_id="iso")
    finally:
        engine.close()


def test_adversarial_observers_change_nothing_and_are_reported():
    baseline = run()
    mutator, sleeper, recorder = Mutator(), Sleeper(), EventRecorder()
    manifests = {**BRANCH_MERGE, "plugins": {"plugins": [{"id": "Sleeper", "dispatch": "background",
                                                           "queue_size": 4}]}}
    watched = run([mutator, Raiser(), sleeper, recorder], manifests)
    assert watched.status == baseline.status
    assert watched.output == baseline.output
    assert_same_trace(baseline, watched)
    assert watched.trace.digest == baseline.trace.digest
    assert mutator.blocked > 0
    report = watched.metadata["observers"]
    assert report["Raiser"]["failures"] == FAILURES_ALLOWED
    assert report["Raiser"]["disabled"] is True
    assert report["Sleeper"]["overflow"] > 0  # 50 ms per event into a queue of 4: overflow, counted
    assert sleeper.thread_names <= {"agent-engine-observer-Sleeper"}
    # the recorder saw every event although observers before it raised and mutated
    alone = EventRecorder()
    run([alone])
    assert [e.type for e in recorder.events] == [e.type for e in alone.events]
    assert {e.type for e in recorder.events} >= {"task_started", "node_finished", "merge_fired", "task_finished"}


class Blocked(Sleeper):
    """An observer stuck on its first event until released: a run that waited for it could not finish."""

    def __init__(self):
        super().__init__()
        self.released = threading.Event()

    @hookimpl
    def on_event(self, event):
        assert self.released.wait(10)
        self.delivered += 1


def test_a_slow_background_observer_does_not_slow_the_run():
    blocked, recorder = Blocked(), EventRecorder()
    manifests = {**BRANCH_MERGE, "plugins": {"plugins": [{"id": "Blocked", "dispatch": "background"}]}}
    engine = Engine.from_dict(manifests, handlers=HANDLERS, plugins=[blocked, recorder])
    result = engine.run({"items": [1]})
    assert result.status == "success"
    assert blocked.delivered == 0  # the run finished while the observer was still stuck on its first event
    blocked.released.set()
    engine.close()  # drains the queue
    assert blocked.delivered == len(recorder.events) > 10  # every event was delivered, off the execution path


def test_every_observer_sees_the_same_events_whatever_the_others_do():
    first, second = EventRecorder(), EventRecorder()
    run([first, Mutator(), Raiser(), second])
    assert [e.to_dict() for e in first.events] == [e.to_dict() for e in second.events]
    assert all(a is b for a, b in zip(first.events, second.events, strict=True))  # one frozen object, shared


def test_events_carry_per_task_monotonic_sequence_numbers_and_unique_ids():
    recorder = EventRecorder()
    run([recorder])
    by_task: dict[str, list[int]] = {}
    for event in recorder.events:
        by_task.setdefault(event.task_id, []).append(event.seq)
    for seqs in by_task.values():
        assert seqs == list(range(1, len(seqs) + 1))
    ids = [e.event_id for e in recorder.events]
    assert len(ids) == len(set(ids))
    assert set(by_task) == {"iso", "iso/fan#0", "iso/fan#1"}
    assert {e.type for e in recorder.events} <= set(EVENT_TYPES)


def test_node_events_carry_what_the_trace_records():
    recorder = EventRecorder()
    result = run([recorder])
    finished = [e for e in recorder.events if e.type in ("node_finished", "node_failed")]
    rebuilt = sorted((e.task_id, e.stage, e.node_id, e.status, e.input_json, e.output_json, e.route)
                     for e in finished)
    recorded = sorted((r.task_id, r.seq, r.node_id, str(r.status), r.input_json, r.output_json, r.route)
                      for r in result.trace)
    assert rebuilt == recorded
    started = sorted((e.task_id, e.stage, e.node_id, e.input_json) for e in recorder.of_type("node_started"))
    assert started == sorted((r.task_id, r.seq, r.node_id, r.input_json) for r in result.trace)
    for event in recorder.events:  # built positionally on the hot path: every field where its class says
        assert len(event) == len(type(event)._fields)
        assert isinstance(event.seq, int) and isinstance(event.timestamp, float) and isinstance(event.run_id, str)
    merge = recorder.of_type("merge_fired")[0]
    assert merge.inputs == ("iso/fan#0", "iso/fan#1")
    assert [e.child_id for e in recorder.of_type("clone_created")] == ["iso/fan#0", "iso/fan#1"]


def test_a_failing_observer_is_switched_off_for_the_rest_of_the_run_only():
    class Counting:
        calls = 0

        @hookimpl
        def on_event(self, event):
            Counting.calls += 1
            raise ValueError("always")

    engine = Engine.from_dict(BRANCH_MERGE, handlers=HANDLERS, plugins=[Counting()])
    engine.run({"items": [1]})
    assert Counting.calls == FAILURES_ALLOWED
    engine.run({"items": [1]})
    assert Counting.calls == 2 * FAILURES_ALLOWED  # a new run gives it a new chance


def test_no_observers_means_no_events_built(monkeypatch):
    built = []
    from agent_engine_core._run import router as _router

    original = _router._emit
    monkeypatch.setattr(_router, "_emit", lambda *a, **k: built.append(a) or original(*a, **k))
    run()
    assert built == []


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=3), inner, max_size=3),
    max_leaves=10,
)


@settings(max_examples=40, deadline=None)
@given(payload=json_values)
def test_snapshots_cannot_be_changed_through_anything_they_return(payload):
    recorder = EventRecorder()
    engine = Engine.from_dict(
        {"workflow": {"version": "1.0", "nodes": [{"id": "s", "role": "start"}, {"id": "e", "role": "exit"}],
                      "edges": [{"from": "s", "to": "e"}]}},
        plugins=[recorder],
    )
    engine.run(payload)
    for event in recorder.events:
        before = event.to_dict()
        snapshot = event.to_dict()
        for value in snapshot.values():
            if isinstance(value, dict | list):
                value.clear()
        if hasattr(event, "input_json"):
            decoded = event.input
            if isinstance(decoded, dict | list):
                decoded.clear()
        assert event.to_dict() == before
        with pytest.raises(AttributeError):
            event.task_id = "changed"  # type: ignore[misc]
