"""The ``local`` executor: a thread pool whose workers complete asyncio futures directly.

``loop.run_in_executor`` on a ``ThreadPoolExecutor`` makes a ``concurrent.futures.Future`` (with its own
condition variable), chains it to an asyncio future, and hops back to the loop through both; with 32 children
finishing at once, that bookkeeping is what the last child waits behind (about 1 ms of the 32 x sleep(0.1)
benchmark, see docs/PERFORMANCE.md). ``HandlerPool.start`` hands the worker the asyncio future itself, settled
with one ``call_soon_threadsafe``. ``submit`` keeps the standard ``Executor`` API for everything else.

Threads start on demand, up to ``max_workers``, and are daemons: an engine that is never closed does not hold
the interpreter open at exit (``Engine.close`` and garbage collection shut the pool down).
"""

from __future__ import annotations

import functools
import itertools
import queue
import threading
from collections.abc import Awaitable, Callable
from concurrent.futures import Executor, Future
from typing import TYPE_CHECKING, Any, TypeVar

if TYPE_CHECKING:
    import asyncio

__all__ = ["HandlerPool", "in_thread"]

T = TypeVar("T")
_pools = itertools.count()


class _LoopCall:
    """A call whose outcome goes to an asyncio future, settled on that future's loop."""

    __slots__ = ("args", "function", "future", "loop")

    def __init__(self, function: Callable[..., Any], args: tuple[Any, ...], loop: asyncio.AbstractEventLoop,
                 future: asyncio.Future[Any]) -> None:
        self.function, self.args, self.loop, self.future = function, args, loop, future

    def run(self) -> None:
        try:
            outcome: tuple[bool, Any] = (True, self.function(*self.args))
        except BaseException as exc:  # whatever the call raised is the awaiting task's to handle
            outcome = (False, exc)
        try:
            self.loop.call_soon_threadsafe(_settle, self.future, outcome)
        except RuntimeError:  # the loop is closed: nobody is waiting any more
            pass

    def cancel(self) -> None:
        try:
            self.loop.call_soon_threadsafe(self.future.cancel)
        except RuntimeError:
            pass


class _FutureCall:
    """A ``submit`` call: the standard ``concurrent.futures`` protocol."""

    __slots__ = ("function", "future")

    def __init__(self, function: Callable[[], Any], future: Future[Any]) -> None:
        self.function, self.future = function, future

    def run(self) -> None:
        if not self.future.set_running_or_notify_cancel():
            return
        try:
            result = self.function()
        except BaseException as exc:  # delivered through the future, as ThreadPoolExecutor does
            self.future.set_exception(exc)
        else:
            self.future.set_result(result)

    def cancel(self) -> None:
        self.future.cancel()


def _settle(future: asyncio.Future[Any], outcome: tuple[bool, Any]) -> None:
    if future.cancelled():  # the awaiting task was cancelled while the call ran
        return
    succeeded, value = outcome
    if succeeded:
        future.set_result(value)
    else:
        future.set_exception(value)


class HandlerPool(Executor):
    """Up to ``max_workers`` threads taking calls from one queue, in the order they were given."""

    def __init__(self, max_workers: int, thread_name_prefix: str = "agent-engine") -> None:
        if max_workers < 1:
            raise ValueError("max_workers must be at least 1")
        self._max_workers = max_workers
        self._prefix = f"{thread_name_prefix}-{next(_pools)}"
        self._calls: queue.SimpleQueue[_LoopCall | _FutureCall | None] = queue.SimpleQueue()
        self._lock = threading.Lock()
        self._threads: list[threading.Thread] = []
        self._idle = 0
        """Workers waiting for a call, less the calls already queued for them (guarded by ``_lock``)."""
        self._closed = False

    def start(self, loop: asyncio.AbstractEventLoop, function: Callable[..., T], *args: Any) -> asyncio.Future[T]:
        """Run ``function(*args)`` in a worker; the returned future (of ``loop``) gets its result or exception."""
        future: asyncio.Future[T] = loop.create_future()
        self._put(_LoopCall(function, args, loop, future))
        return future

    def submit(self, fn: Callable[..., T], /, *args: Any, **kwargs: Any) -> Future[T]:
        """``Executor.submit``: run ``fn(*args, **kwargs)`` in a worker."""
        future: Future[T] = Future()
        self._put(_FutureCall(functools.partial(fn, *args, **kwargs), future))
        return future

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        """Refuse new calls; let the workers finish what is queued (or cancel it) and exit."""
        with self._lock:
            if self._closed:
                threads: list[threading.Thread] = []
            else:
                self._closed = True
                threads = list(self._threads)
                if cancel_futures:
                    self._cancel_queued()
                for _ in threads:
                    self._calls.put(None)
        if wait:
            for thread in threads:
                thread.join()

    def _cancel_queued(self) -> None:
        while True:
            try:
                call = self._calls.get_nowait()
            except queue.Empty:
                return
            if call is not None:
                call.cancel()

    def _put(self, call: _LoopCall | _FutureCall) -> None:
        with self._lock:
            if self._closed:
                raise RuntimeError("cannot schedule new calls after the pool was shut down")
            if self._idle:
                self._idle -= 1
            elif len(self._threads) < self._max_workers:
                thread = threading.Thread(target=self._work, name=f"{self._prefix}_{len(self._threads)}", daemon=True)
                self._threads.append(thread)
                thread.start()
            self._calls.put(call)

    def _work(self) -> None:
        calls = self._calls
        while True:
            call = calls.get()
            if call is None:
                return
            call.run()
            del call  # do not keep the last call's arguments alive while waiting
            with self._lock:
                self._idle += 1


def in_thread(executor: Executor | None, function: Callable[..., T], *args: Any) -> Awaitable[T]:
    """Await ``function(*args)`` in ``executor`` (``None``: the loop's default executor), directly if it is ours."""
    import asyncio  # noqa: PLC0415 - loaded with the first run that needs a loop, not with the package

    loop = asyncio.get_running_loop()
    if isinstance(executor, HandlerPool):
        return executor.start(loop, function, *args)
    return loop.run_in_executor(executor, function, *args)
