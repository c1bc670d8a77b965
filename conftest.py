"""The canary API key of ``agent_engine_core.testing``'s ``secret_ledger`` is set for the whole session.

Every test that needs an API key (the provider adapters', the credential tests) reads it from
``AGENT_ENGINE_TEST_API_KEY`` and hands what its runs produce to ``secret_ledger``. ``tests/test_secret_canary.py``
runs last and checks that nothing the session produced contains the key and that the fake provider servers did
receive it; the fixture checks the same again when the session ends.
"""

from __future__ import annotations

import pytest

from agent_engine_core.testing import SecretLedger

CANARY_CHECK = "test_secret_canary.py"


@pytest.fixture(scope="session", autouse=True)
def _canary_for_the_whole_session(secret_ledger: SecretLedger) -> SecretLedger:
    return secret_ledger


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """The canary check runs after every other test of the session."""
    items.sort(key=lambda item: item.path.name == CANARY_CHECK)
