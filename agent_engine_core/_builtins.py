"""The core's own components, registered through the same hooks as any third-party plugin."""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core.hookspecs import hookimpl
from agent_engine_core.providers.scripted import ScriptedProvider
from agent_engine_core.replay import replay_provider


@hookimpl
def register_llm_providers(register: Callable[..., None]) -> None:
    """``scripted`` and ``replay``: deterministic and offline (tests, demos, evaluations)."""
    register("scripted", ScriptedProvider)
    register("replay", replay_provider)
