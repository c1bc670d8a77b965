"""The ``openai`` provider: one synchronous ``openai.OpenAI`` client per agent, talking Chat Completions.

The client is the SDK's sync one, shared by every call of the agent: the engine runs a plain ``def complete`` in
its worker threads (the client is thread-safe), so one client serves the engine's per-thread event loops alike,
and ``close()`` closes it deterministically. The SDK's own retries are off (``max_retries=0``): the engine
retries, so that every attempt is recorded. Each call passes the engine's per-attempt timeout.

Nothing is read from the environment implicitly: the key and the endpoint come from the agent's credential
(``provider_credentials.yaml``), the key is handed to the SDK in one place, and the explicit ``Authorization``
header also overrides one that ``OPENAI_CUSTOM_HEADERS`` could set. Error messages carry the status and the
server's own message, never request headers, and any occurrence of the key is removed from them.
"""

from __future__ import annotations

import email.utils
import json
import math
import time
import urllib.parse
from collections.abc import Mapping, Sequence
from typing import Any

import openai
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import Credential, LlmReply, LlmRequest, ProviderSetup
from agent_engine_core.secrets import redact

from agent_engine_openai._mapping import PROVIDER, build_body, check_options, parse_reply

__all__ = ["OPENAI_API_BASE", "RETRYABLE_STATUSES", "OpenAIProvider", "create_provider"]

OPENAI_API_BASE = "https://api.openai.com/v1"
"""The endpoint used when the credential sets no ``base_url``."""

RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""HTTP statuses another attempt may cure besides every 5xx: request timeout, conflict, rate limit."""

SERVER_ERRORS = 500
"""Statuses from here up are the server's failures, all retryable."""


def create_provider(setup: ProviderSetup) -> OpenAIProvider:
    """The provider of one agent (the factory registered as ``openai``); ``ProviderError`` for an unusable config.

    Raises:
        ProviderError: an option outside ``ALLOWED_OPTIONS`` or of the wrong type, no credential, or a
            ``base_url`` that is not an http(s) URL.
    """
    options = check_options(setup.options)
    credential = setup.credential
    if credential is None:
        raise ProviderError(
            "no credential for provider 'openai': add an entry for provider 'openai' to provider_credentials.yaml "
            "(auth: {type: api_key, source: env, env_var: OPENAI_API_KEY}; local servers that check no key "
            "accept any value)",
            provider=PROVIDER,
        )
    base_url = credential.base_url or OPENAI_API_BASE
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ProviderError(f"credential '{credential.id}': base_url must be an http(s) URL such as "
                            f"http://localhost:11434/v1, not {_shown_url(base_url)!r}", provider=PROVIDER)
    return OpenAIProvider(setup.model, credential, options, base_url=base_url)


class OpenAIProvider:
    """Answers one agent's requests through the Chat Completions API of OpenAI or a compatible server.

    Built by ``create_provider``: ``options`` are the agent's checked options (``check_options``), applied to
    every call; ``base_url`` is the endpoint (the credential's, or ``OPENAI_API_BASE``).
    """

    def __init__(self, model: str, credential: Credential, options: Mapping[str, Any], *, base_url: str) -> None:
        self._model = model
        self._credential = credential
        self._options = dict(options)
        self._where = _shown_url(base_url)
        self._closed = False
        key = credential.api_key.reveal()
        self._client = openai.OpenAI(
            api_key=key,
            base_url=base_url,
            max_retries=0,
            # explicit, so that an Authorization line in OPENAI_CUSTOM_HEADERS cannot replace the credential's key
            default_headers={"Authorization": f"Bearer {key}"},
        )

    @property
    def client(self) -> openai.OpenAI:
        """The SDK client (for inspection; the provider closes it in ``close()``)."""
        return self._client

    def complete(self, request: LlmRequest) -> LlmReply:
        """Send ``request`` as one chat completion; ``ProviderError`` says whether another attempt may help."""
        if self._closed:
            raise ProviderError("the openai provider was closed; build a new engine to call the model again",
                                provider=PROVIDER)
        wire = build_body(request, self._options)
        timeout = request.timeout_s if request.timeout_s is not None else openai.NOT_GIVEN
        try:
            raw = self._client.chat.completions.with_raw_response.create(**wire.body, timeout=timeout)
            text = raw.text
        except openai.APITimeoutError:
            within = f"within {request.timeout_s:g} s" if request.timeout_s is not None else "before the SDK's timeout"
            raise ProviderError(f"no answer from {self._where} {within}", provider=PROVIDER, retryable=True) from None
        except openai.APIConnectionError as exc:
            raise ProviderError(self._clean(f"cannot reach {self._where}: {_cause(exc)}"), provider=PROVIDER,
                                retryable=True) from None
        except openai.APIStatusError as exc:
            raise self._status_error(exc) from None
        except openai.OpenAIError as exc:
            raise ProviderError(self._clean(f"{self._where}: {type(exc).__name__}: {exc}"),
                                provider=PROVIDER) from None
        try:
            data = json.loads(text)
        except ValueError:
            status = raw.http_response.status_code
            raise ProviderError(self._clean(f"{self._where} sent a reply that is not JSON (HTTP {status}): "
                                            f"{text[:200]!r}"), provider=PROVIDER) from None
        try:
            return parse_reply(data, wire.names, model=request.model, where=self._where)
        except ProviderError as exc:
            raise ProviderError(self._clean(str(exc)), provider=PROVIDER) from None

    def check(self, node_ids: Sequence[str]) -> list[str]:
        """Nothing to report before a run: the endpoint, key and model are only known to work once called."""
        return []

    def describe(self) -> dict[str, str]:
        """SDK, API and endpoint (without any user info in the URL), and the credential's id; never the key."""
        return {
            "sdk": "openai",
            "sdk_version": openai.__version__,
            "api": "chat.completions",
            "base_url": self._where,
            "credential": self._credential.id,
        }

    def close(self) -> None:
        """Close the SDK client and its connections; later calls fail with a (non-retryable) ``ProviderError``."""
        self._closed = True
        self._client.close()

    def _status_error(self, exc: openai.APIStatusError) -> ProviderError:
        status = exc.status_code
        message = f"{self._where} answered HTTP {status}"
        detail = _server_detail(exc.body)
        if detail:
            message += f": {detail}"
        hint = self._hint(status)
        if hint:
            message += f" ({hint})"
        return ProviderError(
            self._clean(message), provider=PROVIDER, retryable=status in RETRYABLE_STATUSES or status >= SERVER_ERRORS,
            status=status, retry_after=retry_after(exc.response.headers),
        )

    def _hint(self, status: int) -> str | None:
        credential = self._credential
        return {
            401: f"check the API key of credential '{credential.id}' ({credential.api_key.origin})",
            403: f"the key of credential '{credential.id}' may not use model '{self._model}' or this endpoint",
            404: f"check the model name '{self._model}' and the base_url (it usually ends in /v1)",
        }.get(status)

    def _clean(self, text: str) -> str:
        return redact(text, (self._credential.api_key,))


def retry_after(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); None if absent."""
    milliseconds = _finite(headers.get("retry-after-ms"))
    if milliseconds is not None:
        return milliseconds / 1000
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return seconds
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        return None
    return max(when.timestamp() - time.time(), 0.0)


def _finite(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        number = float(value.strip())
    except ValueError:
        return None
    return number if math.isfinite(number) and number >= 0 else None


def _server_detail(body: object) -> str:
    """The server's error message (with its type and code), or the start of a body that is not OpenAI-shaped."""
    if isinstance(body, Mapping):
        message = body.get("message")
        extra = ", ".join(f"{k}: {body[k]}" for k in ("type", "code") if isinstance(body.get(k), str | int))
        text = str(message) if message else json.dumps(body, ensure_ascii=False)[:300]
        return f"{text[:500]} ({extra})" if extra else text[:500]
    if isinstance(body, str):
        return " ".join(body.split())[:300]
    return ""


def _cause(exc: openai.APIConnectionError) -> str:
    cause = exc.__cause__
    if cause is None:
        return exc.message
    return f"{type(cause).__name__}: {cause}" if str(cause) else type(cause).__name__


def _shown_url(url: str) -> str:
    """``url`` without user info, query or fragment (so no secret in a URL reaches metadata or messages)."""
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port
    except ValueError:
        port = None
    netloc = f"{host}:{port}" if port is not None else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path.rstrip("/"), "", ""))
