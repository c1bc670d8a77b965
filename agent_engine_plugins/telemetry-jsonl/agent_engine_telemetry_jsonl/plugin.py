"""Entry point ``telemetry-jsonl``: registers the ``trace_file`` telemetry sink.

Loading this module switches nothing on; a project records its runs by naming the sink in plugins.yaml::

    plugins:
      - id: trace_file
        config: {path: .agent_engine/traces, max_bytes: 10485760, backups: 5}
"""

from __future__ import annotations

from collections.abc import Callable

from agent_engine_core import hookimpl

from agent_engine_telemetry_jsonl._sink import TraceFileSink

__all__ = ["SINK_NAME", "register_telemetry_sinks"]

SINK_NAME = "trace_file"


@hookimpl
def register_telemetry_sinks(register: Callable[..., None]) -> None:
    """Offer ``trace_file``; the core calls ``TraceFileSink.from_config(config, project_dir)`` to start it."""
    register(SINK_NAME, TraceFileSink.from_config)
