"""End to end over the wire: the sink's own OTLP/HTTP exporter posting to a collector served by the test.

The collector is a small ``http.server`` on 127.0.0.1 that accepts ``POST /v1/traces`` and ``/v1/metrics``
and decodes the protobuf requests with opentelemetry-proto, so the test checks what a real backend receives.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from _otel_harness import (
    BRANCH_HANDLERS,
    DECISION_HANDLERS,
    CountingProviderPlugin,
    branch_merge_project,
    decision_project,
    sink,
)
from opentelemetry.proto.collector.metrics.v1.metrics_service_pb2 import ExportMetricsServiceRequest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
from opentelemetry.proto.common.v1.common_pb2 import KeyValue
from opentelemetry.proto.trace.v1.trace_pb2 import Span

import agent_engine_otel

TOKEN = "Bearer OTLP-SECRET-99"


@dataclass
class Posted:
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class Collector:
    endpoint: str
    posted: list[Posted] = field(default_factory=list)

    def traces(self) -> list[ExportTraceServiceRequest]:
        return [_parse(ExportTraceServiceRequest(), p.body) for p in self.posted if p.path == "/v1/traces"]

    def metrics(self) -> list[ExportMetricsServiceRequest]:
        return [_parse(ExportMetricsServiceRequest(), p.body) for p in self.posted if p.path == "/v1/metrics"]

    def spans(self) -> list[Span]:
        return [s for r in self.traces() for rs in r.resource_spans for ss in rs.scope_spans for s in ss.spans]


def _parse(message: Any, body: bytes) -> Any:
    message.ParseFromString(body)
    return message


@pytest.fixture
def otel_collector() -> Iterator[Collector]:
    """An OTLP/HTTP collector on a free localhost port; owned providers are shut down before it stops."""
    posted: list[Posted] = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            if self.headers.get("Content-Encoding") == "gzip":
                body = gzip.decompress(body)
            posted.append(Posted(self.path, {k.lower(): v for k, v in self.headers.items()}, body))
            known = self.path in ("/v1/traces", "/v1/metrics")
            self.send_response(200 if known else 404)
            self.send_header("Content-Type", "application/x-protobuf")
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Keep the test output quiet."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    collector = Collector(f"http://127.0.0.1:{server.server_address[1]}", posted)
    try:
        yield collector
    finally:
        agent_engine_otel.shutdown(timeout_s=5.0)
        server.shutdown()
        server.server_close()
        thread.join()


def _attributes(items: Any) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for item in items:
        assert isinstance(item, KeyValue)
        kind = item.value.WhichOneof("value")
        assert kind is not None
        value = getattr(item.value, kind)
        out[item.key] = [getattr(v, v.WhichOneof("value")) for v in value.values] if kind == "array_value" else value
    return out


def test_otel_spans_and_metrics_reach_an_otlp_http_endpoint(make_engine: Any, otel_collector: Collector) -> None:
    config = {"endpoint": f"{otel_collector.endpoint}/", "service_name": "editor-svc",
              "headers": {"authorization": TOKEN}}
    engine = make_engine({**decision_project("counting/router-model"), **sink(config)}, handlers=DECISION_HANDLERS,
                         plugins=[CountingProviderPlugin()])
    assert engine.run({"text": "hello"}, run_id="run-wire").ok
    assert agent_engine_otel.force_flush(timeout_s=10.0)

    requests = otel_collector.traces()
    assert requests, f"no trace export arrived; posts: {[p.path for p in otel_collector.posted]}"
    resource = _attributes(requests[0].resource_spans[0].resource.attributes)
    assert resource["service.name"] == "editor-svc"
    assert requests[0].resource_spans[0].scope_spans[0].scope.name == "agent_engine_otel"

    spans = {s.name: s for s in otel_collector.spans()}
    assert set(spans) == {"invoke_workflow workflow", "normalize", "invoke_agent router", "chat router-model", "edit",
                          "done"}
    root, agent, chat = spans["invoke_workflow workflow"], spans["invoke_agent router"], spans["chat router-model"]
    assert len({s.trace_id for s in spans.values()}) == 1
    assert root.parent_span_id == b""
    assert agent.parent_span_id == root.span_id
    assert chat.parent_span_id == agent.span_id
    assert chat.kind == Span.SPAN_KIND_CLIENT
    assert agent.kind == Span.SPAN_KIND_INTERNAL
    assert _attributes(chat.attributes).items() >= {
        "gen_ai.operation.name": "chat", "gen_ai.provider.name": "counting",
        "gen_ai.request.model": "router-model", "gen_ai.response.model": "router-model-2026-01",
        "gen_ai.usage.input_tokens": 120, "gen_ai.usage.output_tokens": 7, "agent_engine.task_id": "run-wire",
    }.items()
    assert _attributes(root.attributes)["gen_ai.operation.name"] == "invoke_workflow"

    metric_names = {m.name for r in otel_collector.metrics() for rm in r.resource_metrics
                    for sm in rm.scope_metrics for m in sm.metrics}
    assert {"gen_ai.client.token.usage", "gen_ai.client.operation.duration"} <= metric_names

    # the headers go to the collector, and nowhere into what it stores
    assert {p.headers.get("authorization") for p in otel_collector.posted} == {TOKEN}
    assert all(b"OTLP-SECRET-99" not in p.body for p in otel_collector.posted)


def test_otel_failed_stage_is_exported_with_error_status(make_engine: Any, otel_collector: Collector) -> None:
    def broken(payload: Any, ctx: Any) -> Any:
        raise ValueError("no join today")

    engine = make_engine({**branch_merge_project("broken"), **sink({"endpoint": otel_collector.endpoint})},
                         handlers={**BRANCH_HANDLERS, "broken": broken})
    assert engine.run({"n": 1}).status == "failure"
    engine.close()  # flushes the sink's exporter: no force_flush needed

    spans = otel_collector.spans()
    join = next(s for s in spans if s.name == "join")
    assert join.status.code == join.status.STATUS_CODE_ERROR
    assert join.status.message == "handler: ValueError: no join today"
    assert len(join.links) == 2
    clone_ids = {s.span_id for s in spans if s.name == "clone fan"}
    assert {link.span_id for link in join.links} == clone_ids
    fan = next(s for s in spans if s.name == "fan")
    assert {s.parent_span_id for s in spans if s.name == "clone fan"} == {fan.span_id}
