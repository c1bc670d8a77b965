"""``AnthropicProvider``: one agent's provider, a synchronous ``anthropic.Anthropic`` client behind it.

The engine runs a plain ``def complete`` in its worker threads, so one client (and one connection pool) serves
every thread of the engine and ``close()`` shuts it deterministically. The client is built from the agent's
``provider_credentials.yaml`` entry and nothing else:

- ``api_key`` and ``base_url`` are always passed (``base_url`` falls back to ``DEFAULT_BASE_URL``), which keeps
  the SDK from reading ``ANTHROPIC_API_KEY``, ``ANTHROPIC_AUTH_TOKEN``, ``ANTHROPIC_BASE_URL``, profiles or
  workload-identity settings from the environment;
- ``ANTHROPIC_CUSTOM_HEADERS`` is the one SDK variable still read (it adds headers such as beta flags); if it
  sets ``Authorization`` or ``X-Api-Key``, which would replace the credential's key, the factory refuses;
- ``max_retries=0``: the engine retries, so that every attempt is recorded; each call passes the attempt's
  timeout (``request.timeout_s``);
- ``open_telemetry=False``: the engine records every call and ``agent-engine-otel`` traces it; the SDK's own
  spans would start outside the engine's trace context, and could be told by environment variables to copy
  prompts into spans.
"""

from __future__ import annotations

import json
import os
import threading
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import anthropic
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import Credential, LlmReply, LlmRequest, ProviderSetup

from agent_engine_anthropic._errors import from_json_error, from_sdk_error
from agent_engine_anthropic._mapping import parse_reply, prepare
from agent_engine_anthropic._options import PROVIDER, parse_options

__all__ = ["DEFAULT_BASE_URL", "DEFAULT_TIMEOUT_S", "AnthropicProvider"]

DEFAULT_BASE_URL = "https://api.anthropic.com"
"""The endpoint when the credential sets no ``config.base_url`` (the SDK's own default)."""

DEFAULT_TIMEOUT_S = 600.0
"""The timeout of a call whose request carries none (the engine always sets one: the agent's ``timeout_s``)."""

_AUTH_HEADERS = frozenset({"authorization", "x-api-key"})


class AnthropicProvider:
    """Answers one agent's requests through the Anthropic Messages API.

    Raises ``ProviderError`` when built for an agent whose config has an unknown or invalid option, whose
    credential is missing or not an ``anthropic`` one, or whose ``base_url`` is not an http(s) URL.
    """

    def __init__(self, setup: ProviderSetup) -> None:
        self._options = parse_options(setup.options)
        self._credential = _credential(setup.credential)
        self._base_url = _base_url(self._credential)
        _refuse_auth_from_environment(self._credential)
        self._client = anthropic.Anthropic(
            api_key=self._credential.api_key.reveal(), base_url=self._base_url, max_retries=0, open_telemetry=False,
        )
        self._closed = False
        self._lock = threading.Lock()

    def complete(self, request: LlmRequest) -> LlmReply:
        """One Messages API call for ``request``; a failed call raises ``ProviderError``."""
        if self._closed:
            raise ProviderError("the anthropic provider is closed (its engine was closed)", provider=PROVIDER)
        prepared = prepare(request, self._options)
        timeout_s = request.timeout_s if request.timeout_s is not None else DEFAULT_TIMEOUT_S
        params: dict[str, Any] = dict(prepared.params)
        try:
            message = self._client.messages.create(**params, timeout=timeout_s)
        except anthropic.AnthropicError as exc:
            error = from_sdk_error(exc, credential=self._credential, base_url=self._base_url, model=request.model,
                                   timeout_s=timeout_s)
        except json.JSONDecodeError as exc:
            error = from_json_error(exc)
        else:
            return parse_reply(message, prepared)
        raise error  # outside the handlers: the SDK's exception (which may quote the body) is not chained

    def check(self, node_ids: Sequence[str]) -> list[str]:
        """Nothing to check before a run: the model and the key are known to be good only by calling."""
        return []

    def describe(self) -> Mapping[str, str]:
        """The SDK, its version, the endpoint and the credential's id (never its key)."""
        return {"sdk": "anthropic", "sdk_version": anthropic.__version__, "base_url": self._base_url,
                "credential": self._credential.id}

    def close(self) -> None:
        """Close the client's connections; later calls fail with ``ProviderError``. Idempotent."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._client.close()


def _credential(credential: Credential | None) -> Credential:
    if credential is None:
        raise ProviderError(
            f"no API key for provider '{PROVIDER}': add an entry for provider '{PROVIDER}' to "
            "provider_credentials.yaml (auth: {type: api_key, source: env, env_var: ANTHROPIC_API_KEY})",
            provider=PROVIDER,
        )
    if credential.provider != PROVIDER:
        raise ProviderError(f"credential '{credential.id}' is for provider '{credential.provider}', not "
                            f"'{PROVIDER}'", provider=PROVIDER)
    return credential


def _base_url(credential: Credential) -> str:
    url = credential.base_url or DEFAULT_BASE_URL
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError(f"credential '{credential.id}': config.base_url must be an http(s) URL such as "
                            f"{DEFAULT_BASE_URL}, not {url!r}", provider=PROVIDER)
    if parts.username is not None or parts.password is not None:  # it would show in metadata and errors
        raise ProviderError(f"credential '{credential.id}': config.base_url must not hold a user name or "
                            "password; the key goes in auth", provider=PROVIDER)
    return url


def _refuse_auth_from_environment(credential: Credential) -> None:
    """Refuse ``ANTHROPIC_CUSTOM_HEADERS`` lines that would replace the credential's key (parsed as the SDK does)."""
    for line in os.environ.get("ANTHROPIC_CUSTOM_HEADERS", "").split("\n"):
        name, colon, _ = line.partition(":")
        if colon and name.strip().lower() in _AUTH_HEADERS:
            raise ProviderError(
                f"the environment variable ANTHROPIC_CUSTOM_HEADERS sets a {name.strip()} header, which would "
                f"replace the key of credential '{credential.id}'; remove that line from the variable",
                provider=PROVIDER,
            )
