"""An event loop of its own, in a daemon thread, for the SDK's sessions; sync callers wait on its futures.

The engine calls tools synchronously, from its loop's thread (an inline handler) or from worker threads, and
it may be built inside a running loop. The MCP SDK is async, and a session's context managers must be entered
and left in one task of one loop: so every session lives in this loop, and ``Runtime.call`` hands it a
coroutine from whatever thread asks. The loop starts with the first call and stops with ``close``.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

__all__ = ["Runtime"]

T = TypeVar("T")


class Runtime:
    """One loop thread; ``call(coroutine)`` runs it there and returns its result (or raises its exception)."""

    def __init__(self, name: str) -> None:
        self._name = name
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def _started(self) -> asyncio.AbstractEventLoop:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                thread = threading.Thread(target=loop.run_forever, name=self._name, daemon=True)
                thread.start()
                self._loop, self._thread = loop, thread
            return self._loop

    @property
    def running(self) -> bool:
        """Whether the loop has been started (and not closed)."""
        return self._loop is not None

    def call(self, coroutine: Coroutine[Any, Any, T], timeout_s: float | None = None) -> T:
        """Run ``coroutine`` on the loop and wait for it (at most ``timeout_s``: then it is cancelled)."""
        if threading.current_thread() is self._thread:
            coroutine.close()
            raise RuntimeError("a tool call from the MCP loop's own thread would wait for itself")
        future = asyncio.run_coroutine_threadsafe(coroutine, self._started())
        try:
            return future.result(timeout_s)
        except concurrent.futures.TimeoutError:
            future.cancel()
            raise TimeoutError(f"no answer within {timeout_s:g} s") from None

    def submit(self, coroutine: Coroutine[Any, Any, Any]) -> concurrent.futures.Future[Any]:
        """Start ``coroutine`` on the loop without waiting for it."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._started())

    def close(self) -> None:
        """Stop the loop and join its thread (the sessions must be closed first)."""
        with self._lock:
            loop, thread = self._loop, self._thread
            self._loop = self._thread = None
        if loop is None or thread is None:
            return
        loop.call_soon_threadsafe(loop.stop)
        thread.join()
        loop.close()
