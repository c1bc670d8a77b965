"""The built-in ``log`` telemetry sink: every event as one structlog line, bound to run, task and node.

``plugins.yaml``: ``{id: log, config: {level: info, events: [node_failed, task_finished]}}``. ``level`` is the
structlog method used (debug, info, warning); ``events`` limits the event types logged (default: all). Payloads
are not logged (they can be large and may hold personal data): the line carries the event's identifiers,
status, error kind and message, and timings. Where lines go is the application's structlog configuration (the
CLI's, under ``agent-engine``); the library never configures structlog.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from agent_engine_core._logging import get_logger
from agent_engine_core.events import EVENT_TYPES, Event
from agent_engine_core.hookspecs import hookimpl

__all__ = ["LogSink"]

_LEVELS = ("debug", "info", "warning")
_FIELDS = ("node_id", "stage", "status", "route", "duration_s", "provider", "model", "latency_s", "attempts",
           "tool_id", "call_id", "profile", "tokens", "dropped", "policy", "target", "target_id", "reason",
           "child_id", "label", "targets", "waiting_at", "start_node")


class LogSink:
    """Logs every event (of the configured types) with structlog."""

    def __init__(self, config: Mapping[str, Any], project_dir: Path | None) -> None:
        unknown = sorted(set(config) - {"level", "events"})
        if unknown:
            raise ValueError(f"the log sink takes level and events, not {', '.join(unknown)}")
        level = config.get("level", "info")
        if level not in _LEVELS:
            raise ValueError(f"level must be one of {', '.join(_LEVELS)}, not {level!r}")
        events = config.get("events")
        if events is not None and (not isinstance(events, list) or set(events) - set(EVENT_TYPES)):
            raise ValueError(f"events must be a list of event types ({', '.join(sorted(EVENT_TYPES))})")
        self._log = getattr(get_logger("agent_engine.events"), level)
        self._types = frozenset(events) if events is not None else None

    @hookimpl
    def on_event(self, event: Event) -> None:
        """One log line for the event."""
        if self._types is not None and event.type not in self._types:
            return
        fields = {name: getattr(event, name) for name in _FIELDS if getattr(event, name, None) is not None}
        error = getattr(event, "error", None)
        if error is not None and not isinstance(error, str):
            fields.update(error_kind=str(error.kind), error=error.message)
        elif error is not None:
            fields["error"] = error
        self._log(event.type, run_id=event.run_id, task_id=event.task_id, seq=event.seq, **fields)
