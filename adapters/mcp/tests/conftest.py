"""Fixtures of the agent-engine-mcp tests: engines that discover this distribution, ``python`` on PATH, servers.

The stdio server is the test suite's own ``servers/calc_server.py`` (a real server on the official SDK), started
by the engine as a tools.yaml entry says; the streamable-HTTP one is the same script in a process of its own,
started once per session on 127.0.0.1 and requiring the session's canary key as its bearer token.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from _mcp_kit import PLUGIN, HttpServer, running_http_server
from agent_engine_core.testing import CANARY_ENV, SecretLedger

OPENAI_TESTS = Path(__file__).resolve().parents[2] / "openai" / "tests"
"""The openai adapter's tests, whose fake server (``_fake_openai``) an agent node here talks to."""
if str(OPENAI_TESTS) not in sys.path:
    sys.path.append(str(OPENAI_TESTS))


@pytest.fixture
def only_this_distribution(fake_entry_points: Callable[..., None]) -> None:
    """Engines built in the test discover agent-engine-mcp as their only installed distribution."""
    fake_entry_points(PLUGIN)


@pytest.fixture(autouse=True)
def path_to_this_python(monkeypatch: pytest.MonkeyPatch) -> None:
    """``command: python`` in a tools.yaml is this interpreter (which has the SDK the server imports)."""
    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")


@pytest.fixture(scope="session")
def ledger(secret_ledger: SecretLedger) -> SecretLedger:
    """The session's ``secret_ledger``: what it holds, and every log line, must never contain the canary key."""
    return secret_ledger


@pytest.fixture(scope="session")
def canary(ledger: SecretLedger) -> str:
    """The session's canary key, as an operator's key would be: in the environment (``CANARY_ENV``)."""
    return os.environ[CANARY_ENV]


@pytest.fixture(scope="session")
def http_server(tmp_path_factory: pytest.TempPathFactory, canary: str) -> Iterator[HttpServer]:
    """The calc server over streamable HTTP, for the whole session; it wants ``Bearer <canary>``."""
    yield from running_http_server(tmp_path_factory.mktemp("http-calc"), canary)


@pytest.fixture
def cli_logging_restored() -> Iterator[None]:
    """The CLI configures structlog for the process, as an application does; in-process runs put it back."""
    import structlog

    yield
    structlog.reset_defaults()
