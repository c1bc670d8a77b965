"""Turn a run's events into OpenTelemetry spans and GenAI metrics.

The span tree mirrors the run's task tree, following the GenAI semantic conventions where they name the
operation:

    invoke_workflow <workflow>             the root task (INTERNAL)
    ├── <node id>                          a deterministic stage (INTERNAL)
    ├── invoke_agent <agent>               an agent stage (INTERNAL: the agent runs in-process)
    │   ├── chat <model>                   one LLM call (CLIENT)
    │   └── execute_tool <tool>            one tool call (INTERNAL)
    ├── <branch or split node>
    │   ├── clone <branch node>            each child task, under the stage that created it
    │   │   └── ...                        the child's own stages
    │   └── clone <branch node>
    └── <merge node>                       linked to the child task spans it merged

Node spans are built when their stage ends (``node_finished``), from the ``node_started`` timestamp to the
``node_finished`` one: only then is it known whether the stage called an agent, and a span's name and kind
must be final when it starts (samplers decide on them). Events of one task arrive in order, so a stage's
``node_started``, ``agent_call``s and ``node_finished`` are buffered per task; siblings that run concurrently
interleave, and concurrent runs may share the sink, hence one lock around the state.

Nothing here reads the engine: spans are built from the frozen events alone, so the sink cannot change a
run's trace. Message content (task, node, prompt and reply payloads) is recorded only with
``capture_content: true``; credentials never reach an event, and the exporter's headers never reach a span.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_engine_core import hookimpl
from agent_engine_core.events import (
    AgentCallEvent,
    ChildCreated,
    Event,
    MergeFired,
    NodeFinished,
    NodeStarted,
    TaskFinished,
    TaskStarted,
    ToolInvoked,
)
from agent_engine_core.records import StageError
from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, Span, SpanContext, SpanKind, Status, StatusCode
from opentelemetry.util.types import AttributeValue

from agent_engine_otel._config import OtelConfig, providers_for
from agent_engine_otel._version import __version__

__all__ = ["OtelSink", "build_sink"]

# GenAI semantic conventions (https://opentelemetry.io/docs/specs/semconv/gen-ai/), spelled out rather than
# imported from opentelemetry-semantic-conventions' unstable ``_incubating`` modules.
OPERATION = "gen_ai.operation.name"
PROVIDER = "gen_ai.provider.name"
REQUEST_MODEL = "gen_ai.request.model"
RESPONSE_MODEL = "gen_ai.response.model"
RESPONSE_ID = "gen_ai.response.id"
FINISH_REASONS = "gen_ai.response.finish_reasons"
INPUT_TOKENS = "gen_ai.usage.input_tokens"
OUTPUT_TOKENS = "gen_ai.usage.output_tokens"
AGENT_ID = "gen_ai.agent.id"
AGENT_NAME = "gen_ai.agent.name"
WORKFLOW_NAME = "gen_ai.workflow.name"
TOOL_NAME = "gen_ai.tool.name"
TOKEN_TYPE = "gen_ai.token.type"
SYSTEM_INSTRUCTIONS = "gen_ai.system_instructions"
INPUT_MESSAGES = "gen_ai.input.messages"
OUTPUT_MESSAGES = "gen_ai.output.messages"
TOOL_ARGUMENTS = "gen_ai.tool.call.arguments"
TOOL_RESULT = "gen_ai.tool.call.result"
ERROR_TYPE = "error.type"

# Agent Engine's own attributes: where in the run a span belongs.
RUN_ID = "agent_engine.run_id"
TASK_ID = "agent_engine.task_id"
TASK_KIND = "agent_engine.task.kind"
TASK_PARENT = "agent_engine.task.parent_id"
TASK_INDEX = "agent_engine.task.index"
TASK_STATUS = "agent_engine.task.status"
TASK_WAITING_AT = "agent_engine.task.waiting_at"
START_NODE = "agent_engine.start_node"
NODE_ID = "agent_engine.node_id"
STAGE = "agent_engine.stage"
NODE_STATUS = "agent_engine.node.status"
ROUTE = "agent_engine.route"
TOOL_STATUS = "agent_engine.tool.status"
TASK_INPUT = "agent_engine.task.input"
TASK_OUTPUT = "agent_engine.task.output"
NODE_INPUT = "agent_engine.node.input"
NODE_OUTPUT = "agent_engine.node.output"

# Bucket boundaries the GenAI metric conventions recommend.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)
DURATION_BUCKETS = (0.01, 0.02, 0.04, 0.08, 0.16, 0.32, 0.64, 1.28, 2.56, 5.12, 10.24, 20.48, 40.96, 81.92)

CLOSE_FLUSH_TIMEOUT_S = 5.0
"""How long closing an engine waits for its telemetry to be exported (an unreachable collector must not hang it)."""

Attributes = dict[str, AttributeValue]


def build_sink(config: Mapping[str, Any], project_dir: Path | None = None) -> OtelSink:
    """The factory registered as the ``otel`` telemetry sink; raises ``ValueError`` on a bad config.

    The workflow is named after the project's config dir (``workflow`` for a project built from a dict).
    """
    workflow = (project_dir.resolve().name if project_dir is not None else "") or "workflow"
    return OtelSink(OtelConfig.parse(config), workflow)


@dataclass(slots=True)
class _Task:
    """An open task span and its current stage's buffered events."""

    span: Span
    stage: NodeStarted | None = None
    calls: list[AgentCallEvent] = field(default_factory=list)
    tools: list[ToolInvoked] = field(default_factory=list)
    last_node: SpanContext | None = None
    merged: list[Link] = field(default_factory=list)


@dataclass(slots=True)
class _Run:
    """One run's open tasks, the fan-out stage each pending child hangs under, and ended task spans."""

    tasks: dict[str, _Task] = field(default_factory=dict)
    fan_out: dict[str, SpanContext] = field(default_factory=dict)
    ended: dict[str, SpanContext] = field(default_factory=dict)


class OtelSink:
    """An observer that records every run it sees as one trace, plus GenAI client metrics."""

    def __init__(self, config: OtelConfig, workflow: str) -> None:
        providers = self._providers = providers_for(config)
        self._tracer = providers.tracer.get_tracer("agent_engine_otel", __version__)
        meter = providers.meter.get_meter("agent_engine_otel", __version__)
        self._tokens = meter.create_histogram(
            "gen_ai.client.token.usage", unit="{token}", description="Tokens used per LLM call, by token type.",
            explicit_bucket_boundaries_advisory=TOKEN_BUCKETS,
        )
        self._duration = meter.create_histogram(
            "gen_ai.client.operation.duration", unit="s", description="Duration of LLM calls.",
            explicit_bucket_boundaries_advisory=DURATION_BUCKETS,
        )
        self._content = config.capture_content
        self._workflow = workflow
        self._runs: dict[str, _Run] = {}
        self._lock = threading.Lock()

    @hookimpl
    def on_event(self, event: Event) -> None:
        """Advance the run's span tree by one event (events of other types are not needed)."""
        with self._lock:
            if isinstance(event, TaskStarted):
                self._task_started(event)
                return
            run = self._runs.get(event.run_id)
            task = run.tasks.get(event.task_id) if run is not None else None
            if run is None or task is None:
                return  # the task's start was not seen (a background queue overflowed): nothing to attach to
            if isinstance(event, NodeStarted):
                task.stage, task.calls, task.tools = event, [], []
            elif isinstance(event, AgentCallEvent):
                task.calls.append(event)
            elif isinstance(event, ToolInvoked):
                task.tools.append(event)
            elif isinstance(event, NodeFinished):
                self._node_finished(task, event)
            elif isinstance(event, ChildCreated) and task.last_node is not None:
                run.fan_out[event.child_id] = task.last_node
            elif isinstance(event, MergeFired):
                task.merged = [Link(run.ended[child]) for child in event.inputs if child in run.ended]
            elif isinstance(event, TaskFinished):
                self._task_finished(run, event)

    def close(self) -> None:
        """Called by ``Engine.close()``: export now what the engine's runs left in the batch.

        Only providers built for ``endpoint`` are flushed, not shut down (other engines may share them); an
        embedder's providers are left to the embedder.
        """
        self._providers.flush(CLOSE_FLUSH_TIMEOUT_S)

    def _task_started(self, event: TaskStarted) -> None:
        run = self._runs.setdefault(event.run_id, _Run())
        lineage = event.lineage
        attributes: Attributes = {RUN_ID: event.run_id, TASK_ID: event.task_id, TASK_KIND: lineage.kind,
                                  START_NODE: event.start_node}
        if lineage.parent_id is None:
            name = f"invoke_workflow {self._workflow}"
            attributes |= {OPERATION: "invoke_workflow", WORKFLOW_NAME: self._workflow}
            parent = None  # the span current where the run was started, if any (an embedder's request span)
        else:
            name = f"{lineage.kind} {lineage.created_by}"
            attributes |= {TASK_PARENT: lineage.parent_id, TASK_INDEX: lineage.index or 0}
            parent_task = run.tasks.get(lineage.parent_id)
            parent = run.fan_out.pop(event.task_id, None) or (
                parent_task.span.get_span_context() if parent_task is not None else None
            )
        if self._content:
            attributes[TASK_INPUT] = event.input_json
        span = self._tracer.start_span(name, context=_under(parent), kind=SpanKind.INTERNAL,
                                       attributes=attributes, start_time=_ns(event.timestamp))
        run.tasks[event.task_id] = _Task(span)

    def _node_finished(self, task: _Task, event: NodeFinished) -> None:
        started, calls, tools = task.stage, task.calls, task.tools
        task.stage, task.calls, task.tools = None, [], []
        start = started.timestamp if started is not None and started.stage == event.stage else (
            event.timestamp - event.duration_s
        )
        attributes: Attributes = {RUN_ID: event.run_id, TASK_ID: event.task_id, NODE_ID: event.node_id,
                                  STAGE: event.stage, NODE_STATUS: event.status, ROUTE: event.route}
        name = event.node_id
        if calls:
            request = _object(calls[0].request_json)
            agent = str(request.get("agent_id") or event.node_id)
            name = f"invoke_agent {agent}"
            attributes |= {OPERATION: "invoke_agent", AGENT_NAME: agent, AGENT_ID: agent,
                           PROVIDER: calls[0].provider, REQUEST_MODEL: str(request.get("model") or calls[0].model)}
            for key, total in _usage_totals(calls).items():
                attributes[key] = total
        if self._content:
            attributes |= {NODE_INPUT: event.input_json, NODE_OUTPUT: event.output_json}
        links, task.merged = task.merged, []
        span = self._tracer.start_span(name, context=_under(task.span.get_span_context()), kind=SpanKind.INTERNAL,
                                       attributes=attributes, links=links, start_time=_ns(start))
        for call in calls:
            self._chat(call, span.get_span_context(), start)
        for tool in tools:
            self._tool(tool, span.get_span_context(), start)
        _fail(span, event.error)
        span.end(_ns(event.timestamp))
        task.last_node = span.get_span_context()

    def _chat(self, call: AgentCallEvent, parent: SpanContext, not_before: float) -> None:
        request, reply = _object(call.request_json), _object(call.reply_json)
        model = str(request.get("model") or call.model)
        measured: Attributes = {OPERATION: "chat", PROVIDER: call.provider, REQUEST_MODEL: model,
                                RESPONSE_MODEL: call.model}
        attributes: Attributes = {**measured, RUN_ID: call.run_id, TASK_ID: call.task_id, NODE_ID: call.node_id}
        for key, total in _usage_totals([call]).items():
            attributes[key] = total
        if reply.get("response_id"):
            attributes[RESPONSE_ID] = str(reply["response_id"])
        if reply.get("finish_reason"):
            attributes[FINISH_REASONS] = (str(reply["finish_reason"]),)
        if self._content:
            attributes |= _messages(request, reply)
        span = self._tracer.start_span(f"chat {model}", context=_under(parent), kind=SpanKind.CLIENT,
                                       attributes=attributes,
                                       start_time=_ns(max(call.timestamp - call.latency_s, not_before)))
        span.end(_ns(call.timestamp))
        self._duration.record(call.latency_s, measured)
        for token_type, key in (("input", "input_tokens"), ("output", "output_tokens")):
            if key in call.usage:
                self._tokens.record(call.usage[key], {**measured, TOKEN_TYPE: token_type})

    def _tool(self, tool: ToolInvoked, parent: SpanContext, not_before: float) -> None:
        attributes: Attributes = {OPERATION: "execute_tool", TOOL_NAME: tool.tool_id, RUN_ID: tool.run_id,
                                  TASK_ID: tool.task_id, NODE_ID: tool.node_id, TOOL_STATUS: tool.status}
        if self._content:
            attributes |= {TOOL_ARGUMENTS: tool.arguments_json, TOOL_RESULT: tool.result_json}
        duration = float(getattr(tool, "duration_s", 0.0))  # not in the event yet; a later core may add it
        span = self._tracer.start_span(f"execute_tool {tool.tool_id}", context=_under(parent),
                                       kind=SpanKind.INTERNAL, attributes=attributes,
                                       start_time=_ns(max(tool.timestamp - duration, not_before)))
        if tool.status == "failure":
            span.set_status(Status(StatusCode.ERROR, f"tool '{tool.tool_id}' failed"))
            span.set_attribute(ERROR_TYPE, "tool_failure")
        span.end(_ns(tool.timestamp))

    def _task_finished(self, run: _Run, event: TaskFinished) -> None:
        task = run.tasks.pop(event.task_id)
        task.span.set_attribute(TASK_STATUS, event.status)
        if event.waiting_at is not None:
            task.span.set_attribute(TASK_WAITING_AT, event.waiting_at)
        if self._content:
            task.span.set_attribute(TASK_OUTPUT, event.output_json)
        if event.status == "failure":
            _fail(task.span, event.error)
        task.span.end(_ns(event.timestamp))
        run.ended[event.task_id] = task.span.get_span_context()
        if event.task_id == event.run_id:  # the root ends last: the run is over
            for orphan in run.tasks.values():  # only when events were dropped: close rather than leak
                orphan.span.end(_ns(event.timestamp))
            del self._runs[event.run_id]


def _ns(timestamp: float) -> int:
    """Event time (``time.time()`` seconds) as OpenTelemetry's nanoseconds since the epoch."""
    return int(timestamp * 1_000_000_000)


def _under(parent: SpanContext | None) -> otel_context.Context | None:
    """A context whose current span is ``parent`` (``None``: the caller's current context)."""
    return trace.set_span_in_context(trace.NonRecordingSpan(parent)) if parent is not None else None


def _fail(span: Span, error: StageError | None) -> None:
    """Mark ``span`` failed with the error's kind and message (the kind is the low-cardinality ``error.type``)."""
    if error is None:
        return
    span.set_status(Status(StatusCode.ERROR, f"{error.kind}: {error.message}"))
    span.set_attribute(ERROR_TYPE, str(error.kind))


def _object(text: str) -> dict[str, Any]:
    """A recorded request or reply as a dict (empty when it is not a JSON object)."""
    try:
        value = json.loads(text)
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _usage_totals(calls: Iterable[AgentCallEvent]) -> dict[str, int]:
    """Input and output tokens summed over ``calls`` (a key only when some provider reported it)."""
    totals: dict[str, int] = {}
    for call in calls:
        for key, attribute in (("input_tokens", INPUT_TOKENS), ("output_tokens", OUTPUT_TOKENS)):
            if key in call.usage:
                totals[attribute] = totals.get(attribute, 0) + int(call.usage[key])
    return totals


def _messages(request: Mapping[str, Any], reply: Mapping[str, Any]) -> Attributes:
    """Prompt and reply in the GenAI conventions' JSON message format (recorded only on request)."""
    messages = [
        {"role": m.get("role", "user"), "parts": [{"type": "text", "content": m.get("content", "")}]}
        for m in request.get("messages", []) if isinstance(m, Mapping)
    ]
    output = [{"role": "assistant", "parts": [{"type": "text", "content": reply.get("content", "")}],
               "finish_reason": reply.get("finish_reason") or "stop"}]
    attributes: Attributes = {INPUT_MESSAGES: json.dumps(messages), OUTPUT_MESSAGES: json.dumps(output)}
    if request.get("system"):
        attributes[SYSTEM_INSTRUCTIONS] = json.dumps([{"type": "text", "content": request["system"]}])
    return attributes
