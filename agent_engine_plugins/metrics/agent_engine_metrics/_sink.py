"""``MetricsSink``: turns engine events into Prometheus timers, counters and gauges.

Each sink owns its own ``CollectorRegistry``: the global default registry would make two engines in one
process (or two tests) collide on metric names and mix their numbers. Only the families named in ``collect``
are created, so a family switched off costs nothing and does not appear in the output.

Durations come from the events themselves (``duration_s`` of a stage, ``latency_s`` of an agent call, the
timestamps of a task's first and last event), never from the sink's own clock, so delivery in the background
does not distort them. The sink only reads events; nothing it does reaches the run.
"""

from __future__ import annotations

import os
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from wsgiref.simple_server import WSGIServer

from agent_engine_core import hookimpl
from agent_engine_core.events import AgentCallEvent, NodeFinished, TaskFinished, TaskStarted, ToolInvoked
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest, start_http_server

from agent_engine_metrics._config import Settings

__all__ = ["HOST", "MetricsSink"]

HOST = "127.0.0.1"
"""The HTTP endpoint listens on loopback only: exposing it further is a deployment decision (a proxy)."""


@dataclass(frozen=True, slots=True)
class _Nodes:
    duration: Histogram
    runs: Counter


@dataclass(frozen=True, slots=True)
class _Tasks:
    duration: Histogram
    finished: Counter
    in_flight: Gauge


@dataclass(frozen=True, slots=True)
class _Agents:
    calls: Counter
    duration: Histogram
    tokens: Counter


@dataclass(frozen=True, slots=True)
class _Tools:
    calls: Counter


class MetricsSink:
    """The ``metrics`` telemetry sink: one registry, the enabled metric families, and their exposure.

    ``render()`` gives the Prometheus text format; with ``textfile`` set the same text is written atomically
    whenever a root task finishes; with ``port`` set it is served over HTTP on 127.0.0.1 until ``close()``.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.registry = CollectorRegistry()
        ns, buckets, on = settings.namespace, settings.buckets, settings.collect
        reg = self.registry
        self._nodes = _Nodes(
            Histogram("node_duration_seconds", "Duration of one stage (a node run by a task).", ["node"],
                      namespace=ns, buckets=buckets, registry=reg),
            Counter("node_runs", "Stages run, by node and final stage status.", ["node", "status"],
                    namespace=ns, registry=reg),
        ) if "nodes" in on else None
        self._tasks = _Tasks(
            Histogram("task_duration_seconds", "Duration of a task from its start to its end (or its merge).",
                      ["kind"], namespace=ns, buckets=buckets, registry=reg),
            Counter("tasks", "Tasks finished, by kind (root, clone, subtask) and status.", ["kind", "status"],
                    namespace=ns, registry=reg),
            Gauge("tasks_in_flight", "Tasks started and not yet finished.", namespace=ns, registry=reg),
        ) if "tasks" in on else None
        self._agents = _Agents(
            Counter("agent_calls", "LLM provider calls answering agent nodes.", ["provider", "model"],
                    namespace=ns, registry=reg),
            Histogram("agent_call_duration_seconds", "Latency of one LLM provider call.", ["provider", "model"],
                      namespace=ns, buckets=buckets, registry=reg),
            Counter("tokens", "Tokens reported by providers, by type (input, output, ...).",
                    ["provider", "model", "type"], namespace=ns, registry=reg),
        ) if "agents" in on else None
        self._tools = _Tools(
            Counter("tool_calls", "Tool invocations, by tool, calling node and status.", ["tool", "node", "status"],
                    namespace=ns, registry=reg),
        ) if "tools" in on else None
        self._started: dict[tuple[str, str], tuple[float, str]] = {}
        self._lock = threading.Lock()
        self._server: tuple[WSGIServer, threading.Thread] | None = None
        if settings.port is not None:
            self._server = start_http_server(settings.port, addr=HOST, registry=self.registry)

    # -- exposure ---------------------------------------------------------------------------------------------

    def render(self) -> str:
        """Every collected metric in the Prometheus text exposition format."""
        return generate_latest(self.registry).decode("utf-8")

    @property
    def url(self) -> str | None:
        """Where the HTTP endpoint serves ``/metrics`` (``None`` without ``port`` or after ``close()``)."""
        if self._server is None:
            return None
        return f"http://{HOST}:{self._server[0].server_port}/metrics"

    def write_textfile(self) -> None:
        """Write ``render()`` to ``settings.textfile`` atomically: a reader sees the old file or the new one."""
        target = self.settings.textfile
        if target is None:
            return
        # The temp name does not end in .prom, so node_exporter's textfile collector never reads it half-written.
        handle, temp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        try:
            with os.fdopen(handle, "w", encoding="utf-8") as stream:
                stream.write(self.render())
                stream.flush()
                os.fsync(stream.fileno())
            Path(temp).replace(target)
        except BaseException:
            Path(temp).unlink(missing_ok=True)
            raise

    def close(self) -> None:
        """Stop the HTTP endpoint, if any (the core does not close sinks yet: embedders call this)."""
        if self._server is not None:
            server, thread = self._server
            self._server = None
            server.shutdown()
            server.server_close()
            thread.join()

    # -- observer hooks ---------------------------------------------------------------------------------------

    @hookimpl
    def on_task_started(self, event: TaskStarted) -> None:
        """Remember when and what kind of task started; count it in flight."""
        if self._tasks is None:
            return
        with self._lock:
            self._started[(event.run_id, event.task_id)] = (event.timestamp, event.lineage.kind)
        self._tasks.in_flight.inc()

    @hookimpl
    def on_task_finished(self, event: TaskFinished) -> None:
        """Count the task by kind and status, time it, and refresh the textfile when a root task ends."""
        if self._tasks is not None:
            with self._lock:
                started = self._started.pop((event.run_id, event.task_id), None)
            if started is not None:  # a task whose start this sink saw; the gauge stays balanced
                began, kind = started
                self._tasks.in_flight.dec()
                self._tasks.finished.labels(kind=kind, status=event.status).inc()
                self._tasks.duration.labels(kind=kind).observe(max(0.0, event.timestamp - began))
        if event.task_id == event.run_id:  # the root task's id is its run id (docs/EVENTS.md)
            self.write_textfile()

    @hookimpl
    def on_node_finished(self, event: NodeFinished) -> None:
        """Count the stage by node and status and record its duration."""
        if self._nodes is None:
            return
        self._nodes.runs.labels(node=event.node_id, status=event.status).inc()
        self._nodes.duration.labels(node=event.node_id).observe(max(0.0, event.duration_s))

    @hookimpl
    def on_agent_call(self, event: AgentCallEvent) -> None:
        """Count the call, its latency, and every ``*_tokens`` entry of its usage."""
        if self._agents is None:
            return
        labels = {"provider": event.provider, "model": event.model}
        self._agents.calls.labels(**labels).inc()
        self._agents.duration.labels(**labels).observe(max(0.0, event.latency_s))
        for key, value in sorted(event.usage.items()):
            if key.endswith("_tokens") and isinstance(value, int) and value >= 0:
                self._agents.tokens.labels(**labels, type=key.removesuffix("_tokens")).inc(value)

    @hookimpl
    def on_tool_invoked(self, event: ToolInvoked) -> None:
        """Count the invocation by tool, node and status."""
        if self._tools is None:
            return
        self._tools.calls.labels(tool=event.tool_id, node=event.node_id, status=event.status).inc()
