"""Partitioned events on RedisStreamsBackend in one process, on asyncio and trio: where
they are written, who reads them, per-key order across two buses sharing the partitions,
and the start-up refusals (a changed number of partitions, a colliding stream name)."""

from __future__ import annotations

import contextlib
from collections import defaultdict

import anyio
import pytest

from typed_events import Event, EventBus, listener
from typed_events._partitioning import partition_of
from typed_events.backends.redis import Delivery, RedisStreamsBackend, current_delivery
from typed_events.backends.redis._client import Client
from typed_events.backends.redis._lease_scripts import describe
from typed_events.backends.redis._partitions import PartitionKeys
from typed_events.envelope import encode
from typed_events.errors import ConfigurationError

from .conftest import RedisServer
from .helpers import eventually

pytestmark = [pytest.mark.redis, pytest.mark.anyio]


class Moved(Event, event_id="moved", partition_key="key"):
    key: str
    seq: int


class Noted(Event, event_id="noted"):
    text: str


def backend(server: RedisServer, **options: object) -> RedisStreamsBackend:
    settings: dict[str, object] = {"claim_idle": 0.9, "partitions": 4, **options}
    return RedisStreamsBackend(server.url, service="moves", **settings)  # type: ignore[arg-type]


async def test_partitioned_events_land_in_their_partition_streams_and_unordered_listeners_get_all(
    redis_server: RedisServer,
) -> None:
    got: list[tuple[Moved, Delivery]] = []
    notes: list[Delivery] = []

    @listener(Moved)
    async def anywhere(event: Moved) -> None:
        delivery = current_delivery()
        assert delivery is not None
        got.append((event, delivery))

    @listener(Noted)
    async def note(event: Noted) -> None:
        delivery = current_delivery()
        assert delivery is not None
        notes.append(delivery)

    emitted = [Moved(key=f"key-{i % 7}", seq=i) for i in range(40)]
    async with EventBus([anywhere, note], backend=backend(redis_server)) as bus:
        for event in emitted:
            bus.emit(event)
        bus.emit(Noted(text="no key"))
        await eventually(lambda: len(got) == 40 and len(notes) == 1, "every delivery")
    client = redis_server.client()
    written = {
        p: [e.field_values[b"envelope"] for e in client.xrange(f"typed-events:moved:{p}")]
        for p in range(4)
    }
    assert all(written.values()), "every partition got some"
    for event in emitted:
        p = partition_of(event, 4)
        assert sum(f'"seq":{event.seq}}}'.encode() in body for body in written[p]) == 1
    assert client.exists("typed-events:moved") == 0  # nothing in an unpartitioned stream
    assert sorted(e.seq for e, _ in got) == list(range(40))
    for event, delivery in got:
        assert delivery.partition == partition_of(event, 4)
        assert delivery.stream == f"typed-events:moved:{delivery.partition}"
    assert notes[0].partition is None
    assert notes[0].stream == "typed-events:noted"
    stats = bus.stats
    assert (stats.accepted, stats.delivered, stats.failed, stats.dropped) == (41, 41, 0, 0)
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean


async def test_one_partition_is_partition_zero(redis_server: RedisServer) -> None:
    async with EventBus(events=[Moved], backend=backend(redis_server, partitions=1)) as bus:
        await bus.emit_async(Moved(key="a", seq=0))
    client = redis_server.client()
    assert client.xlen("typed-events:moved:0") == 1
    assert client.get("typed-events:moved:partitions") == b"1"


async def test_an_ordered_listener_keeps_each_keys_order_across_two_buses_sharing_partitions(
    redis_server: RedisServer,
) -> None:
    handled: list[tuple[str, int, str, int | None]] = []
    running: dict[int | None, str] = {}
    overlaps: list[str] = []
    failed_once: set[int] = set()

    @listener(Moved, ordered=True)
    async def in_order(event: Moved) -> None:
        delivery = current_delivery()
        assert delivery is not None
        other = running.get(delivery.partition)
        if other is not None:
            overlaps.append(f"{delivery.consumer} and {other} on {delivery.partition}")
        running[delivery.partition] = delivery.consumer
        try:
            await anyio.sleep(0.001)
            if event.key == "key-3" and event.seq % 50 == 3 and event.seq not in failed_once:
                failed_once.add(event.seq)
                raise RuntimeError("fails once: retried in place, nothing behind it runs")
            handled.append((event.key, event.seq, delivery.consumer, delivery.partition))
        finally:
            del running[delivery.partition]

    options = {"partitions": 8, "retry_backoff": 0.05, "max_retries": 3}
    backends = [backend(redis_server, **options) for _ in range(2)]
    first, second = (EventBus([in_order], backend=b) for b in backends)
    keys = PartitionKeys("typed-events:", "moved", f"moves:{in_order.name}", 8)
    both = {b.consumer_name for b in backends}

    def holders() -> set[str | None]:
        return {info.holder for info in redis_server.client().run(lambda c: describe(c, keys))}

    sent: dict[str, list[int]] = defaultdict(list)
    async with contextlib.AsyncExitStack() as buses:
        await buses.enter_async_context(first)
        for i in range(300):
            if i == 100:  # the second bus joins while the first works: leases move
                await buses.enter_async_context(second)
            key = f"key-{i % 10}"
            first.emit(Moved(key=key, seq=i))  # one emitter: its order is the key's order
            sent[key].append(i)
            if i % 50 == 0:
                await anyio.sleep(0.05)
        await eventually(lambda: holders() == both, "both buses to hold partitions")
        await eventually(lambda: len(handled) == 300, "every event, in order", within=60)
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, seq, _, _ in handled:
        by_key[key].append(seq)
    assert by_key == sent
    assert overlaps == []
    consumers = {consumer for _, _, consumer, _ in handled}
    assert len(consumers) == 2, "both buses held partitions"
    assert {p for *_, p in handled} <= set(range(8))
    assert len(failed_once) == 6
    for bus in (first, second):
        stats = bus.stats
        assert stats.failed == stats.dropped == 0
        assert stats.delivered + stats.redelivered == stats.accepted
        assert bus.shutdown_report is not None
        assert bus.shutdown_report.clean
    assert first.stats.redelivered + second.stats.redelivered == 6
    assert first.stats.delivered + second.stats.delivered == 300


async def test_a_changed_number_of_partitions_is_refused_with_the_procedure(
    redis_server: RedisServer,
) -> None:
    async with EventBus(events=[Moved], backend=backend(redis_server, partitions=4)) as bus:
        await bus.emit_async(Moved(key="a", seq=0))
    with pytest.raises(ConfigurationError) as refused:
        async with EventBus(events=[Moved], backend=backend(redis_server, partitions=8)):
            pass
    message = str(refused.value)
    assert "'moved'" in message
    assert f"{Moved.__module__}.Moved" in message
    assert "partitions=4" in message
    assert "partitions=8" in message
    assert "docs/redis.md#changing-the-number-of-partitions" in message
    assert "'typed-events:moved:partitions'" in message
    # The procedure: (drained) delete the record, start with the new number.
    redis_server.client().delete(["typed-events:moved:partitions"])
    async with EventBus(events=[Moved], backend=backend(redis_server, partitions=8)) as bus:
        await bus.emit_async(Moved(key="a", seq=1))
    assert redis_server.client().get("typed-events:moved:partitions") == b"8"


class Grid(Event, event_id="grid", partition_key="cell"):
    cell: int


class GridThree(Event, event_id="grid:3"):
    cell: int


async def test_an_unpartitioned_stream_named_like_a_partition_stream_is_refused(
    redis_server: RedisServer,
) -> None:
    with pytest.raises(ConfigurationError) as refused:
        async with EventBus(events=[Grid, GridThree], backend=backend(redis_server)):
            pass
    message = str(refused.value)
    assert "'grid:3'" in message
    assert "GridThree" in message
    assert "'grid'" in message
    assert f"{Grid.__module__}.Grid" in message
    assert "another event id" in message
    assert redis_server.client().exists("typed-events:grid:partitions") == 0  # nothing ran


async def test_a_partitioned_event_the_bus_does_not_know_is_refused_by_emit(
    redis_server: RedisServer,
) -> None:
    async with EventBus(events=[Noted], backend=backend(redis_server)) as bus:
        with pytest.raises(ConfigurationError, match=r"'grid'.*EventBus\(events="):
            bus.emit(Grid(cell=1))
        bus.emit(GridThree(cell=1))  # an unknown event without a key is fine
    assert redis_server.client().xlen("typed-events:grid:3") == 1


async def test_an_ordered_listener_keeps_each_keys_order_across_a_redis_kill_9_and_restart(
    redis_server: RedisServer,
) -> None:
    total, kill_at = 300, 100
    first_seen: dict[str, tuple[str, int]] = {}  # by CloudEvents id: a redelivery is a copy

    @listener(Moved, ordered=True)
    async def in_order(event: Moved) -> None:
        delivery = current_delivery()
        assert delivery is not None
        first_seen.setdefault(delivery.id, (event.key, event.seq))

    acknowledged: list[int] = []

    async def emit_all(bus: EventBus) -> None:
        for i in range(total):
            await bus.emit_async(Moved(key=f"key-{i % 5}", seq=i))  # Redis has it now
            acknowledged.append(i)

    async def restart_redis() -> None:
        await eventually(lambda: len(acknowledged) >= kill_at, "the first events")
        redis_server.stop(kill=True)  # appendonly fsyncs each write: nothing acked is lost
        await anyio.sleep(0.3)
        await anyio.to_thread.run_sync(redis_server.start)

    emitter = EventBus(events=[Moved], backend=backend(redis_server, consume=False))
    consumer = EventBus([in_order], backend=backend(redis_server))
    async with consumer, emitter:
        async with anyio.create_task_group() as group:
            group.start_soon(emit_all, emitter)
            group.start_soon(restart_redis)
        await eventually(lambda: len(first_seen) == total, "every event after the restart")
    by_key: dict[str, list[int]] = defaultdict(list)
    for key, seq in first_seen.values():  # dicts keep insertion order: the order handled
        by_key[key].append(seq)
    assert by_key == {f"key-{k}": list(range(k, total, 5)) for k in range(5)}
    stats = consumer.stats
    assert stats.failed == stats.dropped == 0
    assert consumer.shutdown_report is not None
    assert consumer.shutdown_report.clean


async def test_an_entry_a_lost_read_delivered_is_handled_before_the_next_one(
    redis_server: RedisServer,
) -> None:
    """A read whose reply was lost (Redis killed, the connection cut) has delivered an entry
    the ordered reader never saw: it is pending for the reader, before everything after it.
    The reader takes the partition over again first, so the key's order holds."""
    handled: list[int] = []

    @listener(Moved, ordered=True)
    async def in_order(event: Moved) -> None:
        handled.append(event.seq)

    admin = redis_server.client()
    stream, group = "typed-events:moved:0", f"moves:{in_order.name}"
    reader = backend(redis_server, partitions=1)

    async def add_unseen(client: Client) -> None:
        # One transaction: the entry is added and delivered to the reader's consumer name
        # before Redis serves the reader's own blocked read, which so never sees it.
        async with client.pipeline(transaction=True) as pipe:
            pipe.xadd(stream, {"envelope": encode(Moved(key="k", seq=2), source="/t")})
            pipe.xreadgroup(group, reader.consumer_name, {stream: ">"}, count=1)

    def blocked_reads() -> list[int]:
        return [int(c["id"]) for c in admin.client_list() if c["cmd"] == "xreadgroup"]

    async with EventBus([in_order], backend=reader) as bus:
        bus.emit(Moved(key="k", seq=1))
        await eventually(lambda: handled == [1], "the first event")
        await eventually(lambda: bool(blocked_reads()), "the reader to wait")
        admin.run(add_unseen)
        for connection in blocked_reads():
            admin.client_kill(identifier=connection)  # its read fails: a reply is lost
        bus.emit(Moved(key="k", seq=3))
        await eventually(lambda: len(handled) == 3, "the unseen entry and the next")
    assert handled == [1, 2, 3]


async def test_a_message_redis_refuses_a_command_about_is_handled_again_before_the_next(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    handled: list[int] = []
    attempts: list[int] = []

    @listener(Moved, ordered=True)
    async def in_order(event: Moved) -> None:
        delivery = current_delivery()
        assert delivery is not None
        attempts.append(event.seq)
        if event.seq == 1 and attempts.count(1) == 1:
            raise RuntimeError("fails once; its retry's XCLAIM is refused")
        handled.append(event.seq)

    # No XCLAIM: the retry in place cannot claim the message again, so the reader goes
    # back to taking over the partition's pending entries (XAUTOCLAIM), oldest first.
    redis_server.client().acl_setuser(
        "no-claim", "on", ">pw", "~typed-events:*", "+@all", "-xclaim"
    )
    url = f"redis://no-claim:pw@127.0.0.1:{redis_server.port}/0"
    settings = {"claim_idle": 0.9, "partitions": 1, "retry_backoff": 0.01}
    backend = RedisStreamsBackend(url, service="moves", **settings)  # type: ignore[arg-type]
    async with EventBus([in_order], backend=backend) as bus:
        for seq in range(4):
            await bus.emit_async(Moved(key="one key", seq=seq))
        await eventually(lambda: len(handled) == 4, "every event")
    assert handled == [0, 1, 2, 3]
    assert attempts == [0, 1, 1, 2, 3]
    assert "Redis refused a command while handling message" in caplog.text
    assert "handled again before the next one" in caplog.text
