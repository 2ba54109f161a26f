"""Spans from OpenTelemetryMiddleware in memory, with the real SDK, on asyncio and trio."""

from __future__ import annotations

import pytest
from opentelemetry import trace
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.trace import SpanKind, StatusCode

from typed_events import Event, EventBus, QueueFullError, SimpleEventEmitter, listener

from .sdk import Telemetry

pytestmark = pytest.mark.anyio


class OrderPlaced(Event, event_id="order_placed"):
    order: int


@listener(OrderPlaced)
async def reserve_stock(event: OrderPlaced) -> None:
    trace.get_current_span().set_attribute("order", event.order)


@listener(OrderPlaced)
def send_receipt(event: OrderPlaced) -> None:  # sync: runs in a worker thread
    trace.get_current_span().add_event("receipt sent")


def parent_of(span: ReadableSpan) -> int | None:
    return span.parent.span_id if span.parent is not None else None


async def test_emit_makes_a_producer_span_and_a_consumer_child_per_listener(
    telemetry: Telemetry,
) -> None:
    tracer = telemetry.tracer_provider.get_tracer("test")
    bus = EventBus([reserve_stock, send_receipt], middleware=[telemetry.middleware])
    async with bus:
        with tracer.start_as_current_span("POST /orders") as request:
            bus.emit(OrderPlaced(order=7))
    create = telemetry.span("create order_placed")
    processes = [s for s in telemetry.spans() if s.name == "process order_placed"]
    assert create.kind is SpanKind.PRODUCER
    assert parent_of(create) == request.get_span_context().span_id
    assert dict(create.attributes or {}) == {
        "messaging.system": "typed_events",
        "messaging.destination.name": "order_placed",
        "messaging.operation.type": "create",
        "messaging.operation.name": "create",
    }
    assert create.status.status_code is StatusCode.UNSET
    by_listener = {(s.attributes or {})["typed_events.listener"]: s for s in processes}
    assert set(by_listener) == {reserve_stock.name, send_receipt.name}
    trace_id = request.get_span_context().trace_id
    assert create.context is not None
    for span in processes:
        assert span.kind is SpanKind.CONSUMER
        assert span.context is not None
        assert span.context.trace_id == trace_id
        assert parent_of(span) == create.context.span_id
        assert (
            dict(span.attributes or {}).items()
            >= {
                "messaging.system": "typed_events",
                "messaging.destination.name": "order_placed",
                "messaging.operation.type": "process",
                "messaging.operation.name": "process",
            }.items()
        )
        assert "messaging.message.id" not in (span.attributes or {})  # none in memory
    # The listener's own span operations land on its process span.
    assert (by_listener[reserve_stock.name].attributes or {})["order"] == 7
    assert [e.name for e in by_listener[send_receipt.name].events] == ["receipt sent"]


async def test_a_failing_listener_sets_error_status_and_type_with_a_retry_event_per_retry(
    telemetry: Telemetry,
) -> None:
    attempts: list[int] = []

    @listener(OrderPlaced, retries=2, retry_backoff=0)
    async def charge(event: OrderPlaced) -> None:
        attempts.append(len(attempts) + 1)
        raise ConnectionError("card processor down")

    bus = EventBus([charge], middleware=[telemetry.middleware], on_error=lambda *_: None)
    async with bus:
        result = await bus.emit_and_wait(OrderPlaced(order=1))
    assert not result.ok
    spans = [s for s in telemetry.spans() if s.name == "process order_placed"]
    assert len(spans) == len(attempts) == 3  # one span per attempt
    create = telemetry.span("create order_placed")
    assert create.context is not None
    for number, span in enumerate(spans, start=1):
        assert span.status.status_code is StatusCode.ERROR
        assert span.status.description == "ConnectionError: card processor down"
        attributes = dict(span.attributes or {})
        assert attributes["error.type"] == "ConnectionError"
        assert attributes.get("typed_events.attempt", 1) == number
        assert parent_of(span) == create.context.span_id
        names = [e.name for e in span.events]
        assert "exception" in names
        retry = [e for e in span.events if e.name == "typed_events.retry"]
        if number < 3:
            [event] = retry
            assert dict(event.attributes or {}) == {
                "typed_events.attempt": number + 1,
                "typed_events.retry.delay": 0.0,
            }
        else:
            assert retry == []  # the last attempt: no retry follows


async def test_emit_async_and_emit_and_wait_parent_the_process_span_on_the_create_span(
    telemetry: Telemetry,
) -> None:
    bus = EventBus([reserve_stock], middleware=[telemetry.middleware])
    async with bus:
        await bus.emit_async(OrderPlaced(order=1))
        await bus.emit_and_wait(OrderPlaced(order=2))
    creates = [s for s in telemetry.spans() if s.name == "create order_placed"]
    processes = [s for s in telemetry.spans() if s.name == "process order_placed"]
    assert len(creates) == len(processes) == 2
    create_ids = {s.context.span_id for s in creates if s.context is not None}
    assert {parent_of(s) for s in processes} == create_ids
    # Two emits outside any span: two traces.
    assert len({s.context.trace_id for s in creates if s.context is not None}) == 2


async def test_an_emit_that_raises_ends_its_create_span_with_the_error(
    telemetry: Telemetry,
) -> None:
    @listener(OrderPlaced)
    async def slow(event: OrderPlaced) -> None:
        pass

    bus = EventBus(
        [slow], backend=SimpleEventEmitter(max_pending=1), middleware=[telemetry.middleware]
    )
    async with bus:
        bus.emit(OrderPlaced(order=1))
        with pytest.raises(QueueFullError):
            bus.emit(OrderPlaced(order=2))
    failed = [
        s
        for s in telemetry.spans()
        if s.name == "create order_placed" and s.status.status_code is StatusCode.ERROR
    ]
    [span] = failed
    assert (span.attributes or {})["error.type"] == "typed_events.errors.QueueFullError"
    assert len([s for s in telemetry.spans() if s.name == "process order_placed"]) == 1
