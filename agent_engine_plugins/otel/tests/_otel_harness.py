"""Shared by the otel tests: in-memory OpenTelemetry providers, the workflows the tests run, span lookups.

The sink is always reached the way an operator reaches it: the installed ``otel`` entry point, switched on by
a ``plugins`` manifest. Only where spans go is test-specific (``use_providers`` with SDK in-memory parts).
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

from agent_engine_core import hookimpl
from agent_engine_core.llm import LlmReply, LlmRequest, ProviderSetup
from agent_engine_core.providers.scripted import ScriptedProvider
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import HistogramDataPoint, InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

import agent_engine_otel

SECRET_PROMPT = "You route requests; the codeword is PLUM-7731."
SECRET_TEXT = "  please edit chapter MANGO-4402  "


@dataclass
class Recorded:
    """What the sink recorded: finished spans and collected metrics."""

    exporter: InMemorySpanExporter = field(default_factory=InMemorySpanExporter)
    reader: InMemoryMetricReader = field(default_factory=InMemoryMetricReader)
    tracer_provider: TracerProvider = field(default_factory=lambda: TracerProvider(shutdown_on_exit=False))

    def __post_init__(self) -> None:
        self.tracer_provider.add_span_processor(SimpleSpanProcessor(self.exporter))
        self.meter_provider = MeterProvider(metric_readers=[self.reader], shutdown_on_exit=False)

    @property
    def spans(self) -> tuple[ReadableSpan, ...]:
        return tuple(self.exporter.get_finished_spans())

    def named(self, name: str) -> list[ReadableSpan]:
        return [s for s in self.spans if s.name == name]

    def one(self, name: str) -> ReadableSpan:
        found = self.named(name)
        assert len(found) == 1, f"expected one span '{name}', got {len(found)}: {sorted(s.name for s in self.spans)}"
        return found[0]

    def parent_of(self, span: ReadableSpan) -> ReadableSpan | None:
        if span.parent is None:
            return None
        return next(s for s in self.spans if s.context.span_id == span.parent.span_id)

    def histogram(self, name: str) -> list[HistogramDataPoint]:
        data = self.reader.get_metrics_data()
        assert data is not None, "no metrics were recorded"
        return [
            point
            for resource in data.resource_metrics for scope in resource.scope_metrics for metric in scope.metrics
            if metric.name == name for point in metric.data.data_points if isinstance(point, HistogramDataPoint)
        ]


@contextmanager
def in_memory_otel() -> Iterator[Recorded]:
    """Sinks built inside the block record to fresh in-memory providers."""
    recorded = Recorded()
    agent_engine_otel.use_providers(recorded.tracer_provider, recorded.meter_provider)
    try:
        yield recorded
    finally:
        agent_engine_otel.use_providers()
        recorded.tracer_provider.shutdown()
        recorded.meter_provider.shutdown()


def attributes(span: ReadableSpan) -> dict[str, Any]:
    """A span's attributes as a plain dict."""
    return dict(span.attributes or {})


def sink(config: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The ``plugins`` manifest (as a ``from_dict`` entry) that switches the otel sink on."""
    return {"plugins": {"plugins": [{"id": "otel", "config": dict(config or {})}]}}


# ---- workflows -----------------------------------------------------------------------------------------


def _normalize(payload: Any, ctx: Any) -> Any:
    return {"text": payload["text"].strip()}


def _stamp(label: str) -> Any:
    def handler(payload: Any, ctx: Any) -> Any:
        return {**payload, "by": label}
    return handler


DECISION_HANDLERS = {"normalize": _normalize, "create": _stamp("create"), "edit": _stamp("edit")}


def decision_project(llm: str = "scripted/router-model") -> dict[str, Any]:
    """normalize -> decide (agent decision: create | edit) -> create/edit -> done."""
    return {
        "workflow": {
            "version": "1.0",
            "nodes": [
                {"id": "normalize", "role": "start", "handler": "normalize"},
                {"id": "decide", "kind": "agent", "role": "decision", "agent_id": "router"},
                {"id": "create", "role": "linear", "handler": "create"},
                {"id": "edit", "role": "linear", "handler": "edit"},
                {"id": "done", "role": "exit"},
            ],
            "edges": [
                {"from": "normalize", "to": "decide"},
                {"from": "decide", "to": "create", "label": "create"},
                {"from": "decide", "to": "edit", "label": "edit"},
                {"from": "create", "to": "done"},
                {"from": "edit", "to": "done"},
            ],
        },
        "agents": {"agents": [{
            "id": "router", "llm": llm, "prompt": SECRET_PROMPT,
            "config": {"responses": {"decide": {"selected_edge": "edit"}}},
        }]},
    }


def _twice(payload: Any, ctx: Any) -> Any:
    return {"n": payload["n"] * 2}


def _plus(payload: Any, ctx: Any) -> Any:
    return {"n": payload["n"] + 1}


def _join(payload: Any, ctx: Any) -> Any:
    return {"ns": [entry["output"]["n"] for entry in payload["merge_inputs"]]}


BRANCH_HANDLERS = {"twice": _twice, "plus": _plus, "join": _join}


def branch_merge_project(join_handler: str = "join") -> dict[str, Any]:
    """start -> fan (branch) -> {double, inc} -> join (merge) -> end."""
    return {"workflow": {
        "version": "1.0",
        "nodes": [
            {"id": "start", "role": "start", "handler": "plus"},
            {"id": "fan", "role": "branch"},
            {"id": "double", "role": "linear", "handler": "twice"},
            {"id": "inc", "role": "linear", "handler": "plus"},
            {"id": "join", "role": "merge", "handler": join_handler},
            {"id": "end", "role": "exit"},
        ],
        "edges": [
            {"from": "start", "to": "fan"}, {"from": "fan", "to": "double"}, {"from": "fan", "to": "inc"},
            {"from": "double", "to": "join"}, {"from": "inc", "to": "join"}, {"from": "join", "to": "end"},
        ],
    }}


def _chunks(payload: Any, ctx: Any) -> Any:
    return {"subtask_inputs": [{"n": n} for n in payload["ns"]]}


def _combine(payload: Any, ctx: Any) -> Any:
    return {"n": sum(entry["output"]["n"] for entry in payload["merge_inputs"])}


def _keep(payload: Any, ctx: Any) -> Any:
    return payload


NESTED_HANDLERS = {"keep": _keep, "chunks": _chunks, "twice": _twice, "plus": _plus, "combine": _combine, "join": _join}


def nested_project() -> dict[str, Any]:
    """begin -> each (split: a subtask per item) -> analyse (branch) -> {double, inc} -> combine -> reduce -> end."""
    return {"workflow": {
        "version": "1.0",
        "nodes": [
            {"id": "begin", "role": "start", "handler": "keep"},
            {"id": "each", "role": "split", "handler": "chunks"},
            {"id": "analyse", "role": "branch"},
            {"id": "double", "role": "linear", "handler": "twice"},
            {"id": "inc", "role": "linear", "handler": "plus"},
            {"id": "combine", "role": "merge", "handler": "combine"},
            {"id": "reduce", "role": "merge", "handler": "join"},
            {"id": "end", "role": "exit"},
        ],
        "edges": [
            {"from": "begin", "to": "each"}, {"from": "each", "to": "analyse"},
            {"from": "analyse", "to": "double"}, {"from": "analyse", "to": "inc"},
            {"from": "double", "to": "combine"}, {"from": "inc", "to": "combine"},
            {"from": "combine", "to": "reduce"}, {"from": "reduce", "to": "end"},
        ],
    }}


# ---- a provider that reports usage ------------------------------------------------------------------------


class CountingProvider:
    """The scripted provider's answers, with fixed token usage and a response model that differs from the
    request's, so that tests can tell the two apart."""

    INPUT_TOKENS = 120
    OUTPUT_TOKENS = 7

    def __init__(self, setup: ProviderSetup) -> None:
        self._scripted = ScriptedProvider(setup)

    def check(self, node_ids: Sequence[str]) -> list[str]:
        return self._scripted.check(node_ids)

    async def complete(self, request: LlmRequest) -> LlmReply:
        reply = await self._scripted.complete(request)
        return LlmReply(
            content=reply.content, model=f"{reply.model}-2026-01", finish_reason="stop",
            usage=MappingProxyType({"input_tokens": self.INPUT_TOKENS, "output_tokens": self.OUTPUT_TOKENS}),
        )


class CountingProviderPlugin:
    """Registers ``counting/<model>`` (passed to the engine as an explicit plugin)."""

    @hookimpl
    def register_llm_providers(self, register: Any) -> None:
        register("counting", CountingProvider)
