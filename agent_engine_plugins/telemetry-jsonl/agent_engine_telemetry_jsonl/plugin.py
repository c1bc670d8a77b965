"""Entry point ``telemetry-jsonl``: registers the ``trace_file`` telemetry sink and reads its files back.

Loading this module switches nothing on; a project records its runs by naming the sink in plugins.yaml::

    plugins:
      - id: trace_file
        config: {path: .agent_engine/traces, max_bytes: 10485760, backups: 5}

``agent-engine replay DIR TRACE`` then replays a recorded run from its trace file or folder.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from agent_engine_core import hookimpl

from agent_engine_telemetry_jsonl._read import read_trace
from agent_engine_telemetry_jsonl._sink import TraceFileSink

__all__ = ["SINK_NAME", "read_trace_events", "register_telemetry_sinks"]

SINK_NAME = "trace_file"


@hookimpl
def register_telemetry_sinks(register: Callable[..., None]) -> None:
    """Offer ``trace_file``; the core calls ``TraceFileSink.from_config(config, project_dir)`` to start it."""
    register(SINK_NAME, TraceFileSink.from_config)


@hookimpl(trylast=True)  # it takes any path, so readers that recognise their own files are asked first
def read_trace_events(path: Path, run_id: str | None) -> list[dict[str, Any]]:
    """Read ``path`` as a trace file or folder of this sink (see ``read_trace``); the core rebuilds the trace.

    Raises:
        FileNotFoundError: no file of ``run_id`` in the folder.
        ValueError: a damaged line (``file:line``), or a folder that holds no trace file.
    """
    events = read_trace(path, run_id)
    if not events and path.is_dir():
        raise ValueError("it holds no telemetry-jsonl trace files (RUN.jsonl)")
    return events
