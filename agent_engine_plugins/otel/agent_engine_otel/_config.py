"""The sink's config (plugins.yaml) and the OpenTelemetry providers its spans and metrics go to.

Two ways to get providers, because the two kinds of user want opposite things:

* an **operator** writes ``endpoint:`` in plugins.yaml and gets providers built here: an OTLP/HTTP exporter
  behind a batch span processor and a periodic metric reader, with ``service.name`` from ``service_name``.
  They are shared by every sink with the same endpoint, headers and service name, so an application that
  builds many engines does not start an exporter thread per engine;
* an **embedder** who already set OpenTelemetry up leaves ``endpoint`` out: the sink then uses the providers
  passed to ``use_providers()``, or else the process-wide ones (``opentelemetry.trace.get_tracer_provider()``),
  exactly like any instrumentation library.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from opentelemetry import metrics, trace
from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.metrics import MeterProvider as SdkMeterProvider
from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
from opentelemetry.sdk.resources import SERVICE_NAME, Resource
from opentelemetry.sdk.trace import TracerProvider as SdkTracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor

__all__ = ["OtelConfig", "Providers", "force_flush", "providers_for", "shutdown", "use_providers"]

DEFAULT_SERVICE_NAME = "agent-engine"


@dataclass(frozen=True, slots=True)
class OtelConfig:
    """The validated ``config`` mapping of the ``otel`` entry in plugins.yaml."""

    service_name: str = DEFAULT_SERVICE_NAME
    endpoint: str | None = None
    capture_content: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def parse(cls, config: Mapping[str, Any]) -> OtelConfig:
        """Check every key and value; a ``ValueError`` says which one is wrong and what it should be.

        The core reports the error at load time, located at the entry in plugins.yaml.
        """
        unknown = sorted(set(config) - {"service_name", "endpoint", "capture_content", "headers"})
        if unknown:
            raise ValueError(
                f"unknown config key(s) {', '.join(map(repr, unknown))}; "
                "the otel sink accepts service_name, endpoint, capture_content and headers"
            )
        service_name = config.get("service_name", DEFAULT_SERVICE_NAME)
        if not isinstance(service_name, str) or not service_name.strip():
            raise ValueError("service_name must be a non-empty string")
        endpoint = config.get("endpoint")
        if endpoint is not None and (
            not isinstance(endpoint, str) or not endpoint.startswith(("http://", "https://"))
        ):
            raise ValueError(
                "endpoint must be the OTLP/HTTP base URL, e.g. http://localhost:4318 "
                "(spans go to <endpoint>/v1/traces, metrics to <endpoint>/v1/metrics)"
            )
        capture_content = config.get("capture_content", False)
        if not isinstance(capture_content, bool):
            raise ValueError("capture_content must be true or false")
        headers = config.get("headers", {})
        if not isinstance(headers, Mapping) or not all(
            isinstance(k, str) and isinstance(v, str) for k, v in headers.items()
        ):
            raise ValueError("headers must map header names to string values")
        if headers and endpoint is None:
            raise ValueError("headers are sent to the endpoint: set endpoint too")
        return cls(service_name, endpoint.rstrip("/") if endpoint else None, capture_content, dict(headers))


@dataclass(frozen=True, slots=True)
class Providers:
    """Where a sink's spans and measurements go; ``owned`` when they were built here for an endpoint."""

    tracer: trace.TracerProvider
    meter: metrics.MeterProvider
    owned: bool = False

    def flush(self, timeout_s: float) -> bool:
        """Export what the providers hold, if they were built here (an embedder's are the embedder's)."""
        return _flush([(self.tracer, self.meter)] if self.owned else [], timeout_s)


_lock = threading.Lock()
_injected: tuple[trace.TracerProvider | None, metrics.MeterProvider | None] = (None, None)
_owned: dict[tuple[str, str, tuple[tuple[str, str], ...]], tuple[SdkTracerProvider, SdkMeterProvider]] = {}


def use_providers(
    tracer_provider: trace.TracerProvider | None = None, meter_provider: metrics.MeterProvider | None = None
) -> None:
    """Send what sinks built from now on without ``endpoint`` record to these providers.

    ``None`` (the default for each) means the process-wide provider of OpenTelemetry. A sink keeps the
    providers it was built with, so call this before building the engine. Tests use it to hand in an SDK
    provider with an in-memory exporter and reader.
    """
    global _injected  # noqa: PLW0603 - the one process-wide default, like OpenTelemetry's own
    with _lock:
        _injected = (tracer_provider, meter_provider)


def providers_for(config: OtelConfig) -> Providers:
    """The providers a sink with ``config`` records to (built once per endpoint, headers and service name)."""
    if config.endpoint is None:
        with _lock:
            tracer, meter = _injected
        return Providers(tracer or trace.get_tracer_provider(), meter or metrics.get_meter_provider())
    key = (config.endpoint, config.service_name, tuple(sorted(config.headers.items())))
    with _lock:
        owned = _owned.get(key)
        if owned is None:
            owned = _owned[key] = _build_owned(config, config.endpoint)
    return Providers(*owned, owned=True)


def _build_owned(config: OtelConfig, endpoint: str) -> tuple[SdkTracerProvider, SdkMeterProvider]:
    """An OTLP/HTTP exporting pair; the SDK shuts both down (flushing them) when the process exits."""
    resource = Resource.create({SERVICE_NAME: config.service_name})
    tracer = SdkTracerProvider(resource=resource)
    tracer.add_span_processor(BatchSpanProcessor(
        OTLPSpanExporter(endpoint=f"{endpoint}/v1/traces", headers=dict(config.headers))
    ))
    reader = PeriodicExportingMetricReader(
        OTLPMetricExporter(endpoint=f"{endpoint}/v1/metrics", headers=dict(config.headers))
    )
    return tracer, SdkMeterProvider(resource=resource, metric_readers=[reader])


def force_flush(timeout_s: float = 10.0) -> bool:
    """Export now what the providers built for ``endpoint`` configs hold; False if one timed out.

    Spans are otherwise exported in batches every few seconds and at process exit; call this where a run's
    telemetry must be in the backend before the program goes on (a test, a short script, a serverless
    handler). Providers passed to ``use_providers`` are the embedder's to flush.
    """
    with _lock:
        owned = list(_owned.values())
    return _flush(owned, timeout_s)


def _flush(pairs: list[tuple[Any, Any]], timeout_s: float) -> bool:
    """``force_flush`` every SDK provider pair; False if any timed out."""
    millis = int(timeout_s * 1000)
    done = True
    for tracer, meter in pairs:
        done = tracer.force_flush(millis) and done
        done = meter.force_flush(millis) and done
    return done


def shutdown(timeout_s: float = 10.0) -> None:
    """Flush and stop the providers built for ``endpoint`` configs; sinks built later make new ones.

    The SDK does this at process exit anyway; call it to stop exporting earlier (before the collector goes
    away, or between tests). Sinks that still hold the old providers record nothing more.
    """
    with _lock:
        owned = list(_owned.values())
        _owned.clear()
    for tracer, meter in owned:
        tracer.shutdown()
        meter.shutdown(int(timeout_s * 1000))
