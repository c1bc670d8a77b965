"""The ``agent_engine`` entry point of agent-engine-otel: registers the ``otel`` telemetry sink.

Registering costs nothing: this module imports no OpenTelemetry code. The sink (and any exporter) is built, and
OpenTelemetry imported, only for a project whose plugins.yaml has an entry ``{id: otel, config: {...}}``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from agent_engine_core import hookimpl


def build_sink(config: Mapping[str, Any], project_dir: Path | None) -> Any:
    """The sink factory; imports the OpenTelemetry SDK on first use only."""
    from agent_engine_otel._sink import build_sink as build  # noqa: PLC0415 - keeps engine start-up light

    return build(config, project_dir)


@hookimpl
def register_telemetry_sinks(register: Callable[..., None]) -> None:
    """``otel``: OpenTelemetry spans (GenAI semantic conventions) and GenAI client metrics."""
    register("otel", build_sink)
