"""agent-engine-telemetry-jsonl: the ``trace_file`` sink, one JSON line per event in a rotating file per run.

Recording is switched on in plugins.yaml (see ``agent_engine_telemetry_jsonl.plugin``); ``read_trace`` reads
the files back, and the core's ``Trace.from_events`` turns the events of a run into its canonical ``Trace``.
"""

from agent_engine_telemetry_jsonl._names import trace_stem
from agent_engine_telemetry_jsonl._read import TornLineWarning, read_trace
from agent_engine_telemetry_jsonl._sink import TraceFileConfig, TraceFileSink

__all__ = [
    "TornLineWarning",
    "TraceFileConfig",
    "TraceFileSink",
    "read_trace",
    "trace_stem",
]
