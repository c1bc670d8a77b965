"""The inspector CLI's fixtures (``pytest_plugins = ["_inspect_fixtures"]``): the kit, a project, stored runs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from _inspect_kit import install_entry_point, project_files
from _inspect_runs import BOOM, GOOD, STORE, run

from conftest import write_files


@pytest.fixture
def kit_path(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The test kit's entry point on ``sys.path`` (for this process) and the folder to put on ``PYTHONPATH``."""
    folder = install_entry_point(tmp_path / "kit")
    monkeypatch.syspath_prepend(str(folder))
    monkeypatch.delenv("AGENT_ENGINE_DISABLE_PLUGIN_AUTOLOAD", raising=False)
    monkeypatch.delenv("AGENT_ENGINE_LOAD_PLUGINS", raising=False)
    return folder


@pytest.fixture
def project(tmp_path: Path, kit_path: Path) -> Callable[..., Path]:
    """``project(events=True)``: a config dir whose runs are kept by ``STORE``."""

    def make(*, events: bool = True, name: str = "project") -> Path:
        runs = {**STORE.runs, **({} if events else {"events": False})}
        return write_files(tmp_path / name, project_files(runs))

    return make


@pytest.fixture
def stored(project: Callable[..., Path]) -> Path:
    """A project with run ``ok`` (succeeded) then run ``bad`` (failed in child ``bad/split#1``)."""
    folder = project()
    run(folder, ("ok", GOOD), ("bad", BOOM))
    return folder
