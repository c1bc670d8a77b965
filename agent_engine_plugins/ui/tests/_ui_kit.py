"""The inspector's test parts: projects with stored runs, the app served on 127.0.0.1, and one headless Chromium.

The browser is Debian's chromium driven by playwright (never ``playwright install``), owned by one thread
(the repository's ``tools/browser.py``); each test hands it a function of a fresh page. The server runs in a
thread of its own with its own event loop. Every request a page makes is
recorded, so a test can say where the page went.
"""

from __future__ import annotations

import shutil
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from agent_engine_core import Engine

from agent_engine_ui.app import create_app
from agent_engine_ui.cli import _bound

sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tools"))  # the repository's browser helper
from browser import ThreadBrowser, for_tests

T = TypeVar("T")
HERE = Path(__file__).parent
PROJECT = HERE / "project"
APPROVAL_EXAMPLE = HERE.parents[2] / "examples" / "approval"
SHOTS = HERE.parent / "screenshots"
"""Where the tests save what the pages looked like (for people to look at; not compared)."""

RUNS = {
    "ok-1": {"items": ["apple", "pear"], "note": "first order"},
    "part-1": {"items": ["apple", "broken"]},
    "fail-1": {"amount": 250},
}
"""The test project's runs: a success, a partial (one damaged item) and a failure (over the charge limit)."""


def copy_project(source: Path, target: Path) -> Path:
    """A copy of a project without its stored runs or caches."""
    shutil.copytree(source, target, ignore=shutil.ignore_patterns(".agent_engine", "__pycache__", "workspace"))
    return target


def run_all(project: Path, runs: dict[str, Any]) -> None:
    """Run each input under its run id, kept in the project's SQLite store (as ``agent-engine run`` keeps them)."""
    with Engine.from_config_dir(project, runs="local") as engine:
        for run_id, given in runs.items():
            engine.run(given, run_id=run_id)
            time.sleep(0.002)  # distinct start times: the list's order is the runs' order


class Served:
    """The inspector app for one project on 127.0.0.1, on a free port, in a thread; ``stop()`` ends it."""

    def __init__(self, project: Path) -> None:
        listening = _bound("127.0.0.1", 0)
        self.url = f"http://127.0.0.1:{listening.getsockname()[1]}"
        self._server = uvicorn.Server(uvicorn.Config(create_app(project), log_level="warning", access_log=False))
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [listening]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert self._thread.is_alive() and time.monotonic() < deadline, "the inspector did not start"
            time.sleep(0.02)

    def stop(self) -> None:
        """Stop the server (open event streams are cut) and wait for its thread."""
        self._server.should_exit = True
        self._thread.join(timeout=20)


@contextmanager
def serving(project: Path) -> Iterator[Served]:
    """The inspector of ``project``, served while the block runs."""
    server = Served(project)
    try:
        yield server
    finally:
        server.stop()


@dataclass
class Visit:
    """What one page function saw: its return value, and every URL the page requested."""

    result: Any
    requests: list[str] = field(default_factory=list)


class Browser:
    """One headless chromium for the session (the repository's ``tools/browser.py``); ``visit`` uses a fresh page."""

    def __init__(self, owner: ThreadBrowser) -> None:
        self._owner = owner

    def visit(self, work: Callable[[Any], T], *, width: int = 1440, height: int = 900) -> Visit:
        """``work(page)`` on a fresh page of a fresh context, recording every request the page makes."""
        def visiting(browser: Any) -> Visit:
            context = browser.new_context(viewport={"width": width, "height": height})
            requests: list[str] = []
            context.on("request", lambda request: requests.append(request.url))
            page = context.new_page()
            page.set_default_timeout(15_000)
            try:
                return Visit(work(page), requests)
            finally:
                context.close()

        return self._owner.run(visiting)

    def close(self) -> None:
        """Close the browser."""
        self._owner.close()


def shot(page: Any, name: str) -> Path:
    """Save a full-page screenshot under ``screenshots/`` and return its path."""
    SHOTS.mkdir(exist_ok=True)
    path = SHOTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


def browser_for_tests() -> Browser:
    """The session's browser, or a skip (under CI, a failure) naming what is missing."""
    return Browser(for_tests("driving the inspector in a browser"))
