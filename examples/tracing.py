"""Tracing with OpenTelemetry: one emit, two listeners (one retried), spans to the console.

    python examples/tracing.py

The SDK's ``ConsoleSpanExporter`` prints each span as it ends; the formatter below keeps
it to one line (name, kind, status, and how spans hang together) instead of its JSON.
"""

from __future__ import annotations

import anyio
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import ConsoleSpanExporter, SimpleSpanProcessor

from typed_events import Event, EventBus, listener
from typed_events.middleware import current_attempt
from typed_events.otel import OpenTelemetryMiddleware

_ids: dict[int, str] = {}


def _short(span_id: int | None) -> str:
    """A small stable name per span id (s1, s2, ...), so the output reads as a tree."""
    if span_id is None:
        return "-"
    return _ids.setdefault(span_id, f"s{len(_ids) + 1}")


def one_line(span: ReadableSpan) -> str:
    """The console exporter's formatter: one line per span."""
    assert span.context is not None
    kind = span.kind.name.lower()
    parent = _short(span.parent.span_id if span.parent else None)
    status = span.status.status_code.name.lower()
    attributes = span.attributes or {}
    error = attributes.get("error.type")
    why = f" ({error})" if error else ""
    name = span.name
    if "typed_events.listener" in attributes:
        name += f" [{str(attributes['typed_events.listener']).rsplit('.', 1)[-1]}]"
    return f"{_short(span.context.span_id)} <- {parent:3} {name:36} {kind:9} {status}{why}\n"


class OrderPlaced(Event, event_id="order_placed"):
    order: int


@listener(OrderPlaced)
async def reserve_stock(event: OrderPlaced) -> None:
    with trace.get_tracer("shop").start_as_current_span("UPDATE stock"):
        await anyio.sleep(0.001)


@listener(OrderPlaced, retries=1, retry_backoff=0.01)
async def charge_card(event: OrderPlaced) -> None:
    if current_attempt() == 1:
        raise ConnectionError("payment gateway timed out")


async def place_order() -> None:
    """Emit one event inside a request span (spans go to the global tracer provider)."""
    bus = EventBus([reserve_stock, charge_card], middleware=[OpenTelemetryMiddleware()])
    async with bus:
        with trace.get_tracer("shop").start_as_current_span("POST /orders"):
            bus.emit(OrderPlaced(order=42))


async def main() -> None:
    """Print the spans of one order as they end."""
    provider = TracerProvider()
    provider.add_span_processor(SimpleSpanProcessor(ConsoleSpanExporter(formatter=one_line)))
    trace.set_tracer_provider(provider)  # the middleware's default, and the listeners'
    await place_order()
    provider.shutdown()


if __name__ == "__main__":
    anyio.run(main)
