"""The ``agent-engine`` command of this environment, for tests that run it as a real process."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import structlog

_SCRIPT = Path(sys.executable).with_name("agent-engine")
_FALLBACK = [sys.executable, "-c", "from agent_engine_core.cli import main; main()"]
COMMAND = [str(_SCRIPT)] if _SCRIPT.exists() else _FALLBACK
"""The installed console script, or the same entry point through this interpreter when there is none."""


@pytest.fixture
def cli_logging_restored() -> Iterator[None]:
    """The CLI configures structlog for the process, as an application does; in-process runs put it back."""
    yield
    structlog.reset_defaults()
