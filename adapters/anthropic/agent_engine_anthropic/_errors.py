"""Turn what the SDK raises into ``ProviderError``s the engine can retry (or not) and show.

- no connection, or no answer within the attempt's timeout: retryable, ``status=None``;
- HTTP 408, 409, 429, 5xx (529 is the API's "overloaded"): retryable; any other status is not. A server's
  ``x-should-retry: true|false`` header overrides that, as the SDK's own retry logic would let it;
- ``retry_after`` (seconds) comes from ``retry-after-ms``, else ``Retry-After`` (seconds or an HTTP date);
- a body the SDK cannot read (not JSON, not a message): not retryable.

Messages give the HTTP status, the API's error type and its message (cut to ``MAX_DETAIL`` characters), never a
header, and the credential's key is removed from anything the server sent before it is cut, in case the
server echoes it.
"""

from __future__ import annotations

import datetime
import email.utils
import json
import math
import time
from collections.abc import Mapping
from typing import Any

import anthropic
from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import Credential
from agent_engine_core.secrets import redact

from agent_engine_anthropic._mapping import malformed
from agent_engine_anthropic._options import PROVIDER

__all__ = ["MAX_DETAIL", "RETRYABLE_STATUSES", "from_json_error", "from_sdk_error", "retry_after_s"]

RETRYABLE_STATUSES = frozenset({408, 409, 429})
"""Retryable below 500; every status from 500 up is retryable too (529: the API is overloaded)."""

MAX_DETAIL = 500
"""The most characters of the server's own words an error message carries."""

_HINTS = {
    401: "check the API key of credential '{credential}' ({origin})",
    403: "the key of credential '{credential}' may not use this model or endpoint",
    404: "check the model name '{model}' and the credential's base_url",
    413: "the request is too large: fewer tools, a smaller context or a smaller input",
}


def from_sdk_error(
    exc: anthropic.AnthropicError, *, credential: Credential, base_url: str, model: str, timeout_s: float
) -> ProviderError:
    """The ``ProviderError`` for ``exc``, raised by a ``messages.create`` call to ``base_url``."""
    if isinstance(exc, anthropic.APITimeoutError):
        return ProviderError(f"no answer from the Anthropic API within {timeout_s:g} s", provider=PROVIDER,
                             retryable=True)
    if isinstance(exc, anthropic.APIConnectionError):
        cause = type(exc.__cause__).__name__ if exc.__cause__ is not None else "connection error"
        return ProviderError(f"could not reach the Anthropic API at {base_url} "
                             f"({cause})", provider=PROVIDER, retryable=True)
    if isinstance(exc, anthropic.APIStatusError):
        return _from_status(exc, credential, model)
    if isinstance(exc, anthropic.APIResponseValidationError):
        return malformed("it does not match the Messages API's reply schema")
    detail = _clip(redact(str(exc), [credential.api_key]))
    return ProviderError(f"the Anthropic SDK failed: {type(exc).__name__}: {detail}", provider=PROVIDER)


def from_json_error(exc: json.JSONDecodeError) -> ProviderError:
    """The error for a reply body that is not JSON (the position only: the text may hold anything)."""
    return malformed(f"its body is not JSON (line {exc.lineno}, column {exc.colno})")


def _from_status(exc: anthropic.APIStatusError, credential: Credential, model: str) -> ProviderError:
    status = exc.status_code
    headers = exc.response.headers
    should_retry = headers.get("x-should-retry")
    if should_retry in ("true", "false"):
        retryable = should_retry == "true"
    else:
        retryable = status in RETRYABLE_STATUSES or status >= 500  # noqa: PLR2004 - the 5xx class
    error_type, detail = _error_body(exc.body)
    detail = _clip(redact(detail, [credential.api_key]))
    message = f"the Anthropic API answered HTTP {status}" + (f" {error_type}" if error_type else "")
    message += f": {detail}" if detail else ""
    hint = _HINTS.get(status)
    if hint is not None:
        message += "; " + hint.format(credential=credential.id, origin=credential.api_key.origin, model=model)
    return ProviderError(message, provider=PROVIDER, retryable=retryable, status=status,
                         retry_after=retry_after_s(headers))


def _error_body(body: Any) -> tuple[str, str]:
    """The API's ``error.type`` and ``error.message``, or a whitespace-collapsed excerpt of a non-JSON body."""
    if isinstance(body, Mapping):
        error = body.get("error")
        if isinstance(error, Mapping):
            error_type, text = error.get("type"), error.get("message")
            return (error_type if isinstance(error_type, str) else "", text if isinstance(text, str) else "")
        return "", ""
    if isinstance(body, str | bytes):
        text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
        return "", " ".join(text.split())
    return "", ""


def _clip(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "..."


def retry_after_s(headers: Mapping[str, str]) -> float | None:
    """Seconds to wait, from ``retry-after-ms`` or ``Retry-After`` (seconds or an HTTP date); ``None`` if absent.

    ``headers`` must look names up case-insensitively (as ``httpx`` headers do). Never negative.
    """
    milliseconds = headers.get("retry-after-ms")
    if milliseconds is not None:
        seconds = _number(milliseconds)
        if seconds is not None:
            return max(seconds / 1000, 0.0)
    value = headers.get("retry-after")
    if value is None:
        return None
    seconds = _number(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000": a date in UTC whose source did not say so
        when = when.replace(tzinfo=datetime.UTC)
    return max(when.timestamp() - time.time(), 0.0)


def _number(text: str) -> float | None:
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None
