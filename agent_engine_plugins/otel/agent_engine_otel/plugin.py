"""The ``agent_engine`` entry point of agent-engine-otel: registers the ``otel`` telemetry sink.

Registering costs nothing: the sink (and any exporter) is built only for a project whose plugins.yaml has an
entry ``{id: otel, config: {...}}``.
"""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl

from agent_engine_otel._sink import build_sink


@hookimpl
def register_telemetry_sinks(register: Callable[..., None]) -> None:
    """``otel``: OpenTelemetry spans (GenAI semantic conventions) and GenAI client metrics."""
    register("otel", build_sink)
