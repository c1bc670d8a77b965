"""The entry point module: registers the ``metrics`` telemetry sink (switched on in plugins.yaml)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent_engine_core import hookimpl

__all__ = ["SINK_NAME", "build_sink", "register_telemetry_sinks"]

SINK_NAME = "metrics"
"""The id plugins.yaml uses to switch the sink on."""


def build_sink(config: Mapping[str, Any], project_dir: Path | None) -> Any:
    """The sink factory: resolve metrics.yaml and ``config``, then build the sink (``ValueError`` if invalid).

    The core calls it once per engine while the engine is built, so each engine gets its own registry.
    prometheus_client is imported here, not at discovery, so installing the plugin costs engines nothing.
    """
    from agent_engine_metrics._config import resolve_settings  # noqa: PLC0415 - light discovery
    from agent_engine_metrics._sink import MetricsSink  # noqa: PLC0415

    return MetricsSink(resolve_settings(config, project_dir))


@hookimpl
def register_telemetry_sinks(register: Callable[..., None]) -> None:
    """Offer the ``metrics`` sink to the engine."""
    register(SINK_NAME, build_sink)
