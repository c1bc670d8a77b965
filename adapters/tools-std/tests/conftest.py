"""Fixtures of the tools-std tests: the attack tree, engines that discover only this distribution, a server."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _tools_std_kit import PLUGIN, LocalServer, outside_state, plant, running_server


@pytest.fixture
def base(tmp_path: Path) -> Path:
    """A folder holding the planted ``root`` and ``outside``."""
    plant(tmp_path)
    return tmp_path


@pytest.fixture
def root(base: Path) -> Path:
    """The planted root (see ``_tools_std_kit.plant``)."""
    return base / "root"


@pytest.fixture
def untouched(base: Path) -> Iterator[None]:
    """Fail the test if anything outside the root was changed, created or removed."""
    before = outside_state(base)
    yield
    assert outside_state(base) == before


@pytest.fixture
def only_this_distribution(fake_entry_points: Callable[..., None]) -> None:
    """Engines built in the test discover agent-engine-tools-std as their only installed distribution."""
    fake_entry_points(PLUGIN)


@pytest.fixture
def server() -> Iterator[LocalServer]:
    """A local HTTP server on 127.0.0.1 (see ``_tools_std_kit.LocalServer``)."""
    yield from running_server()
