"""Where sync handlers run: inline while a task is alone; beside siblings, in threads unless measured fast."""

from __future__ import annotations

import threading
import time

from _workflows import split_engine

from agent_engine_core import Engine
from agent_engine_core.testing import EventRecorder


def fan_out(width: int, handler: str = "work", **scheduler: object) -> dict:
    kids = [f"c{i}" for i in range(width)]
    manifests: dict = {
        "workflow": {
            "version": "1.0",
            "nodes": [
                {"id": "s", "role": "start"},
                {"id": "fork", "role": "branch"},
                *({"id": k, "role": "linear", "handler": handler} for k in kids),
                {"id": "join", "role": "merge"},
                {"id": "e", "role": "exit"},
            ],
            "edges": [
                {"from": "s", "to": "fork"},
                *({"from": "fork", "to": k} for k in kids),
                *({"from": k, "to": "join"} for k in kids),
                {"from": "join", "to": "e"},
            ],
        },
    }
    if scheduler:
        manifests["scheduler"] = {"scheduler": scheduler}
    return manifests


class Recorder:
    """A handler that notes which thread ran it, and can be made slow."""

    def __init__(self, delay: float = 0.0) -> None:
        self.delay = delay
        self.threads: list[str] = []
        self.lock = threading.Lock()

    def __call__(self, payload, ctx):
        with self.lock:
            self.threads.append(threading.current_thread().name)
        if self.delay:
            time.sleep(self.delay)
        return payload

    def take(self) -> set[str]:
        with self.lock:
            names, self.threads = set(self.threads), []
        return names


def worker(names: set[str]) -> bool:
    return any(n.startswith("agent-engine") for n in names)


def test_a_fast_handler_runs_in_threads_until_measured_then_inline():
    handler = Recorder()
    engine = Engine.from_dict(fan_out(4), handlers={"work": handler})
    first = engine.run(1, run_id="r")
    assert worker(handler.take())  # never measured: threads, the safe default
    for _ in range(4):  # the fastest call in a worker counts: a few runs shrug off a preempted one
        engine.run(1, run_id="r")
    handler.take()
    second = engine.run(1, run_id="r")
    assert handler.take() == {threading.current_thread().name}  # measured fast: on the loop's thread
    assert first.trace.digest == second.trace.digest


def test_a_slow_handler_keeps_running_in_threads_concurrently():
    handler = Recorder(delay=0.05)
    meet = threading.Barrier(8, timeout=5)  # broken, and the run failed, unless all eight children run at once

    def work(payload, ctx):
        meet.wait()
        return handler(payload, ctx)

    engine = Engine.from_dict(fan_out(8), handlers={"work": work})
    for _ in range(3):
        assert engine.run(1).status == "success"
        assert worker(handler.take())


def test_a_handler_that_turns_slow_goes_back_to_threads():
    handler = Recorder()
    engine = Engine.from_dict(fan_out(4), handlers={"work": handler})
    for _ in range(5):
        engine.run(1)
    handler.take()
    engine.run(1)
    assert not worker(handler.take())
    handler.delay = 0.01  # now slow: this run is inline (the engine cannot know yet) ...
    engine.run(1)
    handler.take()
    handler.delay = 0.0
    engine.run(1)  # ... and the next one is back in threads
    assert worker(handler.take())


def test_inline_fast_handlers_can_be_switched_off():
    handler = Recorder()
    engine = Engine.from_dict(fan_out(4, inline_fast_handlers=False), handlers={"work": handler})
    for _ in range(3):
        engine.run(1)
        assert worker(handler.take())


def test_placement_never_changes_the_trace():
    fast, off = Recorder(), Recorder()
    learning = Engine.from_dict(fan_out(6), handlers={"work": fast})
    threaded = Engine.from_dict(fan_out(6, inline_fast_handlers=False), handlers={"work": off})
    digests = {learning.run({"n": 1}, run_id="r").trace.digest for _ in range(3)}
    assert digests == {threaded.run({"n": 1}, run_id="r").trace.digest}


def test_children_that_never_wait_run_without_tasks_with_the_same_events_and_trace():
    """Each task's events (delivery across tasks follows timing in threads) and the trace are unchanged."""
    recorder = EventRecorder()
    handler = Recorder()
    engine = Engine.from_dict(fan_out(6), handlers={"work": handler}, plugins=[recorder])
    runs = []
    for _ in range(6):  # the first run measures the handlers in threads; later ones run the whole group inline
        recorder.events.clear()
        handler.take()
        result = engine.run({"n": 1}, run_id="r")
        runs.append((result.trace.digest, sorted((e.task_id, e.seq, e.type) for e in recorder.events)))
    assert handler.take() == {threading.current_thread().name}
    assert len(runs[0][1]) > 6 * 4
    assert all(run == runs[0] for run in runs)


def test_an_inline_group_whose_handler_turns_slow_runs_the_rest_concurrently():
    siblings = threading.Barrier(7, timeout=5)  # only met if items 1..7 run at the same time
    mode = {"slow": False}

    def work(payload, ctx):
        if mode["slow"]:
            if payload == 0:
                time.sleep(0.002)  # measured slow: the engine must stop running this group inline
            else:
                siblings.wait()
        return payload

    engine = split_engine(work)
    for _ in range(5):  # measured fast: later groups of this split start inline
        assert engine.run(list(range(8))).status == "success"
    mode["slow"] = True
    result = engine.run(list(range(8)))
    assert result.status == "success", result.error
    assert [entry["output"] for entry in result.output["merge_inputs"]] == list(range(8))
