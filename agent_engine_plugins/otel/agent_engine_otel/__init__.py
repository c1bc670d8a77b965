"""OpenTelemetry for Agent Engine: every run as one trace following the GenAI semantic conventions.

Operators switch the sink on in plugins.yaml (``plugins: [{id: otel, config: {endpoint: ...}}]``); embedders
who configure OpenTelemetry themselves leave ``endpoint`` out, or hand providers in with ``use_providers``.
The names below are imported on first access, so that discovering the plugin does not import OpenTelemetry.
"""

from __future__ import annotations

from typing import Any

from agent_engine_core.lazy import lazy_attribute

from agent_engine_otel._version import __version__

__all__ = [
    "OtelSink",
    "__version__",
    "force_flush",
    "shutdown",
    "use_providers",
]

_LAZY = {
    "OtelSink": "agent_engine_otel._sink",
    "force_flush": "agent_engine_otel._config",
    "shutdown": "agent_engine_otel._config",
    "use_providers": "agent_engine_otel._config",
}


def __getattr__(name: str) -> Any:
    return lazy_attribute(__name__, _LAZY, name)
