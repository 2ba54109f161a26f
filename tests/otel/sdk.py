"""The real OpenTelemetry SDK, in memory: spans to an exporter, metrics to a reader."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from opentelemetry import propagate, trace
from opentelemetry.sdk.metrics import MeterProvider
from opentelemetry.sdk.metrics.export import InMemoryMetricReader
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from typed_events.otel import OpenTelemetryMiddleware


@dataclass
class Telemetry:
    """An SDK set up for one test, and the middleware that reports to it."""

    tracer_provider: TracerProvider
    exporter: InMemorySpanExporter
    reader: InMemoryMetricReader
    middleware: OpenTelemetryMiddleware

    def spans(self) -> list[ReadableSpan]:
        """Finished spans, in the order they ended."""
        return list(self.exporter.get_finished_spans())

    def span(self, name: str) -> ReadableSpan:
        """The one finished span called ``name``."""
        [found] = [s for s in self.spans() if s.name == name]
        return found

    def points(self, metric: str) -> list[tuple[dict[str, Any], Any]]:
        """(attributes, data point) of every data point of ``metric`` collected now."""
        data = self.reader.get_metrics_data()
        found: list[tuple[dict[str, Any], Any]] = []
        if data is None:
            return found
        for resource in data.resource_metrics:
            for scope in resource.scope_metrics:
                for item in scope.metrics:
                    if item.name == metric:
                        found.extend((dict(p.attributes or {}), p) for p in item.data.data_points)
        return found


@contextmanager
def in_memory_sdk() -> Iterator[Telemetry]:
    """A tracer and a meter provider of the real SDK, exporting to memory; shut down after."""
    exporter = InMemorySpanExporter()
    tracer_provider = TracerProvider()
    tracer_provider.add_span_processor(SimpleSpanProcessor(exporter))
    reader = InMemoryMetricReader()
    meter_provider = MeterProvider(metric_readers=[reader])
    middleware = OpenTelemetryMiddleware(tracer_provider, meter_provider)
    yield Telemetry(tracer_provider, exporter, reader, middleware)
    tracer_provider.shutdown()
    meter_provider.shutdown()


ASGIApp = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


def request_spans(app: Any, tracer: trace.Tracer) -> ASGIApp:
    """What an ASGI instrumentation does for a request: continue the caller's
    ``traceparent`` (the global propagator) in a SERVER span around the request."""

    async def traced(scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            await app(scope, receive, send)
            return
        headers = {k.decode(): v.decode() for k, v in scope["headers"]}
        name = f"{scope['method']} {scope['path']}"
        parent = propagate.extract(headers)
        with tracer.start_as_current_span(name, parent, trace.SpanKind.SERVER):
            await app(scope, receive, send)

    return traced
