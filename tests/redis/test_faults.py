"""Faults against a real redis-server: restarts, poison messages, failing listeners.

Each runs on asyncio and on trio.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.to_thread
import pytest

from typed_events import Event, EventBus, Listener, listener
from typed_events.backends.redis import RedisStreamsBackend, current_delivery
from typed_events.envelope import encode

from .conftest import RedisServer
from .helpers import dead_letters, eventually

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


class Reading(Event, event_id="reading"):
    n: int


class Alarm(Event, event_id="alarm"):
    message: str


async def test_every_event_acknowledged_by_emit_async_is_delivered_across_a_redis_restart(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    total, kill_at = 600, 200
    live: set[int] = set()
    audited: set[int] = set()

    @listener(Reading)
    async def collect(event: Reading) -> None:
        live.add(event.n)

    @listener(Reading)
    async def audit(event: Reading) -> None:
        audited.add(event.n)

    acknowledged: list[int] = []

    async def emit_all(bus: EventBus) -> None:
        for n in range(total):
            await bus.emit_async(Reading(n=n))  # returns once Redis acknowledged the XADD
            acknowledged.append(n)

    async def restart_redis() -> None:
        await eventually(lambda: len(acknowledged) >= kill_at, "the first events")
        redis_server.stop(kill=True)  # kill -9: no goodbye; appendonly fsyncs each write
        await anyio.sleep(0.3)
        await anyio.to_thread.run_sync(redis_server.start)

    caplog.set_level(logging.WARNING, logger="typed_events")
    url = redis_server.url
    emitter = EventBus(
        events=[Reading], backend=RedisStreamsBackend(url, service="web", consume=False)
    )
    consumer = EventBus(
        [collect], backend=RedisStreamsBackend(url, service="meter", claim_idle=0.5)
    )
    async with consumer, emitter:
        async with anyio.create_task_group() as group:
            group.start_soon(emit_all, emitter)
            group.start_soon(restart_redis)
        await eventually(lambda: live >= set(acknowledged), "acknowledged events after restart")
    assert acknowledged == list(range(total))
    messages = [r.getMessage() for r in caplog.records]
    assert any("Redis unavailable" in m and "waiting to be written" in m for m in messages)
    assert any("consumer group meter:" in m and "reconnected" in m for m in messages)
    assert emitter.shutdown_report is not None
    assert emitter.shutdown_report.clean
    # A service that starts only now still finds every acknowledged event in the stream.
    async with EventBus([audit], backend=RedisStreamsBackend(url, service="audit")):
        await eventually(lambda: audited >= set(acknowledged), "the stream to hold them all")
    for info in redis_server.client().groups("typed-events:reading"):
        assert info["pending"] == 0


async def test_poison_messages_are_dead_lettered_with_reasons_and_the_consumer_goes_on(
    redis_server: RedisServer,
) -> None:
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)

    client = redis_server.client()
    stream = "typed-events:reading"

    def envelope(**changes: Any) -> bytes:
        obj = json.loads(encode(Reading(n=0), source="/test"))
        obj.update(changes)
        return json.dumps(obj).encode()

    client.xadd(stream, {"envelope": encode(Reading(n=1), source="/test")})
    poison: dict[str, dict[str, bytes]] = {
        "bad json": {"envelope": b'{"specversion": "1.0", "id": '},
        "invalid data": {"envelope": envelope(data={"n": "twelve"})},
        "unknown type": {"envelope": envelope(type="no_such_event")},
        "too large": {"envelope": envelope(padding="x" * 5000)},
        "bad envelope": {"payload": b"not where the envelope goes"},
    }
    for fields in poison.values():
        client.xadd(stream, fields)
    client.xadd(stream, {"envelope": encode(Reading(n=2), source="/test")})

    backend = RedisStreamsBackend(redis_server.url, service="meter", max_message_bytes=4096)
    async with EventBus([collect], backend=backend):
        await eventually(lambda: seen == [1, 2], "the good messages around the poison")
        await eventually(lambda: len(dead_letters(client)) == len(poison), "the dead letters")

    letters = {letter.reason: letter for letter in dead_letters(client)}
    assert set(letters) == set(poison)
    assert "not JSON" in letters["bad json"].detail
    assert "data.n" in letters["invalid data"].detail
    assert "no_such_event" in letters["unknown type"].detail
    assert "more than the limit of 4096 bytes" in letters["too large"].detail
    assert letters["too large"].truncated
    assert "has no 'envelope' field (fields: payload)" in letters["bad envelope"].detail
    assert letters["invalid data"].envelope == poison["invalid data"]["envelope"]
    for letter in letters.values():
        assert letter.group == "meter:" + collect.name
        assert letter.stream == stream
        assert letter.attempts == 1
    assert client.groups(stream)[0]["pending"] == 0  # all acknowledged


async def test_a_failing_listener_is_retried_with_backoff_then_dead_lettered(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    flaky_attempts: list[int] = []
    broken_attempts: list[int] = []
    reported: list[tuple[str, str, str]] = []

    @listener(Reading)
    async def flaky(event: Reading) -> None:
        delivery = current_delivery()
        assert delivery is not None
        flaky_attempts.append(delivery.attempt)
        if delivery.attempt < 3:
            raise RuntimeError(f"flaky failure {delivery.attempt}")

    @listener(Alarm)
    def broken(event: Alarm) -> None:  # sync: runs in a thread, sees the delivery too
        delivery = current_delivery()
        assert delivery is not None
        broken_attempts.append(delivery.attempt)
        raise ValueError("never works")

    def on_error(event: Event, failed: Any, exc: BaseException) -> None:
        reported.append((event.event_id, failed.name, repr(exc)))

    backend = RedisStreamsBackend(
        redis_server.url, service="meter", max_retries=3, retry_backoff=0.05, claim_idle=5.0
    )
    caplog.set_level(logging.WARNING, logger="typed_events")
    bus = EventBus([flaky, broken], backend=backend, on_error=on_error)
    async with bus:
        await bus.emit_async(Reading(n=7))
        await bus.emit_async(Alarm(message="fire"))
        await eventually(lambda: flaky_attempts == [1, 2, 3], "the flaky listener to succeed")
        await eventually(lambda: len(reported) == 1, "the broken listener to be given up")

    assert broken_attempts == [1, 2, 3, 4]  # the first delivery and max_retries=3 more
    assert reported == [("alarm", broken.name, "ValueError('never works')")]
    [letter] = dead_letters(redis_server.client())
    assert letter.reason == "listener failed"
    assert letter.detail == "ValueError: never works"
    assert letter.attempts == 4
    assert letter.listener == broken.name
    assert letter.event_type == "alarm"
    # The pipeline's log records carry structured fields: filter on them, not on text.
    retries = [r for r in caplog.records if getattr(r, "outcome", None) == "redelivered"]

    def delays(name: str) -> list[str]:
        messages = [r.getMessage() for r in retries if getattr(r, "listener", None) == name]
        return [m.split("again in ", 1)[1].split(":", 1)[0] for m in messages]

    assert delays(flaky.name) == ["0.05s", "0.1s"]
    assert delays(broken.name) == ["0.05s", "0.1s", "0.2s"]
    attempts = [
        getattr(r, "attempt", None) for r in retries if r.getMessage().find(broken.name) >= 0
    ]
    assert attempts == [1, 2, 3]
    client = redis_server.client()
    for stream in ("typed-events:reading", "typed-events:alarm"):
        assert client.groups(stream)[0]["pending"] == 0


async def test_the_listeners_own_retries_run_within_each_redis_delivery(
    redis_server: RedisServer,
) -> None:
    calls: list[int] = []

    @listener(Reading, retries=1, retry_backoff=0.0)
    async def twice_per_delivery(event: Reading) -> None:
        delivery = current_delivery()
        assert delivery is not None
        calls.append(delivery.attempt)
        raise RuntimeError("no")

    backend = RedisStreamsBackend(
        redis_server.url, service="meter", max_retries=1, retry_backoff=0.01
    )
    async with EventBus([twice_per_delivery], backend=backend) as bus:
        await bus.emit_async(Reading(n=1))
        await eventually(lambda: len(dead_letters(redis_server.client())) == 1, "the dead letter")
    assert calls == [1, 1, 2, 2]


async def test_a_stream_deleted_under_a_running_consumer_is_recreated(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)

    caplog.set_level(logging.WARNING, logger="typed_events")
    backend = RedisStreamsBackend(redis_server.url, service="meter", claim_idle=0.2)
    async with EventBus([collect], backend=backend) as bus:
        await bus.emit_async(Reading(n=1))
        await eventually(lambda: seen == [1], "the first event")
        redis_server.client().delete(["typed-events:reading"])  # groups go with the stream
        await eventually(lambda: "vanished; recreating it" in caplog.text, "the recovery")
        await bus.emit_async(Reading(n=2))
        await eventually(lambda: seen == [1, 2], "an event after the recovery")


async def test_a_refused_acknowledgement_is_logged_and_the_consumer_goes_on(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)

    redis_server.client().acl_setuser(
        "no-ack", "on", ">pw", "~typed-events:*", "+@stream", "+ping", "-xack"
    )
    url = f"redis://no-ack:pw@127.0.0.1:{redis_server.port}/0"
    backend = RedisStreamsBackend(url, service="meter", claim_idle=5.0)
    async with EventBus([collect], backend=backend) as bus:
        await bus.emit_async(Reading(n=1))
        await bus.emit_async(Reading(n=2))
        await eventually(lambda: sorted(seen) == [1, 2], "both events despite the refusals")
    assert "Redis refused to acknowledge" in caplog.text
    assert (
        "AuthorizationError: this user has no permissions to run the 'xack' command" in caplog.text
    )


async def test_a_consumer_outlives_more_cut_connections_than_its_client_pools(
    redis_server: RedisServer,
) -> None:
    """A connection cut while it waits in XREADGROUP gives its place in the pool back (the
    client alone does not): after 30 such cuts the consumer still reads."""
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)

    admin = redis_server.client()

    def blocked_reader() -> int | None:
        for client in admin.client_list():
            if client["cmd"] == "xreadgroup" and "b" in client["flags"]:
                return int(client["id"])
        return None

    backend = RedisStreamsBackend(redis_server.url, service="m")
    emitted: list[int] = []
    async with EventBus([collect], backend=backend) as bus:
        for n in range(30):
            await eventually(lambda: blocked_reader() is not None, "the consumer to wait")
            admin.client_kill(identifier=blocked_reader())
            await bus.emit_async(Reading(n=n))
            emitted.append(n)
            await eventually(lambda: len(seen) == len(emitted), f"event {n} after {n + 1} cuts")
    assert seen == list(range(30))


async def test_awaited_emits_outlive_more_cut_connections_than_the_pool_has_places(
    redis_server: RedisServer,
) -> None:
    """An awaited emit keeps one connection; cut under it, the emit still lands (the
    writer retries it) and the next one takes a new connection: 30 cuts, more than the
    client's pool has places, and every event is in the stream."""
    admin = redis_server.client()

    def cut_the_emit_connection() -> None:
        [emitting] = [c for c in admin.client_list() if c["cmd"] == "xadd"]
        admin.client_kill(identifier=int(emitting["id"]))

    async def emit_through_cuts() -> None:
        backend = RedisStreamsBackend(redis_server.url, service="m", consume=False)
        async with EventBus(events=[Reading], backend=backend) as bus:
            for n in range(30):
                await bus.emit_async(Reading(n=n))
                cut_the_emit_connection()
            await bus.emit_async(Reading(n=30))

    with anyio.fail_after(60):  # a hang guard: a pool out of places waits for ever
        await emit_through_cuts()
    entries = admin.xrange("typed-events:reading")
    written = [json.loads(e.field_values[b"envelope"])["data"]["n"] for e in entries]
    assert sorted(set(written)) == list(range(31))


async def test_consumers_sharing_a_read_connection_outlive_30_cuts_of_it(
    redis_server: RedisServer,
) -> None:
    """A backend's consumers share one connection for their reads without waiting; cut
    while several of them wait on it, each takes it up again (one new connection, no
    pool place lost), 30 times over: more than the pool has places."""
    seen: dict[str, list[int]] = {"a": [], "b": [], "c": []}

    def collecting(name: str) -> Listener[..., Any]:
        async def collect(event: Reading) -> None:
            seen[name].append(event.n)

        collect.__qualname__ = f"collect_{name}"
        return listener(Reading)(collect)

    admin = redis_server.client()

    def every_listener_has(count: int) -> Callable[[], bool]:
        return lambda: all(len(got) == count for got in seen.values())

    def read_connections() -> list[int]:
        return [int(c["id"]) for c in admin.client_list() if c["cmd"] == "exec"]

    async def emit_through_cuts() -> None:
        backend = RedisStreamsBackend(redis_server.url, service="m", claim_idle=0.5)
        async with EventBus([collecting(name) for name in seen], backend=backend) as bus:
            for n in range(30):
                await bus.emit_async(Reading(n=n))
                await eventually(every_listener_has(n + 1), f"event {n}")
                # After a cut the consumers wait out a backoff before reading again.
                await eventually(lambda: bool(read_connections()), "the read connection")
                for connection in read_connections():
                    admin.client_kill(identifier=connection)

    with anyio.fail_after(120):  # a hang guard: a pool out of places waits for ever
        await emit_through_cuts()
    assert all(sorted(set(got)) == list(range(30)) for got in seen.values())
