"""RedisStreamsBackend in one process against a real redis-server: wiring, delivery, lifecycle.

The async tests run on asyncio and on trio.
"""

from __future__ import annotations

import re
import socket
from typing import Any

import anyio
import pytest

from typed_events import EmitterNotRunningError, Event, EventBus, Listener, listener
from typed_events.backends.redis import (
    Delivery,
    RedisStreamsBackend,
    RedisUnavailableError,
    RedisWriteError,
    WriteBufferFullError,
    current_delivery,
)
from typed_events.envelope import EnvelopeError

from .conftest import RedisServer
from .helpers import dead_letters, eventually

pytestmark = pytest.mark.redis


class Signup(Event, event_id="signup"):
    email: str


class Welcome(Event, event_id="welcome"):
    email: str


class Blob(Event, event_id="blob"):
    body: str


@pytest.mark.anyio
async def test_a_listener_gets_the_event_and_its_delivery(redis_server: RedisServer) -> None:
    got: list[tuple[Signup, Delivery | None]] = []

    @listener(Signup)
    def remember(event: Signup) -> None:  # sync: runs in a thread, with the context
        got.append((event, current_delivery()))

    backend = RedisStreamsBackend(redis_server.url, service="accounts")
    async with EventBus([remember], backend=backend) as bus:
        bus.emit(Signup(email="a@example.com"))
        await eventually(lambda: len(got) == 1, "the delivery")
    [(event, delivery)] = got
    assert event == Signup(email="a@example.com")
    assert delivery is not None
    assert delivery.stream == "typed-events:signup"
    assert delivery.group == f"accounts:{remember.name}"
    assert delivery.attempt == 1
    assert delivery.source == "/typed-events/accounts"
    assert re.fullmatch(rf"{re.escape(socket.gethostname())}:\d+:[0-9a-f]{{6}}", delivery.consumer)
    assert re.fullmatch(r"[0-9a-f-]{36}", delivery.id)
    assert current_delivery() is None  # only inside a listener
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean
    # A clean stop removes this process's consumer from the group.
    client = redis_server.client()
    assert client.consumers("typed-events:signup", delivery.group) == []


@pytest.mark.anyio
async def test_a_group_reads_what_was_emitted_before_it_existed_then_resumes_where_it_left_off(
    redis_server: RedisServer,
) -> None:
    seen: list[str] = []

    @listener(Signup)
    async def collect(event: Signup) -> None:
        seen.append(event.email)

    url = redis_server.url
    emitter = RedisStreamsBackend(url, service="web", consume=False)
    async with EventBus(events=[Signup], backend=emitter) as web:
        await web.emit_async(Signup(email="early@example.com"))
    async with EventBus([collect], backend=RedisStreamsBackend(url, service="crm")) as crm:
        await eventually(lambda: seen == ["early@example.com"], "the retained event")
        await crm.emit_async(Signup(email="second@example.com"))
        await eventually(lambda: len(seen) == 2, "the second event")
    async with EventBus(events=[Signup], backend=RedisStreamsBackend(url, service="web")) as web:
        await web.emit_async(Signup(email="while-crm-was-down@example.com"))
    async with EventBus([collect], backend=RedisStreamsBackend(url, service="crm")):
        await eventually(lambda: len(seen) == 3, "the event emitted while crm was down")
    assert seen == ["early@example.com", "second@example.com", "while-crm-was-down@example.com"]


@pytest.mark.anyio
async def test_events_without_a_local_listener_are_still_written(redis_server: RedisServer) -> None:
    backend = RedisStreamsBackend(redis_server.url, service="web", maxlen=100)
    async with EventBus(events=[Welcome], backend=backend) as bus:
        for n in range(1000):
            bus.emit(Welcome(email=f"{n}@example.com"))
        await backend.flush()
    length = redis_server.client().xlen("typed-events:welcome")
    assert 100 <= length < 1000  # MAXLEN ~ trims in whole nodes, never below the cap


@pytest.mark.anyio
async def test_an_ordered_listener_sees_its_events_in_stream_order(
    redis_server: RedisServer,
) -> None:
    order: list[int] = []

    @listener(Signup, ordered=True)
    async def in_order(event: Signup) -> None:
        n = int(event.email.split("@")[0])
        await anyio.sleep(0.001 * (n % 3))  # would reorder concurrent calls
        order.append(n)

    backend = RedisStreamsBackend(redis_server.url, service="accounts", batch_size=7)
    async with EventBus([in_order], backend=backend) as bus:
        for n in range(60):
            bus.emit(Signup(email=f"{n}@example.com"))
        await eventually(lambda: len(order) == 60, "all events")
    assert order == list(range(60))


@pytest.mark.anyio
async def test_a_slow_listener_keeps_its_message_past_claim_idle(redis_server: RedisServer) -> None:
    calls: list[str] = []

    @listener(Signup)
    async def slow(event: Signup) -> None:
        calls.append(event.email)
        await anyio.sleep(1.0)  # more than claim_idle: the heartbeat must keep the message

    url = redis_server.url
    first = RedisStreamsBackend(url, service="accounts", claim_idle=0.2)
    second = RedisStreamsBackend(url, service="accounts", claim_idle=0.2)
    async with EventBus([slow], backend=first) as bus, EventBus([slow], backend=second):
        await bus.emit_async(Signup(email="once@example.com"))
        await eventually(lambda: len(calls) == 1, "the call")
        await anyio.sleep(1.5)
    assert calls == ["once@example.com"]


@pytest.mark.anyio
async def test_a_message_that_keeps_killing_its_consumers_is_dead_lettered_unrun(
    redis_server: RedisServer,
) -> None:
    calls: list[Signup] = []

    @listener(Signup)
    async def never_reached(event: Signup) -> None:
        calls.append(event)

    group = f"accounts:{never_reached.name}"
    client = redis_server.client()
    client.xgroup_create("typed-events:signup", group, "0", mkstream=True)
    backend = RedisStreamsBackend(redis_server.url, service="web", consume=False)
    async with EventBus(events=[Signup], backend=backend) as bus:
        await bus.emit_async(Signup(email="poison-pill@example.com"))
    # A consumer that read it and died, then three more that claimed it and died.
    reply: Any = client.xreadgroup(group, "ghost", {"typed-events:signup": ">"})
    [[entry]] = reply.values()
    message_id = entry.identifier
    for _ in range(3):
        client.xclaim("typed-events:signup", group, "ghost", 0, [message_id])
    backend = RedisStreamsBackend(
        redis_server.url, service="accounts", max_retries=2, claim_idle=0.05
    )
    async with EventBus([never_reached], backend=backend):
        await eventually(lambda: len(dead_letters(client)) == 1, "the dead letter")
    [letter] = dead_letters(client)
    assert letter.reason == "too many deliveries"
    assert letter.attempts == 5
    assert "delivered 5 times, never acknowledged" in letter.detail
    assert calls == []


@pytest.mark.anyio
async def test_follow_up_events_emitted_while_stopping_are_written(
    redis_server: RedisServer,
) -> None:
    started: list[Signup] = []

    @listener(Signup)
    async def greet(event: Signup) -> None:
        started.append(event)
        await anyio.sleep(0.2)
        bus.emit(Welcome(email=event.email))

    bus = EventBus(
        [greet], events=[Welcome], backend=RedisStreamsBackend(redis_server.url, service="a")
    )
    async with bus:
        await bus.emit_async(Signup(email="a@example.com"))
        await eventually(lambda: bool(started), "the call to start")
    # The bus stopped while greet ran: it finished, and its follow-up was written.
    assert redis_server.client().xlen("typed-events:welcome") == 1
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean


@pytest.mark.anyio
async def test_unwritten_events_are_reported_on_exit_never_dropped(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    backend = RedisStreamsBackend(redis_server.url, service="web", shutdown_timeout=0.3)
    bus = EventBus(events=[Signup], backend=backend)
    failures: list[BaseException] = []

    async def wait_for_ack() -> None:
        try:
            await bus.emit_async(Signup(email="awaited@example.com"))
        except RedisWriteError as exc:
            failures.append(exc)

    async with anyio.create_task_group() as group, bus:
        redis_server.stop(kill=True)
        bus.emit(Signup(email="one@example.com"))
        bus.emit(Signup(email="two@example.com"))
        group.start_soon(wait_for_ack)
        await anyio.sleep(0.05)
        # Leaving the bus gave up after shutdown_timeout and released the waiting emit.
    report = bus.shutdown_report
    assert report is not None
    assert not report.clean
    assert {c.event for c in report.calls} == {
        Signup(email="one@example.com"),
        Signup(email="two@example.com"),
        Signup(email="awaited@example.com"),
    }
    assert {c.reason for c in report.calls} == {"not written"}
    assert {c.listener for c in report.calls} == {"typed-events:signup"}
    assert len(failures) == 1
    assert "was not written to 'typed-events:signup'" in str(failures[0])
    assert "3 event(s) not written to Redis" in caplog.text


@pytest.mark.anyio
async def test_a_write_redis_refuses_fails_alone_and_the_rest_of_its_batch_is_written(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    """One round trip carries many writes; Redis refusing some of them (a key of the
    wrong type) fails those, says why, and stores the others."""
    client = redis_server.client()
    client.set("typed-events:welcome", "not a stream")
    backend = RedisStreamsBackend(redis_server.url, service="web", consume=False)
    async with EventBus(events=[Signup, Welcome], backend=backend) as bus:
        for n in range(10):
            bus.emit(Signup(email=f"{n}@x"))
            bus.emit(Welcome(email=f"{n}@x"))
        await backend.flush()
        with pytest.raises(RedisWriteError) as refused:
            await bus.emit_async(Welcome(email="awaited@x"))
        await bus.emit_async(Signup(email="awaited@x"))
    assert client.xlen("typed-events:signup") == 11
    assert str(refused.value) == (
        "Redis refused to write a 'welcome' event to 'typed-events:welcome': WrongTypeError: "
        "Operation against a key holding the wrong kind of value"
    )
    assert caplog.text.count("Redis refused to write a 'welcome' event") == 11
    report = bus.shutdown_report
    assert report is not None
    assert {c.event for c in report.calls} == {
        Welcome(email=email) for email in [*(f"{n}@x" for n in range(10)), "awaited@x"]
    }


@pytest.mark.anyio
async def test_a_full_write_buffer_refuses_sync_emits(redis_server: RedisServer) -> None:
    backend = RedisStreamsBackend(redis_server.url, service="web", max_pending=3)
    async with EventBus(events=[Signup], backend=backend) as bus:
        for n in range(3):
            bus.emit(Signup(email=f"{n}@example.com"))  # no await: the writer cannot run
        with pytest.raises(WriteBufferFullError, match=r"3 events are waiting .*emit_async"):
            bus.emit(Signup(email="3@example.com"))
        await bus.emit_async(Signup(email="waits@example.com"))  # waits for room instead
    assert redis_server.client().xlen("typed-events:signup") == 4


@pytest.mark.anyio
async def test_an_event_too_large_for_consumers_is_refused_at_emit(
    redis_server: RedisServer,
) -> None:
    backend = RedisStreamsBackend(redis_server.url, service="web", max_message_bytes=1024)
    async with EventBus(events=[Blob], backend=backend) as bus:
        with pytest.raises(EnvelopeError, match=r"Blob event serializes to \d+ bytes") as info:
            bus.emit(Blob(body="x" * 2000))
        assert info.value.reason == "too large"
        bus.emit(Blob(body="fits"))
    assert redis_server.client().xlen("typed-events:blob") == 1


@pytest.mark.anyio
async def test_acl_user_and_password_in_the_url(redis_server: RedisServer) -> None:
    client = redis_server.client()
    # The least the backend needs, as docs/redis.md says: stream commands and PING.
    client.acl_setuser("events", "on", ">n0t-default", "~typed-events:*", "+@stream", "+ping")
    seen: list[Signup] = []

    @listener(Signup)
    async def collect(event: Signup) -> None:
        seen.append(event)

    url = f"redis://events:n0t-default@127.0.0.1:{redis_server.port}/0"
    async with EventBus([collect], backend=RedisStreamsBackend(url, service="acl")) as bus:
        await bus.emit_async(Signup(email="acl@example.com"))
        await eventually(lambda: len(seen) == 1, "the delivery")

    wrong = f"redis://events:guessed@127.0.0.1:{redis_server.port}/0"
    with pytest.raises(RedisUnavailableError) as info:
        async with EventBus([collect], backend=RedisStreamsBackend(wrong, service="acl")):
            pass
    assert "redis://events:***@127.0.0.1" in str(info.value)
    assert "guessed" not in str(info.value)


@pytest.mark.anyio
async def test_tls_with_a_rediss_url(tls_redis_server: RedisServer) -> None:
    seen: list[Signup] = []

    @listener(Signup)
    async def collect(event: Signup) -> None:
        seen.append(event)

    assert tls_redis_server.url.startswith("rediss://")
    backend = RedisStreamsBackend(tls_redis_server.url, service="tls")
    async with EventBus([collect], backend=backend) as bus:
        await bus.emit_async(Signup(email="tls@example.com"))
        await eventually(lambda: len(seen) == 1, "the delivery")


@pytest.mark.anyio
async def test_an_unreachable_redis_fails_at_startup_with_the_url(
    caplog: pytest.LogCaptureFixture,
) -> None:
    backend = RedisStreamsBackend("redis://:pw@127.0.0.1:1/0", service="web")
    bus = EventBus(events=[Signup], backend=backend)
    with pytest.raises(RedisUnavailableError, match=r"cannot use Redis at redis://:\*\*\*@127"):
        await bus.__aenter__()
    assert not bus.running
    with pytest.raises(EmitterNotRunningError):
        backend.emit(Signup(email="a@example.com"))


@pytest.mark.anyio
async def test_listeners_that_would_share_a_group_are_refused(redis_server: RedisServer) -> None:
    class Handler:
        async def __call__(self, event: Signup) -> None: ...

    first, second = listener(Signup)(Handler()), listener(Signup)(Handler())
    bus = EventBus([first, second], backend=RedisStreamsBackend(redis_server.url, service="s"))
    with pytest.raises(ValueError, match=r"would share the consumer group 's:.*Handler'"):
        await bus.__aenter__()


@pytest.mark.anyio
async def test_an_event_named_dead_letter_is_refused(redis_server: RedisServer) -> None:
    class Clash(Event, event_id="dead-letter"):
        pass

    bus = EventBus(events=[Clash], backend=RedisStreamsBackend(redis_server.url, service="s"))
    with pytest.raises(ValueError, match="would share its stream with the dead letters"):
        await bus.__aenter__()


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"url": "http://localhost"}, "redis://, rediss://, unix://, redis+cluster:// or rediss"),
        ({"service": " "}, "service must be a non-empty name"),
        ({"max_retries": -1}, "max_retries must be an int >= 0"),
        ({"claim_idle": 0}, "claim_idle must be seconds > 0"),
        ({"maxlen": 0}, "maxlen must be an int >= 1"),
        ({"max_message_bytes": 10}, "max_message_bytes must be an int >= 256"),
        ({"replicas": -1}, "replicas must be an int >= 0"),
        ({"replica_timeout": 0}, "replica_timeout must be seconds > 0"),
        ({"url": "redis+cluster://:pw@h1:7000/3"}, "a Redis Cluster has database 0 only"),
        ({"url": "redis+cluster://h1:7000", "stream_prefix": "{a}:"}, "contains a brace"),
    ],
)
def test_invalid_settings_are_refused_with_the_name(settings: dict[str, Any], message: str) -> None:
    arguments: dict[str, Any] = {"url": "redis://localhost", "service": "s", **settings}
    url = arguments.pop("url")
    with pytest.raises(ValueError, match=re.escape(message)):
        RedisStreamsBackend(url, **arguments)


@pytest.mark.anyio
async def test_the_pipeline_edges_hold_through_redis_consumers(redis_server: RedisServer) -> None:
    """A Redis consumer runs listeners through the same pipeline: counters add up, and a
    BaseException stops the bus at once with the original exception."""
    handled: list[str] = []

    @listener(Signup)
    async def flaky(email: str) -> None:
        if email.startswith("bad"):
            raise ValueError(email)
        handled.append(email)

    backend = RedisStreamsBackend(
        redis_server.url, service="edges", max_retries=1, retry_backoff=0.01
    )
    async with EventBus([flaky], backend=backend) as bus:
        for email in ("a@x", "bad@x", "b@x"):
            bus.emit(Signup(email=email))
        await eventually(lambda: bus.stats.failed == 1 and len(handled) == 2, "the outcomes")
    stats = bus.stats
    assert (stats.delivered, stats.failed, stats.redelivered) == (2, 1, 1)
    assert stats.delivered + stats.failed + stats.dropped + stats.redelivered == stats.accepted

    @listener(Welcome)
    async def interrupts(email: str) -> None:
        raise KeyboardInterrupt

    await assert_it_stops_the_bus_with_keyboard_interrupt(redis_server, interrupts)


async def assert_it_stops_the_bus_with_keyboard_interrupt(
    redis_server: RedisServer, interrupts: Listener[..., Any]
) -> None:
    """A ``Welcome`` handled by ``interrupts`` stops the bus at once, with the original
    ``KeyboardInterrupt``."""
    stopping = RedisStreamsBackend(redis_server.url, service="edges", shutdown_timeout=30)

    async def serve() -> None:
        async with EventBus([interrupts], backend=stopping) as bus:
            bus.emit(Welcome(email="c@x"))
            await anyio.sleep(60)

    with anyio.fail_after(20), pytest.raises(KeyboardInterrupt):  # a hang guard
        await serve()
    assert stopping.shutdown_report is not None
    assert isinstance(stopping.shutdown_report.interrupted_by, KeyboardInterrupt)


@pytest.mark.anyio
async def test_every_way_a_call_ends_before_or_after_it_suspends_is_settled_once(
    redis_server: RedisServer,
) -> None:
    """A plain listener whose call ends in its first step runs without a task or a frame of
    its own: ending then (well or not) and ending after a wait are settled alike."""
    calls: dict[str, int] = {}

    def called(name: str) -> None:
        calls[name] = calls.get(name, 0) + 1

    @listener(Signup)
    async def fails_at_once(email: str) -> None:
        called("fails_at_once")
        raise ValueError(email)

    @listener(Signup)
    async def fails_after_a_wait(email: str) -> None:
        called("fails_after_a_wait")
        await anyio.sleep(0.001)
        raise ValueError(email)

    @listener(Signup)
    async def ends_after_a_wait(email: str) -> None:
        await anyio.sleep(0.001)
        called("ends_after_a_wait")

    @listener(Signup)
    async def asks_for_its_delivery(email: str) -> None:
        delivery = current_delivery()
        assert delivery is not None  # and built once:
        assert delivery is current_delivery()
        assert delivery.stream == "typed-events:signup"
        assert delivery.attempt == 1
        called("asks_for_its_delivery")

    client = redis_server.client()
    listeners = [fails_at_once, fails_after_a_wait, ends_after_a_wait, asks_for_its_delivery]
    backend = RedisStreamsBackend(redis_server.url, service="ends", max_retries=0)
    async with EventBus(listeners, backend=backend) as bus:
        bus.emit(Signup(email="a@x"))
        await eventually(lambda: len(dead_letters(client)) == 2, "both failures dead-lettered")
        await eventually(lambda: bus.stats.delivered == 2, "both successes")
    assert calls == dict.fromkeys(
        ["fails_at_once", "fails_after_a_wait", "ends_after_a_wait", "asks_for_its_delivery"], 1
    )
    stats = bus.stats
    assert (stats.accepted, stats.delivered, stats.failed, stats.redelivered) == (4, 2, 2, 0)
    assert sorted(letter.listener for letter in dead_letters(client)) == sorted(
        [fails_at_once.name, fails_after_a_wait.name]
    )

    @listener(Welcome)
    async def interrupts_after_a_wait(email: str) -> None:
        await anyio.sleep(0.001)
        raise KeyboardInterrupt

    await assert_it_stops_the_bus_with_keyboard_interrupt(redis_server, interrupts_after_a_wait)


@pytest.mark.anyio
async def test_a_call_cut_off_by_the_shutdown_timeout_is_redelivered_on_the_next_start(
    redis_server: RedisServer,
) -> None:
    """Cancelled from outside (the bus stopping), a call is not a failure: counted as
    redelivered, its message stays pending, and the next consumer runs it again."""
    attempts: list[int] = []
    started = anyio.Event()

    @listener(Signup)
    async def slow_the_first_time(email: str) -> None:
        delivery = current_delivery()
        assert delivery is not None
        attempts.append(delivery.attempt)
        if len(attempts) == 1:
            started.set()
            await anyio.sleep_forever()

    options: dict[str, Any] = {"service": "cut", "claim_idle": 0.3}
    first = RedisStreamsBackend(redis_server.url, shutdown_timeout=0.2, **options)
    async with EventBus([slow_the_first_time], backend=first) as bus:
        bus.emit(Signup(email="a@x"))
        await started.wait()
    stats = bus.stats
    assert (stats.accepted, stats.redelivered, stats.delivered, stats.failed) == (1, 1, 0, 0)
    second = RedisStreamsBackend(redis_server.url, **options)
    async with EventBus([slow_the_first_time], backend=second) as bus:
        await eventually(lambda: len(attempts) == 2, "the call again, elsewhere")
        await eventually(lambda: bus.stats.delivered == 1, "it delivered")
    assert attempts == [1, 2]


def test_emits_wait_for_a_replica_by_default_on_a_cluster_only() -> None:
    assert RedisStreamsBackend("redis://localhost", service="s").replicas == 0
    assert RedisStreamsBackend("redis://localhost", service="s", replicas=1).replicas == 1
    assert RedisStreamsBackend("redis+cluster://h1:7000", service="s").replicas == 1
    assert RedisStreamsBackend("redis+cluster://h1:7000", service="s", replicas=0).replicas == 0
