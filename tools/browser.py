"""Debian's chromium, driven by playwright from one thread of its own: what the browser checks share.

Playwright's sync objects belong to the thread that made them, so ``ThreadBrowser`` owns the browser in a worker
thread and ``run(work)`` hands it ``work(browser)``: the callers' own event loops (the tests', the engine's)
never meet playwright's. The browser is the distribution's (``apt-get install chromium``); playwright's own
download (``playwright install``) is never used. ``for_tests`` skips when either is missing, except under CI,
which installs both and fails instead.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

T = TypeVar("T")
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync"]
"""Without the background-networking switches chromium itself tries to reach Google's hosts (not the page)."""


class ThreadBrowser:
    """One headless chromium, owned by a thread of its own (see the module docstring)."""

    def __init__(self) -> None:
        self._thread = ThreadPoolExecutor(max_workers=1, thread_name_prefix="browser")
        self._thread.submit(self._start).result()

    def _start(self) -> None:
        from playwright.sync_api import sync_playwright  # noqa: PLC0415 - only where a browser is wanted

        self._playwright = sync_playwright().start()
        try:
            self._browser = self._playwright.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        except BaseException:
            self._playwright.stop()
            raise

    def run(self, work: Callable[[Any], T]) -> T:
        """``work(browser)`` in the browser's thread; its result (or its exception)."""
        return self._thread.submit(work, self._browser).result()

    def close(self) -> None:
        """Close the browser and playwright, in their thread, and end the thread."""
        def stop() -> None:
            self._browser.close()
            self._playwright.stop()

        try:
            self._thread.submit(stop).result()
        finally:
            self._thread.shutdown()


def for_tests(doing: str) -> ThreadBrowser:
    """A browser for tests ``doing`` something; ``pytest.skip`` (under CI, ``pytest.fail``) naming what is missing."""
    import pytest  # noqa: PLC0415 - only the tests call this

    missing = [] if CHROMIUM.exists() else [f"{CHROMIUM} (apt-get install -y chromium)"]
    try:
        import playwright  # noqa: F401, PLC0415
    except ImportError:
        missing.append("playwright (pip install -r requirements-dev.txt)")
    if missing:
        if os.environ.get("CI"):
            pytest.fail(f"CI is {doing} but {' and '.join(missing)} is missing")
        pytest.skip(f"{doing} needs {' and '.join(missing)}")
    return ThreadBrowser()
