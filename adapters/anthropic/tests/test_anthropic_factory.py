"""The provider factory: config checked at load time, credentials only from provider_credentials.yaml, the
entry point, ``describe()`` and ``close()``."""

from __future__ import annotations

import importlib.metadata

import anthropic
import pytest
from _anthropic_kit import MODEL, agent, make_request
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import Credential, LlmProvider, ProviderSetup
from agent_engine_core.secrets import Secret

from agent_engine_anthropic import DEFAULT_BASE_URL, OPTIONS, build_provider
from agent_engine_anthropic import plugin as entry_module


def build_error(ledger, config=None, credential=None):
    with pytest.raises(ProviderError) as info:
        build_provider(ProviderSetup(agent(config), MODEL, credential))
    ledger.add(info.value)
    assert info.value.provider == "anthropic" and not info.value.retryable
    return str(info.value)


def test_the_entry_point_registers_the_anthropic_factory():
    (entry,) = [e for e in importlib.metadata.entry_points(group="agent_engine") if e.name == "anthropic"]
    assert entry.value == "agent_engine_anthropic.plugin" and entry.load() is entry_module
    registered = []
    entry_module.register_llm_providers(lambda name, factory: registered.append((name, factory)))
    assert registered == [("anthropic", build_provider)]


def test_an_unknown_option_is_named_with_a_suggestion_and_the_accepted_ones(ledger, credential):
    message = build_error(ledger, {"temprature": 0.2}, credential)
    assert "config.temprature" in message and "did you mean 'temperature'?" in message
    assert all(option in message for option in OPTIONS) and "timeout_s" in message


@pytest.mark.parametrize("option", ["thinking", "stream", "tools", "system", "model"])
def test_request_fields_the_adapter_owns_or_does_not_map_are_refused(ledger, credential, option):
    assert f"config.{option} is not an option" in build_error(ledger, {option: True}, credential)


@pytest.mark.parametrize(("config", "named"), [
    ({"max_tokens": "100"}, "max_tokens"),
    ({"max_tokens": 0}, "max_tokens"),
    ({"max_tokens": True}, "max_tokens"),
    ({"temperature": 1.5}, "temperature"),
    ({"temperature": "hot"}, "temperature"),
    ({"top_p": -0.1}, "top_p"),
    ({"top_k": 2.5}, "top_k"),
    ({"top_k": 0}, "top_k"),
    ({"stop_sequences": "END"}, "stop_sequences"),
    ({"stop_sequences": ["END", ""]}, "stop_sequences"),
])
def test_a_value_of_the_wrong_type_or_range_is_refused(ledger, credential, config, named):
    message = build_error(ledger, config, credential)
    assert message.startswith(f"config.{named} must be ") and repr(config[named]) in message


def test_the_engine_and_offline_keys_are_not_options_of_the_provider(make_provider):
    make_provider({"timeout_s": 5, "max_attempts": 1, "max_tool_rounds": 2, "retry_backoff_s": 0,
                   "responses": {"draft": {}}})


def test_a_missing_credential_says_where_to_add_one(ledger):
    message = build_error(ledger, credential=None)
    assert "add an entry for provider 'anthropic' to provider_credentials.yaml" in message


def test_a_credential_of_another_provider_is_refused(ledger, api_key):
    other = Credential("oa", "openai", Secret(api_key, origin="env:X"), base_url="http://127.0.0.1:9")
    assert "credential 'oa' is for provider 'openai'" in build_error(ledger, credential=other)


@pytest.mark.parametrize("url", ["127.0.0.1:9", "ftp://example.com", "http://user:pw@127.0.0.1:9"])
def test_a_base_url_that_is_not_a_plain_http_url_is_refused(ledger, api_key, url):
    bad = Credential("c", "anthropic", Secret(api_key, origin="env:X"), base_url=url)
    assert "config.base_url must" in build_error(ledger, credential=bad)


def test_no_base_url_means_the_public_endpoint_whatever_the_environment_says(monkeypatch, api_key):
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    provider = build_provider(ProviderSetup(agent(), MODEL, Credential("c", "anthropic",
                                                                        Secret(api_key, origin="env:X"))))
    try:
        assert provider.describe()["base_url"] == DEFAULT_BASE_URL == "https://api.anthropic.com"
    finally:
        provider.close()


def test_the_environment_cannot_replace_the_credential(server, make_provider, ask, monkeypatch, api_key):
    monkeypatch.setenv("ANTHROPIC_API_KEY", "sk-from-env")
    monkeypatch.setenv("ANTHROPIC_AUTH_TOKEN", "token-from-env")
    monkeypatch.setenv("ANTHROPIC_BASE_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", "anthropic-beta: test-beta")
    server.enqueue_message("ok")
    ask(make_provider(), make_request())
    (received,) = server.requests
    assert received.status == 200 and received.api_key == api_key
    assert received.headers["authorization"] == f"Bearer {api_key}" and "x-api-key" not in received.headers
    assert received.headers["anthropic-beta"] == "test-beta"  # non-credential headers are the operator's choice


@pytest.mark.parametrize("header", ["Authorization: Bearer other", "X-Api-Key: other"])
def test_a_credential_header_in_anthropic_custom_headers_is_refused(ledger, credential, monkeypatch, header):
    monkeypatch.setenv("ANTHROPIC_CUSTOM_HEADERS", f"anthropic-beta: x\n{header}")
    message = build_error(ledger, credential=credential)
    assert "ANTHROPIC_CUSTOM_HEADERS" in message and header.split(":")[0] in message and "other" not in message


def test_describe_names_sdk_version_endpoint_and_credential_but_not_the_key(make_provider, server, api_key, ledger):
    described = make_provider().describe()
    ledger.add(described, *described.values())
    assert described == {"sdk": "anthropic", "sdk_version": anthropic.__version__, "base_url": server.base_url,
                         "credential": "claude_test"}


def test_the_provider_is_sync_and_checks_nothing_before_a_run(make_provider):
    provider = make_provider()
    assert isinstance(provider, LlmProvider)
    assert provider.check(["draft", "route"]) == []


def test_close_is_idempotent_and_a_closed_provider_refuses_calls(server, make_provider, fail):
    provider = make_provider()
    provider.close()
    provider.close()
    server.enqueue_message("never sent")
    error = fail(provider, make_request())
    assert "closed" in str(error) and not error.retryable
    assert server.requests == []


def test_one_provider_serves_many_threads(server, make_provider, ask):
    from concurrent.futures import ThreadPoolExecutor

    provider = make_provider()
    for index in range(8):
        server.enqueue_message(f'{{"n": {index}}}')
    with ThreadPoolExecutor(max_workers=4) as pool:
        replies = list(pool.map(lambda _: ask(provider, make_request()), range(8)))
    assert sorted(r.content for r in replies) == sorted(f'{{"n": {i}}}' for i in range(8))
    assert server.problems == []
