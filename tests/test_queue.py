"""The task queue: enqueue / run_queued / queue_status, FIFO, bounded, isolated, concurrent (SPEC §6, issue 14)."""

from __future__ import annotations

import threading

import pytest
from _workflows import branch_merge, node
from _workflows import engine as workflow_engine
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine, InvalidInput, QueueFullError
from agent_engine_core.testing import EventRecorder


def inc_engine(**scheduler) -> tuple[Engine, EventRecorder]:
    recorder = EventRecorder()
    manifests = {**branch_merge("inc"), "scheduler": {"scheduler": scheduler}}
    engine = Engine.from_dict(manifests, plugins=[recorder],
                              handlers={"inc": lambda p, ctx: p + 1 if p >= 0 else ctx.fail("negative")})
    return engine, recorder


def test_tasks_run_in_the_order_they_were_queued_and_results_come_back_in_that_order():
    engine, recorder = inc_engine()
    ids = [engine.enqueue(value, run_id=f"t{value}") for value in (3, 1, 2)]
    assert ids == ["t3", "t1", "t2"]
    results = engine.run_queued()
    assert [r.task_id for r in results] == ids
    assert [r.output["merge_inputs"][0]["output"] for r in results] == [4, 2, 3]
    started = [e.run_id for e in recorder.events if e.type == "task_started" and e.task_id == e.run_id]
    assert started == ids


def test_a_full_queue_refuses_the_next_task_and_loses_nothing_queued():
    engine, recorder = inc_engine(max_queue_size=2)
    engine.enqueue(1, run_id="a")
    engine.enqueue(2, run_id="b")
    with pytest.raises(QueueFullError, match="holds 2 tasks") as caught:
        engine.enqueue(3, run_id="c")
    assert caught.value.limit == 2
    full = [e for e in recorder.events if e.type == "queue_full"]
    assert [(e.run_id, e.limit, e.seq) for e in full] == [("c", 2, 0)]
    assert [r.task_id for r in engine.run_queued()] == ["a", "b"]
    assert engine.queue_status().counts["queued"] == 0


def test_queue_events_come_before_the_task_and_say_where_it_stood():
    engine, recorder = inc_engine()
    for value in range(3):
        engine.enqueue(value, run_id=f"t{value}")
    queued = [(e.run_id, e.position, e.seq, e.input) for e in recorder.events if e.type == "task_queued"]
    assert queued == [("t0", 1, 0, 0), ("t1", 2, 0, 1), ("t2", 3, 0, 2)]
    engine.run_queued()
    kinds = [(e.type, e.run_id) for e in recorder.events if e.task_id == "t1" and e.type in (
        "task_queued", "task_dequeued", "task_started", "task_finished")]
    assert kinds == [("task_queued", "t1"), ("task_dequeued", "t1"), ("task_started", "t1"), ("task_finished", "t1")]
    dequeued = next(e for e in recorder.events if e.type == "task_dequeued" and e.run_id == "t1")
    assert dequeued.waited_s >= 0


def test_queue_status_follows_each_task_from_queued_to_running_to_its_end():
    seen = []
    engine = None

    def look(payload, ctx):
        seen.append(dict(engine.queue_status().tasks))
        return payload if payload >= 0 else ctx.fail("negative")

    engine = workflow_engine([node("s", "start"), node("w", "linear", look), node("x", "exit")],
                             [("s", "w"), ("w", "x")])
    engine.enqueue(1, run_id="ok")
    engine.enqueue(-1, run_id="bad")
    assert engine.queue_status().counts["queued"] == 2
    engine.run_queued()
    assert seen == [{"ok": "running", "bad": "queued"}, {"ok": "success", "bad": "running"}]
    status = engine.queue_status()
    assert dict(status.tasks) == {"ok": "success", "bad": "failure"}
    assert status.counts["success"] == 1 and status.counts["failure"] == 1 and status.counts["queued"] == 0
    engine.enqueue(2, run_id="next")
    engine.run_queued()
    assert dict(engine.queue_status().tasks) == {"next": "success"}  # one batch of finished states is kept


def test_tasks_share_no_history_and_no_task_memory():
    def remember(payload, ctx):
        return {"mine": payload, "task_memory": [item["payload"] for item in ctx.context]}

    engine = workflow_engine(
        [node("s", "start"), node("r", "linear", remember, context="own"), node("x", "exit")],
        [("s", "r"), ("r", "x")],
        memory={"context_profiles": [{"id": "own", "sources": [{"store": "task"}]}]})
    for value in ("a", "b"):
        engine.enqueue(value, run_id=value)
    first, second = engine.run_queued()
    assert first.output == {"mine": "a", "task_memory": ["a"]}
    assert second.output == {"mine": "b", "task_memory": ["b"]}  # its own start stage, nothing of task a
    assert {r.task_id for r in second.trace.records} == {"b"}
    assert {a.task_id for a in engine.artifacts.query(task_id="b")} == {"b"}


def test_max_concurrency_runs_sync_handlers_of_different_tasks_at_once():
    lock, in_flight, most = threading.Lock(), [0], [0]
    four_in = threading.Event()

    def work(payload, ctx):
        with lock:
            in_flight[0] += 1
            most[0] = max(most[0], in_flight[0])
            if in_flight[0] == 4:
                four_in.set()
        four_in.wait(timeout=10)  # a blocking handler: only tasks running at once can all get past it
        with lock:
            in_flight[0] -= 1
        return payload

    engine = workflow_engine([node("s", "start"), node("w", "linear", work), node("x", "exit")],
                             [("s", "w"), ("w", "x")], scheduler={"scheduler": {"max_concurrency": 4}})
    for value in range(8):
        engine.enqueue(value)
    results = engine.run_queued()
    assert [r.output for r in results] == list(range(8))
    assert most[0] == 4


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(values=st.lists(st.integers(-3, 50), min_size=1, max_size=12))
def test_each_task_has_the_same_digest_at_any_concurrency(values):
    digests = []
    for lanes in (1, 4, 16):
        engine, _ = inc_engine(max_concurrency=lanes, max_queue_size=None)
        for index, value in enumerate(values):
            engine.enqueue(value, run_id=f"q{index}")
        digests.append([r.trace.digest for r in engine.run_queued()])
        engine.close()
    assert digests[0] == digests[1] == digests[2]
    assert len(digests[0]) == len(values)


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"start": "nope"}, "'nope' is not a start node; start nodes: s"),
    ({"run_id": "dup"}, "run id 'dup' is already queued"),
])
def test_what_cannot_be_queued_is_refused_and_leaves_the_queue_as_it_was(kwargs, message):
    engine, _ = inc_engine()
    engine.enqueue(1, run_id="dup")
    with pytest.raises(InvalidInput, match=message):
        engine.enqueue(2, **kwargs)
    with pytest.raises(InvalidInput, match="the input is not JSON"):
        engine.enqueue({1, 2})
    assert dict(engine.queue_status().tasks) == {"dup": "queued"}


def test_a_switched_off_scheduler_queues_nothing():
    engine, _ = inc_engine(enabled=False)
    with pytest.raises(InvalidInput, match="enabled: false"):
        engine.enqueue(1)


def test_queued_runs_are_kept_in_the_run_store():
    engine, _ = inc_engine()
    engine.enqueue(5, run_id="kept")
    engine.run_queued()
    assert engine.inspector.run("kept").result["status"] == "success"
