"""OpenTelemetry through Redis: attributes in one process, one trace across two processes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import anyio
import pytest
from opentelemetry.trace import SpanKind, StatusCode

from typed_events import Event, EventBus, Listener, Middleware, listener
from typed_events.backends.redis import Delivery, RedisStreamsBackend, current_delivery
from typed_events.middleware import CallNext, current_attempt

from ..otel.sdk import Telemetry
from .conftest import RedisServer
from .helpers import eventually, wait_for

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]


class Shipped(Event, event_id="shipped"):
    parcel: int


@pytest.mark.anyio
async def test_on_call_wraps_every_attempt_of_a_redis_consumer_in_the_delivery_context(
    redis_server: RedisServer,
) -> None:
    seen: list[tuple[int, int, str | None]] = []

    class Record(Middleware):
        async def on_call(
            self, event: Event, listener: Listener[..., Any], call_next: CallNext
        ) -> Any:
            delivery = current_delivery()
            seen.append((delivery.attempt if delivery else 0, current_attempt(), listener.name))
            return await call_next(event, listener)

    calls: list[int] = []

    @listener(Shipped, retries=1, retry_backoff=0)
    async def track(event: Shipped) -> None:
        calls.append(event.parcel)
        if len(calls) < 3:
            raise ConnectionError("carrier api down")

    backend = RedisStreamsBackend(redis_server.url, service="shop", retry_backoff=0.01)
    bus = EventBus([track], backend=backend, middleware=[Record()])
    async with bus:
        bus.emit(Shipped(parcel=1))
        await eventually(lambda: len(calls) == 3, "a redelivery that succeeds")
    # Delivery 1: attempts 1 and 2 fail; delivery 2: attempt 1 succeeds.
    assert seen == [(1, 1, track.name), (1, 2, track.name), (2, 1, track.name)]
    assert bus.stats.delivered == 1
    assert bus.stats.redelivered == 1


@pytest.mark.anyio
async def test_redis_spans_carry_the_stream_the_group_and_the_cloudevents_id(
    redis_server: RedisServer, telemetry: Telemetry
) -> None:
    deliveries: list[Delivery] = []

    @listener(Shipped)
    async def notify(event: Shipped) -> None:
        delivery = current_delivery()
        assert delivery is not None
        deliveries.append(delivery)

    backend = RedisStreamsBackend(redis_server.url, service="shop")
    async with EventBus([notify], backend=backend, middleware=[telemetry.middleware]) as bus:
        await bus.emit_async(Shipped(parcel=1))
        await eventually(lambda: len(deliveries) == 1, "the delivery")
    [delivery] = deliveries
    create = telemetry.span("create shipped")
    process = telemetry.span("process shipped")
    assert create.kind is SpanKind.PRODUCER
    assert dict(create.attributes or {}) == {
        "messaging.system": "redis",
        "messaging.destination.name": "typed-events:shipped",
        "messaging.operation.type": "create",
        "messaging.operation.name": "create",
        "messaging.message.id": delivery.id,
    }
    assert process.kind is SpanKind.CONSUMER
    assert dict(process.attributes or {}) == {
        "messaging.system": "redis",
        "messaging.destination.name": "typed-events:shipped",
        "messaging.operation.type": "process",
        "messaging.operation.name": "process",
        "messaging.consumer.group.name": f"shop:{notify.name}",
        "messaging.message.id": delivery.id,
        "typed_events.listener": notify.name,
    }
    # The trace context went through the envelope, not through this process's context.
    assert set(delivery.extensions) >= {"traceparent"}
    assert create.context is not None
    assert process.context is not None
    assert process.parent is not None
    assert process.parent.is_remote
    assert process.parent.span_id == create.context.span_id
    assert process.context.trace_id == create.context.trace_id
    sent = telemetry.points("messaging.client.sent.messages")
    assert [(a["messaging.system"], p.value) for a, p in sent] == [("redis", 1)]
    consumed = telemetry.points("messaging.client.consumed.messages")
    assert [a["messaging.consumer.group.name"] for a, _ in consumed] == [f"shop:{notify.name}"]


@pytest.mark.anyio
async def test_a_failed_redis_delivery_ends_its_span_with_the_error(
    redis_server: RedisServer, telemetry: Telemetry
) -> None:
    @listener(Shipped)
    async def refuse(event: Shipped) -> None:
        raise LookupError("no such parcel")

    backend = RedisStreamsBackend(redis_server.url, service="shop", max_retries=0, retry_backoff=0)
    bus = EventBus(
        [refuse], backend=backend, middleware=[telemetry.middleware], on_error=lambda *_: None
    )
    async with bus:
        bus.emit(Shipped(parcel=1))
        await eventually(lambda: bus.stats.failed == 1, "the dead letter")
    process = telemetry.span("process shipped")
    assert process.status.status_code is StatusCode.ERROR
    assert (process.attributes or {})["error.type"] == "LookupError"


def _spans(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _run(role: str, url: str, out: Path, count: int, loop: str) -> subprocess.Popen[bytes]:
    code = "import sys; from tests.redis.otel_app import main; sys.exit(main())"
    options = ["--url", url, "--out", str(out), "--count", str(count), "--loop", loop]
    return subprocess.Popen(
        [sys.executable, "-c", code, role, *options],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
    )


def test_the_consumer_process_continues_the_emitter_process_trace(
    redis_server: RedisServer, tmp_path: Path
) -> None:
    consumer = _run("consumer", redis_server.url, tmp_path, 2, "trio")  # across event loops
    try:
        ready = tmp_path / "ready"
        wait_for(lambda: ready.exists() or consumer.poll() is not None, "the consumer to start")
        assert consumer.poll() is None, "the consumer exited before it was ready"
        emitter = _run("emitter", redis_server.url, tmp_path, 2, "asyncio")
        assert emitter.wait(timeout=60) == 0
        assert consumer.wait(timeout=60) == 0
    finally:
        consumer.kill()
    emitted = {s["name"]: s for s in _spans(tmp_path / "spans-emitter.jsonl")}
    consumed = _spans(tmp_path / "spans-consumer.jsonl")
    request = emitted["POST /invoices/pay"]
    trace_id = request["context"]["trace_id"]
    creates = [
        s for s in _spans(tmp_path / "spans-emitter.jsonl") if s["name"] == "create invoice_paid"
    ]
    processes = [s for s in consumed if s["name"] == "process invoice_paid"]
    inner = [s for s in consumed if s["name"] == "UPDATE invoices"]
    assert len(creates) == len(processes) == len(inner) == 2
    assert {s["context"]["trace_id"] for s in [*creates, *processes, *inner]} == {trace_id}
    assert {s["parent_id"] for s in creates} == {request["context"]["span_id"]}
    assert {s["parent_id"] for s in processes} == {s["context"]["span_id"] for s in creates}
    assert {s["parent_id"] for s in inner} == {s["context"]["span_id"] for s in processes}
    assert {s["kind"] for s in processes} == {"SpanKind.CONSUMER"}
    assert {s["attributes"]["messaging.system"] for s in processes} == {"redis"}


@pytest.mark.anyio
async def test_gauges_report_the_sampled_group_backlog_and_the_dead_letters(
    redis_server: RedisServer, telemetry: Telemetry
) -> None:
    release = anyio.Event()

    @listener(Shipped)
    async def slow(event: Shipped) -> None:
        if event.parcel == 0:
            raise LookupError("dead-letter this one")
        await release.wait()

    otel = telemetry.middleware
    backend = RedisStreamsBackend(
        redis_server.url, service="shop", max_retries=0, batch_size=1, max_concurrency=1
    )
    bus = otel.observe(
        EventBus([slow], backend=backend, middleware=[otel], on_error=lambda *_: None)
    )
    async with bus:
        for parcel in range(4):
            await bus.emit_async(Shipped(parcel=parcel))
        await eventually(lambda: bus.stats.failed == 1, "the dead letter")
        await eventually(lambda: bus.stats.accepted == 2, "the second delivery to start")
        backlog = await backend.sample_backlog()
        gauges = {
            name: {tuple(sorted(a.items())): p.value for a, p in telemetry.points(name)}
            for name in (
                "typed_events.consumer.lag",
                "typed_events.consumer.pending",
                "typed_events.dead_letter.messages",
            )
        }
        release.set()
    group = f"shop:{slow.name}"
    attributes = (
        ("messaging.consumer.group.name", group),
        ("messaging.destination.name", "typed-events:shipped"),
        ("messaging.system", "redis"),
    )
    [sampled] = backlog.groups
    assert (sampled.stream, sampled.group, sampled.pending) == ("typed-events:shipped", group, 1)
    assert gauges["typed_events.consumer.pending"] == {attributes: 1}
    assert gauges["typed_events.dead_letter.messages"] == {
        (
            ("messaging.destination.name", "typed-events:dead-letter"),
            ("messaging.system", "redis"),
        ): 1
    }
    # Redis says the lag from 7.0 on (XINFO GROUPS "lag"); the gauge follows what it says.
    if sampled.lag is None:
        assert gauges["typed_events.consumer.lag"] == {}
    else:
        assert sampled.lag == 2
        assert gauges["typed_events.consumer.lag"] == {attributes: 2}
