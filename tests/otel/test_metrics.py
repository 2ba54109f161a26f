"""Metrics from OpenTelemetryMiddleware with the real SDK's in-memory reader."""

from __future__ import annotations

import pytest

from typed_events import Event, EventBus, listener

from .sdk import Telemetry

pytestmark = pytest.mark.anyio


class Clicked(Event, event_id="clicked"):
    n: int


@listener(Clicked)
async def count(event: Clicked) -> None:
    pass


@listener(Clicked)
def store(event: Clicked) -> None:
    pass


@listener(Clicked, retries=1, retry_backoff=0)
async def flaky(event: Clicked) -> None:
    if event.n % 2:
        raise ValueError("odd")


async def test_sums_after_n_emits_to_m_listeners(telemetry: Telemetry) -> None:
    emits = 5
    bus = EventBus(
        [count, store, flaky], middleware=[telemetry.middleware], on_error=lambda *_: None
    )
    async with bus:
        for n in range(emits):
            bus.emit(Clicked(n=n))
    [(sent_attributes, sent)] = telemetry.points("messaging.client.sent.messages")
    assert sent.value == emits
    assert sent_attributes == {
        "messaging.system": "typed_events",
        "messaging.destination.name": "clicked",
        "messaging.operation.name": "create",
    }
    consumed = telemetry.points("messaging.client.consumed.messages")
    # Once per delivery to a listener (a retry is not a second delivery): N x M.
    assert sum(p.value for _, p in consumed) == emits * 3
    assert {a["messaging.operation.name"] for a, _ in consumed} == {"process"}
    assert all("typed_events.attempt" not in a for a, _ in consumed)
    durations = telemetry.points("messaging.process.duration")
    # One duration per attempt: every call, plus the retries of the odd ones (n = 1, 3),
    # which failed both times.
    ok = sum(p.count for a, p in durations if "error.type" not in a)
    failed = sum(p.count for a, p in durations if a.get("error.type") == "ValueError")
    assert (ok, failed) == (emits * 3 - 2, 4)
    assert all(p.sum >= 0 for _, p in durations)


async def test_a_refused_emit_is_counted_with_its_error_type(telemetry: Telemetry) -> None:
    from typed_events import QueueFullError, SimpleEventEmitter

    backend = SimpleEventEmitter(max_pending=1)
    async with EventBus([count], backend=backend, middleware=[telemetry.middleware]) as bus:
        bus.emit(Clicked(n=1))
        with pytest.raises(QueueFullError):
            bus.emit(Clicked(n=2))
    points = {
        a.get("error.type"): p.value for a, p in telemetry.points("messaging.client.sent.messages")
    }
    assert points == {None: 1, "typed_events.errors.QueueFullError": 1}


async def test_the_pending_gauge_counts_events_not_yet_handled(telemetry: Telemetry) -> None:
    import anyio

    release = anyio.Event()

    @listener(Clicked)
    async def wait(event: Clicked) -> None:
        await release.wait()

    otel = telemetry.middleware
    bus = otel.observe(EventBus([wait], middleware=[otel]))
    assert telemetry.points("typed_events.events.pending") == []  # not running: no point
    async with bus:
        for n in range(3):
            bus.emit(Clicked(n=n))
        [(attributes, point)] = telemetry.points("typed_events.events.pending")
        assert attributes == {"messaging.system": "typed_events"}
        assert point.value == 3
        release.set()
    async with EventBus([wait], middleware=[otel]):
        # Another bus with the same middleware, not observed: no gauge of its own.
        assert telemetry.points("typed_events.events.pending") == []
