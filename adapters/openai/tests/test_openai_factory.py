"""Building the provider: config options, credentials, what it says of itself, closing, and the plugin hook."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys

import pytest
from _openai_helpers import make_request
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import Credential
from agent_engine_core.secrets import Secret

import agent_engine_openai
from agent_engine_openai import ALLOWED_OPTIONS, OPENAI_API_BASE
from agent_engine_openai import plugin as openai_plugin


def test_openai_public_names_are_pinned():
    assert agent_engine_openai.__all__ == [
        "ALLOWED_OPTIONS", "OPENAI_API_BASE", "OpenAIProvider", "__version__", "create_provider",
    ]
    for name in agent_engine_openai.__all__:
        assert getattr(agent_engine_openai, name) is not None
    assert ALLOWED_OPTIONS == {"frequency_penalty", "max_completion_tokens", "max_tokens", "presence_penalty",
                               "reasoning_effort", "seed", "stop", "structured_output", "temperature", "top_p"}


def test_openai_refuses_an_unknown_option_naming_it_and_listing_the_accepted_ones(make_provider, ledger):
    with pytest.raises(ProviderError) as info:
        make_provider({"temprature": 0.3})
    ledger.add(info.value)

    message = str(info.value)
    assert message.startswith("config.temprature is not an option of the openai provider (did you mean 'temperature'?)")
    for option in sorted(ALLOWED_OPTIONS):
        assert option in message
    assert "max_tool_rounds" in message
    assert info.value.provider == "openai"


@pytest.mark.parametrize(("key", "reason"), [
    ("stream", "streaming is always off"),
    ("response_format", "schema_out"),
    ("tools", "tools.yaml"),
    ("n", "one answer per call"),
])
def test_openai_explains_why_options_the_engine_controls_cannot_be_set(make_provider, key, reason):
    with pytest.raises(ProviderError, match=f"config.{key} cannot be set: .*{reason}"):
        make_provider({key: True})


@pytest.mark.parametrize(("options", "expected"), [
    ({"temperature": "0.2"}, "config.temperature must be a number, not '0.2'"),
    ({"temperature": True}, "config.temperature must be a number, not True"),
    ({"top_p": float("nan")}, "config.top_p must be a number"),
    ({"max_tokens": 0}, "config.max_tokens must be a positive integer, not 0"),
    ({"max_completion_tokens": 2.5}, "config.max_completion_tokens must be a positive integer"),
    ({"seed": 1.0}, "config.seed must be an integer"),
    ({"stop": ["END", 3]}, "config.stop must be a non-empty string or a list of non-empty strings"),
    ({"stop": []}, "config.stop must be"),
    ({"reasoning_effort": 2}, "config.reasoning_effort must be a non-empty string"),
    ({"structured_output": "no"}, "config.structured_output must be true or false, not 'no'"),
])
def test_openai_refuses_options_of_the_wrong_type(make_provider, options, expected):
    with pytest.raises(ProviderError, match=expected.replace("(", r"\(").replace("[", r"\[")):
        make_provider(options)


def test_openai_sends_every_accepted_option_and_none_of_the_engines(server, make_provider, ask):
    options = {"temperature": 0, "top_p": 1, "max_tokens": 10, "max_completion_tokens": 20, "seed": -1,
               "frequency_penalty": 0.5, "presence_penalty": -0.5, "stop": "END", "reasoning_effort": "low"}
    server.reply_chat("{}")

    ask(make_provider({**options, "max_attempts": 2, "retry_backoff_s": 0, "timeout_s": 9, "max_tool_rounds": 1,
                       "responses": {"draft": {}}}), make_request())

    body = server.requests[0].body
    assert {key: body[key] for key in options} == options
    assert not {"max_attempts", "retry_backoff_s", "timeout_s", "max_tool_rounds", "responses"} & set(body)


def test_openai_needs_a_credential(make_provider):
    with pytest.raises(ProviderError, match=r"add an entry for provider 'openai' to provider_credentials\.yaml"):
        make_provider(credential=None)


@pytest.mark.parametrize("base_url", ["localhost:11434/v1", "ftp://example.com/v1", "http://"])
def test_openai_refuses_a_base_url_that_is_not_http(make_provider, api_key, base_url):
    credential = Credential("local", "openai", Secret(api_key, origin="env:AGENT_ENGINE_TEST_API_KEY"), base_url)

    with pytest.raises(ProviderError, match="credential 'local': base_url must be an http\\(s\\) URL"):
        make_provider(credential=credential)


def test_openai_uses_the_official_endpoint_when_the_credential_names_none(make_provider, api_key, monkeypatch):
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")
    credential = Credential("openai_default", "openai", Secret(api_key, origin="env:AGENT_ENGINE_TEST_API_KEY"))

    provider = make_provider(credential=credential)

    assert OPENAI_API_BASE == "https://api.openai.com/v1"
    assert provider.describe()["base_url"] == OPENAI_API_BASE
    assert str(provider.client.base_url).rstrip("/") == OPENAI_API_BASE


def test_openai_describes_sdk_and_endpoint_but_not_the_key(make_provider, api_key, ledger):
    credential = Credential("proxy", "openai", Secret(api_key, origin="env:AGENT_ENGINE_TEST_API_KEY"),
                            f"https://user:{api_key}@gateway.example.com:8443/openai/v1/?token={api_key}")

    described = make_provider(credential=credential).describe()
    ledger.add(described)

    assert described == {
        "sdk": "openai",
        "sdk_version": importlib.metadata.version("openai"),
        "api": "chat.completions",
        "base_url": "https://gateway.example.com:8443/openai/v1",
        "credential": "proxy",
    }


def test_openai_has_nothing_to_report_before_a_run(make_provider):
    assert make_provider().check(["draft", "review"]) == []


def test_openai_close_closes_the_client_and_refuses_later_calls(server, make_provider, fail):
    provider = make_provider()

    provider.close()
    provider.close()  # idempotent

    assert provider.client.is_closed()
    failure = fail(provider, make_request())
    assert "closed" in str(failure)
    assert failure.retryable is False
    assert server.requests == []


def test_openai_plugin_registers_the_provider_under_its_entry_point():
    [entry_point] = [ep for ep in importlib.metadata.entry_points(group="agent_engine") if ep.name == "openai"]
    registered: dict[str, object] = {}

    entry_point.load().register_llm_providers(registered.setdefault)

    assert entry_point.value == "agent_engine_openai.plugin"
    assert entry_point.dist is not None and entry_point.dist.name == "agent-engine-openai"
    assert registered == {"openai": openai_plugin.provider_factory}


def test_openai_plugin_discovery_does_not_import_the_sdk():
    code = ("import sys, agent_engine_openai, agent_engine_openai.plugin; "
            "agent_engine_openai.ALLOWED_OPTIONS; print('openai' in sys.modules)")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)

    assert result.stdout.strip() == "False"
