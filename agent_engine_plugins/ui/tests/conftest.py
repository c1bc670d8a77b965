"""Session fixtures: the test project with its three stored runs, served once, and one browser for every test.

Without chromium or playwright the browser tests skip with the reason, except under CI (``.ci/run`` installs
chromium), where they fail.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from _ui_kit import PROJECT, RUNS, Browser, Served, browser_for_tests, copy_project, run_all, serving


@pytest.fixture(scope="session")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test project with ``RUNS`` stored (a success, a partial, a failure)."""
    made = copy_project(PROJECT, tmp_path_factory.mktemp("ui") / "orders")
    run_all(made, RUNS)
    return made


@pytest.fixture(scope="session")
def served(project: Path) -> Iterator[Served]:
    """The inspector of ``project`` on 127.0.0.1, for the whole session."""
    with serving(project) as server:
        yield server


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One headless chromium for the session."""
    made = browser_for_tests()
    yield made
    made.close()
