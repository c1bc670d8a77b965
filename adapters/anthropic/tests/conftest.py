"""Fixtures of the anthropic adapter's tests: the session's secret ledger, a fake server, providers bound to it.

``secret_ledger`` comes from ``agent_engine_core.testing`` (the pytest plugin): it sets a canary API key in
``AGENT_ENGINE_TEST_API_KEY`` for the session and fails the session if the key shows up in a log line, a file
under the session's temporary directory, or anything the tests hand to ``ledger.add(...)``. Run from the
repository root, ``tests/test_secret_canary.py`` also checks that the fake server really received the key.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator, Mapping
from typing import Any

import pytest
from _anthropic_kit import MODEL, agent
from _fake_anthropic import FakeAnthropic
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import Credential, LlmReply, LlmRequest, ProviderSetup
from agent_engine_core.secrets import Secret
from agent_engine_core.testing import CANARY_ENV, SecretLedger, closed_after

from agent_engine_anthropic import AnthropicProvider, build_provider


@pytest.fixture(scope="session")
def ledger(secret_ledger: SecretLedger) -> SecretLedger:
    """The session's ``secret_ledger`` (``agent_engine_core.testing``): what it holds must never contain the key."""
    return secret_ledger


@pytest.fixture
def api_key(ledger: Any) -> str:
    """The session's canary key, read from the environment as an operator's key would be."""
    return os.environ[CANARY_ENV]


@pytest.fixture
def server(ledger: Any, api_key: str) -> Iterator[FakeAnthropic]:
    """A running fake Anthropic server that accepts the canary key."""
    with FakeAnthropic(expected_api_key=api_key) as fake:
        yield fake
    if any(r.status != 401 and r.api_key == api_key for r in fake.requests):
        ledger.servers_that_saw_it.add("anthropic")


@pytest.fixture
def credential(server: FakeAnthropic, api_key: str) -> Credential:
    """A resolved ``provider_credentials.yaml`` entry pointing at ``server``."""
    return Credential(id="claude_test", provider="anthropic", api_key=Secret(api_key, origin=f"env:{CANARY_ENV}"),
                      base_url=server.base_url)


@pytest.fixture
def make_provider(credential: Credential) -> Iterator[Callable[..., AnthropicProvider]]:
    """``make_provider(config=None, *, credential=<the fake's>)``: a provider built by the factory, closed after."""

    def make(config: Mapping[str, Any] | None = None, *, credential: Credential | None = credential) -> Any:
        return build_provider(ProviderSetup(agent(config), MODEL, credential))

    yield from closed_after(make)


@pytest.fixture
def ask(ledger: SecretLedger) -> Callable[[Any, LlmRequest], LlmReply]:
    """``ask(provider, request)``: the reply, recorded in the ledger."""
    return ledger.complete


@pytest.fixture
def fail(ledger: SecretLedger) -> Callable[[Any, LlmRequest], ProviderError]:
    """``fail(provider, request)``: the ``ProviderError`` the call raises, recorded in the ledger."""
    return ledger.refusal
