"""The ``local`` executor: a thread pool that settles asyncio futures directly and is a plain ``Executor`` too."""

from __future__ import annotations

import asyncio
import gc
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from _workflows import split_engine, split_workflow
from hypothesis import given, settings
from hypothesis import strategies as st

from agent_engine_core import Engine
from agent_engine_core._run.pool import HandlerPool, in_thread


class Boom(Exception):
    pass


def outcome(value: int) -> int:
    if value < 0:
        raise Boom(value)
    return value * 2


def pool_threads(pool: HandlerPool) -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name.startswith(pool._prefix + "_")]


@given(st.lists(st.integers(min_value=-5, max_value=50), max_size=40), st.integers(min_value=1, max_value=6))
@settings(max_examples=30, deadline=None)
def test_every_call_gets_its_own_result_or_exception(values, workers):
    pool = HandlerPool(workers)

    async def main():
        return await asyncio.gather(*(in_thread(pool, outcome, v) for v in values), return_exceptions=True)

    try:
        results = asyncio.run(main())
        submitted = [pool.submit(outcome, v) for v in values]
        plain = [f.exception() or f.result() for f in submitted]
    finally:
        pool.shutdown()
    for value, got, via_submit in zip(values, results, plain, strict=True):
        if value < 0:
            assert isinstance(got, Boom) and got.args == (value,)
            assert isinstance(via_submit, Boom)
        else:
            assert got == via_submit == value * 2


def test_calls_run_concurrently_up_to_max_workers_and_no_further():
    pool = HandlerPool(4)
    met = threading.Barrier(4, timeout=5)  # broken unless four calls run at once
    release = threading.Event()

    def meet(_: int) -> str:
        met.wait()
        release.wait(5)
        return threading.current_thread().name

    try:
        futures = [pool.submit(meet, i) for i in range(4)]
        extra = [pool.submit(lambda: threading.current_thread().name) for _ in range(8)]
        assert len(pool_threads(pool)) == 4
        release.set()
        names = {f.result(timeout=5) for f in futures + extra}
    finally:
        pool.shutdown()
    assert len(names) <= 4
    assert all(name.startswith("agent-engine-") for name in names)


def test_idle_workers_are_reused_before_new_threads_start():
    pool = HandlerPool(8)
    try:
        for _ in range(20):
            pool.submit(outcome, 1).result(timeout=5)
        assert len(pool_threads(pool)) == 1
    finally:
        pool.shutdown()


def test_shutdown_waits_for_workers_and_refuses_new_calls():
    pool = HandlerPool(3)
    futures = [pool.submit(outcome, i) for i in range(6)]
    pool.shutdown(wait=True)
    assert [f.result() for f in futures] == [0, 2, 4, 6, 8, 10]
    assert pool_threads(pool) == []
    with pytest.raises(RuntimeError, match="shut down"):
        pool.submit(outcome, 1)
    pool.shutdown()  # a second shutdown is a no-op


def test_shutdown_can_cancel_queued_calls():
    pool = HandlerPool(1)
    started, release = threading.Event(), threading.Event()

    def hold() -> bool:
        started.set()
        return release.wait(5)

    running = pool.submit(hold)
    assert started.wait(5)  # the worker has taken it: only what follows is still queued
    queued = [pool.submit(outcome, i) for i in range(3)]

    async def loop_call():
        future = pool.start(asyncio.get_running_loop(), outcome, 9)
        pool.shutdown(wait=False, cancel_futures=True)
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await future

    asyncio.run(loop_call())
    assert running.result(timeout=5) is True
    assert all(f.cancelled() for f in queued)


def test_a_cancelled_waiter_leaves_the_pool_working():
    pool = HandlerPool(1)
    release = threading.Event()

    async def main():
        waiter = asyncio.ensure_future(in_thread(pool, release.wait, 5))
        await asyncio.sleep(0)
        waiter.cancel()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await waiter
        return await in_thread(pool, outcome, 21)

    try:
        assert asyncio.run(main()) == 42
    finally:
        pool.shutdown()


def test_other_executors_go_through_run_in_executor():
    async def main(executor):
        return await in_thread(executor, outcome, 4)

    with ThreadPoolExecutor(1) as executor:
        assert asyncio.run(main(executor)) == 8
    assert asyncio.run(main(None)) == 8  # the loop's default executor


def test_the_engine_runs_sync_children_on_the_local_pool():
    names: list[str] = []

    def work(payload, ctx):
        names.append(threading.current_thread().name)
        return payload

    engine = split_engine(work)
    try:
        result = engine.run([1, 2, 3])
        assert isinstance(engine._pool, HandlerPool)
    finally:
        engine.close()
    assert [entry["output"] for entry in result.output["merge_inputs"]] == [1, 2, 3]
    assert names and all(name.startswith("agent-engine-") for name in names)


def test_an_engine_dropped_without_close_lets_its_threads_go():
    wf, handlers = split_workflow(lambda payload, ctx: payload)
    engine = Engine.from_dict({"workflow": wf}, handlers=handlers)  # not the helper's: nothing closes it
    assert engine.run([1, 2, 3]).status == "success"
    pool = engine._pool
    assert isinstance(pool, HandlerPool) and pool_threads(pool)
    del engine
    gc.collect()
    deadline = time.monotonic() + 5
    while pool_threads(pool) and time.monotonic() < deadline:
        time.sleep(0.01)
    assert pool_threads(pool) == []
