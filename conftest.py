"""Session-wide secret canary: one unique API key value set for the whole test session.

Every test that needs an API key (the provider adapters' tests, the credential tests) reads it from
``AGENT_ENGINE_TEST_API_KEY`` and hands what its runs produce to the ``secret_ledger`` fixture: results,
traces, events, CLI output, exception text. ``tests/test_secret_canary.py`` runs last and checks that no byte
of the ledger, of any log line written during the session, or of any file under the session's temporary
directory contains the canary, and that the canary really was sent to the fake provider servers (so the check
cannot pass because no key was ever used).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

CANARY_ENV = "AGENT_ENGINE_TEST_API_KEY"
CANARY_CHECK = "test_secret_canary.py"


@dataclass
class SecretLedger:
    """What the session produced that must not contain the canary, and who received the canary on purpose."""

    canary: str
    texts: list[str] = field(default_factory=list)
    servers_that_saw_it: set[str] = field(default_factory=set)

    def add(self, *items: Any) -> None:
        """Keep the text form of each item (objects are kept by ``repr`` and ``str``, both must be clean)."""
        for item in items:
            if isinstance(item, bytes):
                self.texts.append(item.decode("utf-8", "replace"))
            elif isinstance(item, str):
                self.texts.append(item)
            else:
                self.texts.extend((repr(item), str(item)))


class _LogLedger(logging.Handler):
    def __init__(self, ledger: SecretLedger) -> None:
        super().__init__(level=logging.DEBUG)
        self.ledger = ledger

    def emit(self, record: logging.LogRecord) -> None:
        self.ledger.add(self.format(record))


def _structlog_to_ledger(ledger: SecretLedger) -> Any:
    def processor(logger: Any, method: str, event: Any) -> Any:
        ledger.add(repr(event))
        return event

    return processor


@pytest.fixture(scope="session", autouse=True)
def secret_ledger() -> Iterator[SecretLedger]:
    """The session's canary API key (set in the environment) and the ledger of everything it must not reach."""
    import structlog  # noqa: PLC0415 - a test-session concern, configured once

    ledger = SecretLedger(canary=f"sk-canary-{uuid.uuid4().hex}")
    previous = os.environ.get(CANARY_ENV)
    os.environ[CANARY_ENV] = ledger.canary
    handler = _LogLedger(ledger)
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)  # every library's debug lines (the SDKs', httpx's) are checked too
    config = structlog.get_config()
    structlog.configure(processors=[_structlog_to_ledger(ledger), *config["processors"]])
    try:
        yield ledger
    finally:
        structlog.configure(processors=config["processors"])
        root.removeHandler(handler)
        root.setLevel(level)
        if previous is None:
            os.environ.pop(CANARY_ENV, None)
        else:
            os.environ[CANARY_ENV] = previous


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The canary check runs after every other test of the session."""
    items.sort(key=lambda item: item.path.name == CANARY_CHECK)
