"""One trace from the HTTP request to the listener, through TypedEventsPlugin.

Litestar's own OpenTelemetry plugin needs ``opentelemetry-instrumentation-asgi``, which
the package index here does not serve; ``request_spans`` does what that instrumentation
does for a request (continue the caller's ``traceparent`` in a SERVER span), so the test
shows the part that is ours: the request's span reaches the listener's.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, post
from litestar.testing import TestClient

from typed_events import Event, EventBus, listener
from typed_events.contrib.litestar import TypedEventsPlugin

from ..otel.sdk import Telemetry, request_spans


class Ordered(Event, event_id="lt_ordered"):
    item: str


@listener(Ordered)
async def pick(event: Ordered) -> None:
    pass


@post("/orders")
async def place(request: Request[Any, Any, Any]) -> None:
    request.app.emit("lt_ordered", item="book")


def test_the_request_span_is_the_ancestor_of_the_listener_span(telemetry: Telemetry) -> None:
    bus = EventBus([pick], middleware=[telemetry.middleware])
    app = Litestar([place], plugins=[TypedEventsPlugin(bus)], logging_config=None)
    tracer = telemetry.tracer_provider.get_tracer("asgi")
    caller_trace = "0af7651916cd43dd8448eb211c80319c"
    with TestClient(request_spans(app, tracer)) as client:  # type: ignore[type-var]
        response = client.post(
            "/orders", headers={"traceparent": f"00-{caller_trace}-b7ad6b7169203331-01"}
        )
        assert response.status_code == 201
    request = telemetry.span("POST /orders")
    create = telemetry.span("create lt_ordered")
    process = telemetry.span("process lt_ordered")
    assert request.context is not None
    assert create.context is not None
    assert process.context is not None
    assert {s.context.trace_id for s in (request, create, process) if s.context} == {
        int(caller_trace, 16)
    }
    assert create.parent is not None
    assert create.parent.span_id == request.context.span_id
    assert process.parent is not None
    assert process.parent.span_id == create.context.span_id
