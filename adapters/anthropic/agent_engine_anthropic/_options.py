"""The agent config options the provider accepts, checked when the engine loads (no SDK import needed).

``setup.options`` is the agent's ``config`` without the engine's own keys (``max_tool_rounds``, ``timeout_s``,
``max_attempts``, ``retry_backoff_s``) and the offline providers' ``responses``. What is left must be one of
``OPTIONS``; anything else is a load-time ``ProviderError`` that names the key and lists the accepted ones, so a
typo (``temprature``) or a parameter this adapter does not map (``thinking``, ``stream``) never reaches a run.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agent_engine_core.errors import ProviderError
from agent_engine_core.llm import ENGINE_CONFIG_KEYS

__all__ = ["DEFAULT_MAX_TOKENS", "OPTIONS", "PROVIDER", "Options", "parse_options"]

PROVIDER = "anthropic"
"""The name agents.yaml writes before the slash: ``llm: anthropic/<model>``."""

DEFAULT_MAX_TOKENS = 4096
"""``max_tokens`` when the agent's config has none (the Messages API requires it; every Claude model allows it)."""

OPTIONS: Mapping[str, str] = MappingProxyType({
    "max_tokens": f"an integer >= 1: the most tokens the model may generate (default {DEFAULT_MAX_TOKENS})",
    "stop_sequences": "a list of non-empty strings: text that ends the model's turn",
    "temperature": "a number from 0 to 1",
    "top_k": "an integer >= 1",
    "top_p": "a number from 0 to 1",
})
"""Accepted agent config keys, each with what its value must be.

``temperature``, ``top_p`` and ``top_k`` are sent only when set; some newer models accept no sampling parameters
and answer HTTP 400, which fails the node without a retry.
"""

@dataclass(frozen=True, slots=True)
class Options:
    """The validated options of one agent."""

    max_tokens: int = DEFAULT_MAX_TOKENS
    stop_sequences: tuple[str, ...] = ()
    sampling: Mapping[str, float | int] = field(default_factory=lambda: MappingProxyType({}))
    """``temperature``, ``top_p``, ``top_k``: sent in the request body (the SDK has no keywords for them since 1.0)."""


def parse_options(options: Mapping[str, Any]) -> Options:
    """The ``Options`` in ``options``; raises ``ProviderError`` naming the first key that is unknown or invalid."""
    for key in sorted(options):
        if key not in OPTIONS:
            raise ProviderError(_unknown(key), provider=PROVIDER)
    max_tokens = options.get("max_tokens", DEFAULT_MAX_TOKENS)
    if not _is_int(max_tokens) or max_tokens < 1:
        raise _invalid("max_tokens", max_tokens)
    stop = options.get("stop_sequences", [])
    if not isinstance(stop, list | tuple) or not all(isinstance(s, str) and s for s in stop):
        raise _invalid("stop_sequences", stop)
    sampling: dict[str, float | int] = {}
    for key in ("temperature", "top_p"):
        if key in options:
            value = options[key]
            if not _is_number(value) or not 0 <= value <= 1:
                raise _invalid(key, value)
            sampling[key] = value
    if "top_k" in options:
        value = options["top_k"]
        if not _is_int(value) or value < 1:
            raise _invalid("top_k", value)
        sampling["top_k"] = value
    return Options(max_tokens, tuple(stop), MappingProxyType(sampling))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unknown(key: str) -> str:
    close = difflib.get_close_matches(key, [*OPTIONS, *ENGINE_CONFIG_KEYS], n=1, cutoff=0.7)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    return (f"config.{key} is not an option of the {PROVIDER} provider{hint}; accepted: "
            f"{', '.join(OPTIONS)}, plus the engine's own {', '.join(sorted(ENGINE_CONFIG_KEYS))}")


def _invalid(key: str, value: Any) -> ProviderError:
    return ProviderError(f"config.{key} must be {OPTIONS[key]}, not {value!r}", provider=PROVIDER)
