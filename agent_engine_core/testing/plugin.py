"""The pytest plugin for people who build on Agent Engine (entry point ``pytest11``: loaded automatically).

Only fixtures live here; loading the plugin changes nothing in a session. What a fixture patches (the
environment, logging, ``importlib.metadata.entry_points``) it patches while it is in use, and restores after.
The helpers the fixtures are made of, and the checks tests call, are ``agent_engine_core.testing``.

* ``make_engine(manifests, *, handlers=None, plugins=(), base_dir=None)`` builds an engine from a dict;
* ``engine_from_dir(path, *, plugins=())`` builds one from a config dir;
* ``event_recorder`` is an observer plugin that keeps every event it receives (``.events``, ``.of_type()``);
* ``fake_entry_points(*plugins)`` makes the next engines discover the given ``(name, object)`` pairs as if
  distributions had registered them in the ``agent_engine`` entry point group, and nothing else;
* ``secret_ledger`` (session) sets a canary API key in ``AGENT_ENGINE_TEST_API_KEY`` and fails the session if
  it (or one of its lines, escaped, percent-encoded or base64 forms) shows up in a log line, a file under the
  session's temporary directory, or anything given to ``secret_ledger.add(...)``; requested by no test, it
  touches neither the environment nor logging;
* ``locked_dir`` is a ``LockedDir``: a folder nobody can write to, root included, until ``.unlock()``.
"""

from __future__ import annotations

import importlib.metadata
import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent_engine_core.engine import Engine
from agent_engine_core.testing import (
    CANARY_ENV,
    EventRecorder,
    LockedDir,
    SecretLedger,
    closed_after,
    fake_entry_point_group,
)
from agent_engine_core.testing._canary import listening

__all__ = ["engine_from_dir", "event_recorder", "fake_entry_points", "locked_dir", "make_engine", "secret_ledger"]


@pytest.fixture
def make_engine() -> Iterator[Callable[..., Engine]]:
    """Engines from in-memory manifests, closed after the test.

    Call it as ``make_engine(manifests, *, handlers=None, plugins=(), base_dir=None)`` (``Engine.from_dict``).
    """
    yield from closed_after(Engine.from_dict)


@pytest.fixture
def engine_from_dir() -> Iterator[Callable[..., Engine]]:
    """Engines from config dirs, closed after the test: ``engine_from_dir(path, *, plugins=())``."""
    yield from closed_after(Engine.from_config_dir)


@pytest.fixture
def event_recorder() -> EventRecorder:
    """A fresh ``EventRecorder``; pass it in ``plugins=[event_recorder]``."""
    return EventRecorder()


@pytest.fixture
def fake_entry_points(monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Replace the ``agent_engine`` entry point group by the given ``(name, plugin[, distribution])`` items.

    Each plugin object is importable under a synthetic module name, so the real loader imports it exactly as
    it would an installed distribution's module (and a loader failure is reproducible by passing an object
    that raises from ``__getattr__``, or a module name that does not exist as a string).
    """

    def install(*plugins: tuple[Any, ...]) -> None:
        points, modules = fake_entry_point_group(plugins)
        for name, module in modules.items():
            monkeypatch.setitem(sys.modules, name, module)
        original = importlib.metadata.entry_points

        def entry_points(**params: Any) -> Any:
            if params.get("group") == "agent_engine":
                return points
            return original(**params)

        monkeypatch.setattr(importlib.metadata, "entry_points", entry_points)
        monkeypatch.delenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
        monkeypatch.delenv("AGENT_ENGINE_LOAD_PLUGINS", raising=False)

    return install


@pytest.fixture(scope="session")
def secret_ledger(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SecretLedger]:
    """The session's canary API key (set in the environment) and the ledger of everything it must not reach."""
    ledger = SecretLedger(canary=f"sk-canary-{uuid.uuid4().hex}")
    previous = os.environ.get(CANARY_ENV)
    os.environ[CANARY_ENV] = ledger.canary
    try:
        with listening(ledger):
            yield ledger
    finally:
        if previous is None:
            os.environ.pop(CANARY_ENV, None)
        else:
            os.environ[CANARY_ENV] = previous
    leaks = ledger.leaks(tmp_path_factory.getbasetemp())
    assert leaks == [], f"the canary API key leaked into: {leaks}"


@pytest.fixture
def locked_dir(tmp_path: Path) -> Iterator[LockedDir]:
    """A ``LockedDir`` under ``tmp_path``, locked, unlocked after the test; skipped where none can be made."""
    locked = LockedDir(tmp_path / "locked")
    locked.path.mkdir()
    if not locked.lock():
        pytest.skip("running as root without chattr +i: no folder can be made unwritable")
    try:
        yield locked
    finally:
        locked.unlock()
