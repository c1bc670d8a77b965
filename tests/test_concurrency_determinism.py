"""Fan-outs really run concurrently, bounded by ``fanout_concurrency``, and nothing observable depends on it.

SPEC §4 Determinism: ids, merge input order, parent outputs and the canonical trace are defined by lineage
and edge order, so the digest is the same at any concurrency and any timing.
"""

from __future__ import annotations

import asyncio
import gc
import os
import random
import sys
import threading
import time

import pytest
from _workflows import InFlight, engine, node, scheduler, sleepy
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent_engine_core import NodeFailure, Status


def map_reduce_shape(worker, *, concurrency=None, **merge_fields):
    """split -> worker -> branch -> (left, right) -> pair merge -> reduce merge -> exit."""
    extra = {"scheduler": scheduler(concurrency)} if concurrency else {}
    return engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=worker), node("br", "branch"),
         node("left", "linear", handler=lambda p, c: {"l": p}), node("right", "linear", handler=lambda p, c: {"r": p}),
         node("pair", "merge"), node("reduce", "merge", **merge_fields), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "br"), ("br", "left"), ("br", "right"), ("left", "pair"),
         ("right", "pair"), ("pair", "reduce"), ("reduce", "x")],
        **extra,
    )


_jitter = random.Random(0)


def jittery(payload, ctx):
    time.sleep(_jitter.random() * 0.005)  # timing only: the output depends on the payload alone
    if isinstance(payload, int) and payload < 0:
        raise NodeFailure("negative", data={"value": payload})
    return payload


def test_digest_is_the_same_across_repeated_runs_and_concurrency_levels():
    items = [3, -1, 4, 1, -5, 9, 2, 6]
    digests = set()
    outputs = set()
    for concurrency in (1, 8, 32):
        eng = map_reduce_shape(jittery, concurrency=concurrency, merge={"on_failure": "include_failures"})
        for _ in range(2):
            result = eng.run(items, run_id="fixed")
            assert result.status is Status.PARTIAL
            digests.add(result.trace.digest)
            outputs.add(result.output_json)
    assert len(digests) == 1
    assert len(outputs) == 1


def test_canonical_trace_lists_tasks_and_records_in_lineage_order():
    result = map_reduce_shape(sleepy({0: 0.03, 1: 0.015}), concurrency=8).run([0, 1, 2], run_id="r")
    task_ids = [t.task_id for t in result.trace.tasks]
    assert task_ids == ["r"] + [f"r/sp#{i}{suffix}" for i in range(3) for suffix in ("", "/br#0", "/br#1")]
    record_tasks = [r.task_id for r in result.trace.records]
    assert record_tasks == sorted(record_tasks, key=task_ids.index)  # grouped by task, tasks in order
    for task_id in task_ids:
        seqs = [r.seq for r in result.trace.for_task(task_id)]
        assert seqs == list(range(len(seqs)))


# ---- property: any generated fan-out workflow, any jitter, any concurrency --------------------------------


@st.composite
def fan_out_workflows(draw):
    kind = draw(st.sampled_from(["branch", "split"]))
    width = draw(st.integers(2 if kind == "branch" else 1, 4))
    nested = draw(st.booleans())
    policy = draw(st.sampled_from(["fail_on_any", "ignore_failures", "include_failures"]))
    items = draw(st.lists(st.integers(-3, 9), min_size=1, max_size=6))
    return kind, width, nested, policy, items


def build_generated(kind, width, nested, policy, concurrency):
    arms = [f"arm{i}" for i in range(width)]
    nodes = [node("s", "start"), node("fan", kind)]
    edge_list = [("s", "fan")]
    for arm in arms:
        nodes.append(node(arm, "linear", handler=jittery))
        edge_list.append(("fan", arm))
    join_from = arms
    if nested:  # the last arm fans out again, and its clones merge before joining the other arms
        nodes += [node("inner", "branch"), node("p", "linear", handler=jittery), node("q", "linear", handler=jittery),
                  node("inner_merge", "merge", merge={"on_failure": policy})]
        edge_list += [(arms[-1], "inner"), ("inner", "p"), ("inner", "q"), ("p", "inner_merge"),
                      ("q", "inner_merge")]
        join_from = [*arms[:-1], "inner_merge"]
    nodes += [node("join", "merge", merge={"on_failure": policy}), node("x", "exit")]
    edge_list += [(name, "join") for name in join_from] + [("join", "x")]
    return engine(nodes, edge_list, scheduler=scheduler(concurrency))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(fan_out_workflows(), st.randoms(use_true_random=False))
def test_digest_is_independent_of_concurrency_and_timing(workflow, rnd):
    kind, width, nested, policy, items = workflow
    payload = items if kind == "split" else items[0]
    digests = []
    statuses = set()
    for concurrency in (1, 8):
        eng = build_generated(kind, width, nested, policy, concurrency)
        with eng:
            for _ in range(2):
                _jitter.seed(rnd.random())  # a different sleep pattern on every run
                result = eng.run(payload, run_id="prop")
                digests.append(result.trace.digest)
                statuses.add(result.status)
    assert len(set(digests)) == 1
    assert len(statuses) == 1


# ---- concurrency is real, and bounded ----------------------------------------------------------------------


def wide(handler, width, concurrency=None):
    extra = {"scheduler": scheduler(concurrency)} if concurrency else {}
    return engine(
        [node("s", "start"), node("sp", "split"), node("w", "linear", handler=handler), node("m", "merge"),
         node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "x")],
        **extra,
    )


def test_sync_fan_out_runs_concurrently():
    meet = threading.Barrier(16, timeout=5)  # broken (and every child failed) unless all 16 run at once

    def work(payload, ctx):
        meet.wait()
        return payload

    eng = wide(work, 16)
    result = eng.run(list(range(16)), run_id="r")
    assert result.status is Status.SUCCESS
    assert len(result.output["merge_inputs"]) == 16


def test_async_fan_out_runs_concurrently():
    arrived: list[int] = []

    async def gather_all(payload, ctx):
        arrived.append(payload)
        async with asyncio.timeout(5):
            while len(arrived) < 16:  # only ends if all 16 children are in flight together
                await asyncio.sleep(0.001)
        return payload

    eng = wide(gather_all, 16)
    assert eng.run(list(range(16))).status is Status.SUCCESS


def test_fanout_concurrency_one_runs_children_one_at_a_time():
    counter = InFlight(delay=0.01)
    eng = wide(counter, 6, concurrency=1)
    assert eng.run(list(range(6))).status is Status.SUCCESS
    assert counter.calls == 6
    assert counter.max == 1


def test_fanout_concurrency_one_applies_to_async_handlers_too():
    state = {"now": 0, "max": 0}

    async def counted(payload, ctx):
        state["now"] += 1
        state["max"] = max(state["max"], state["now"])
        await asyncio.sleep(0.005)
        state["now"] -= 1
        return payload

    assert wide(counted, 5, concurrency=1).run(list(range(5))).status is Status.SUCCESS
    assert state["max"] == 1


def test_fanout_concurrency_bounds_children_in_flight():
    counter = InFlight(delay=0.03)
    eng = wide(counter, 9, concurrency=3)
    assert eng.run(list(range(9))).status is Status.SUCCESS
    assert counter.calls == 9
    assert 1 < counter.max <= 3


def test_sync_handlers_run_inline_alone_and_in_the_pool_beside_siblings():
    threads: dict[str, set[str]] = {"alone": set(), "siblings": set()}

    def where(label):
        def handler(payload, ctx):
            threads[label].add(threading.current_thread().name)
            return payload
        return handler

    eng = engine(
        [node("s", "start", handler=where("alone")), node("sp", "split"),
         node("w", "linear", handler=where("siblings")), node("m", "merge"),
         node("after", "linear", handler=where("alone")), node("x", "exit")],
        [("s", "sp"), ("sp", "w"), ("w", "m"), ("m", "after"), ("after", "x")],
    )
    eng.run([1, 2, 3])
    assert threads["alone"] == {threading.current_thread().name}
    assert threads["siblings"] and all(name.startswith("agent-engine") for name in threads["siblings"])


def test_concurrent_runs_of_one_engine_from_threads_do_not_mix():
    eng = map_reduce_shape(jittery, concurrency=4)
    expected = {n: eng.run(list(range(n)), run_id=f"run{n}").trace.digest for n in range(1, 6)}
    got: dict[int, str] = {}
    errors: list[BaseException] = []

    def go(n):
        try:
            got[n] = eng.run(list(range(n)), run_id=f"run{n}").trace.digest
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    workers = [threading.Thread(target=go, args=(n,)) for n in range(1, 6)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(30)
    assert errors == []
    assert got == expected


def _open_fds():
    return len(os.listdir(f"/proc/{os.getpid()}/fd"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="counts file descriptors through /proc")
def test_run_from_short_lived_threads_does_not_leak_event_loops():
    eng = engine([node("s", "start"), node("x", "exit")], [("s", "x")])
    eng.run(0)
    gc.collect()
    before = _open_fds()
    for _ in range(40):
        worker = threading.Thread(target=eng.run, args=(1,))
        worker.start()
        worker.join()
    gc.collect()
    assert _open_fds() - before < 10
