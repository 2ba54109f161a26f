"""RedisStreamsBackend on a real Redis Cluster (3 primaries, 3 replicas), in one process,
on asyncio and trio: hash-tagged key layout spread over every primary, partitioned and
unpartitioned events, dead letters and their replay, emits that wait for a replica (and
what they say when none confirms), and a batch a failover lost written again."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from functools import partial

import anyio
import coredis
import pytest

from typed_events import Event, EventBus, listener
from typed_events._partitioning import partition_of
from typed_events._report import UndeliveredReason
from typed_events.backends.redis import (
    Delivery,
    RedisStreamsBackend,
    RedisUnavailableError,
    RedisWriteError,
    current_delivery,
)
from typed_events.backends.redis._client import open_client
from typed_events.backends.redis._dead_letter import DeadLetter
from typed_events.cli import main
from typed_events.errors import ConfigurationError

from .cluster import ClusterHandle, ClusterNode
from .helpers import eventually

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

PARTITIONS = 16


class Placed(Event, event_id="order_placed", partition_key="order_id"):
    order_id: str
    seq: int


class Joined(Event, event_id="user_created"):
    name: str


def backend(cluster: ClusterHandle, **options: object) -> RedisStreamsBackend:
    settings: dict[str, object] = {
        "claim_idle": 1.0,
        "partitions": PARTITIONS,
        "retry_backoff": 0.05,
        **options,
    }
    return RedisStreamsBackend(cluster.url, service="shop", **settings)  # type: ignore[arg-type]


@asynccontextmanager
async def node_client(node: ClusterNode) -> AsyncGenerator[coredis.Redis[bytes]]:
    """A plain client to one node, to see what that node itself holds."""
    async with coredis.Redis(host="127.0.0.1", port=node.port) as client:
        yield client


async def run_cli(*argv: str) -> int:
    # The command runs an event loop of its own: run it in a thread.
    return await anyio.to_thread.run_sync(partial(main, list(argv)))


def delivery() -> Delivery:
    found = current_delivery()
    assert found is not None
    return found


async def test_events_flow_through_the_cluster_in_hash_tagged_streams_on_every_primary(
    cluster: ClusterHandle,
) -> None:
    anywhere: list[tuple[Placed, Delivery]] = []
    ordered: list[tuple[str, int]] = []
    joined: list[Delivery] = []

    @listener(Placed)
    async def on_placed(event: Placed) -> None:
        anywhere.append((event, delivery()))

    @listener(Placed, ordered=True)
    async def in_order(event: Placed) -> None:
        ordered.append((event.order_id, event.seq))

    @listener(Joined)
    async def on_joined(event: Joined) -> None:
        joined.append(delivery())

    emitted = [Placed(order_id=f"order-{i % 40}", seq=i) for i in range(200)]
    used = backend(cluster)
    assert used.replicas == 1  # the default on a cluster: a replica confirms every emit
    async with EventBus([on_placed, in_order, on_joined], backend=used) as bus:
        for event in emitted[:100]:
            bus.emit(event)
        for event in emitted[100:]:
            await bus.emit_async(event)  # returns once a replica has it
        await bus.emit_async(Joined(name="ada"))
        await eventually(
            lambda: len(anywhere) == 200 and len(ordered) == 200 and len(joined) == 1,
            "every event at every listener",
        )
    assert sorted(e.seq for e, _ in anywhere) == list(range(200))
    for event, seen in anywhere:
        p = partition_of(event, PARTITIONS)
        assert (seen.partition, seen.stream) == (p, f"{{typed-events:order_placed:{p}}}")
    for key in {e.order_id for e in emitted}:
        sent = [e.seq for e in emitted if e.order_id == key]
        assert [seq for k, seq in ordered if k == key] == sent
    assert (joined[0].stream, joined[0].partition) == ("{typed-events:user_created}", None)
    # every primary holds some partition streams, each exactly where its slot says
    streams = {f"{{typed-events:order_placed:{p}}}" for p in range(PARTITIONS)}
    holders = {stream: cluster.primary_for_key(stream) for stream in streams}
    assert {n.port for n in holders.values()} == {n.port for n in cluster.primaries}
    for stream, holder in holders.items():
        async with node_client(holder) as node:
            assert await node.exists([stream]) == 1, f"{stream} is not on {holder.address}"
    stats = bus.stats
    accepted = 2 * 200 + 1
    assert (stats.accepted, stats.delivered, stats.failed, stats.dropped) == (
        accepted,
        accepted,
        0,
        0,
    )
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean


async def test_a_dead_letter_lands_in_its_hash_tagged_stream_and_a_replay_reaches_the_listener(
    cluster: ClusterHandle, capsys: pytest.CaptureFixture[str]
) -> None:
    calls: Counter[str] = Counter()
    fixed = anyio.Event()

    @listener(Placed)
    async def picky(event: Placed) -> None:
        calls[event.order_id] += 1
        if not fixed.is_set():
            raise ValueError("not today")

    async with EventBus([picky], backend=backend(cluster, max_retries=1)) as bus:
        await bus.emit_async(Placed(order_id="order-7", seq=1))
        async with open_client(cluster.url) as client:

            async def letters() -> list[DeadLetter]:
                entries = await client.xrange("{typed-events:dead-letter}")
                return [DeadLetter.from_entry(e.identifier, e.field_values) for e in entries]

            found: list[DeadLetter] = []

            async def one_letter() -> None:
                while len(found) != 1:
                    await anyio.sleep(0.05)
                    found[:] = await letters()

            with anyio.fail_after(30):
                await one_letter()
            [letter] = found
            p = partition_of(Placed(order_id="order-7", seq=1), PARTITIONS)
            stream = f"{{typed-events:order_placed:{p}}}"
            assert (letter.stream, letter.attempts) == (stream, 2)
            assert letter.group.startswith("shop:tests.redis.test_cluster_backend.")
            fixed.set()
            # The operator's way, on a cluster too: the CLI finds the hash-tagged stream.
            listed = await run_cli("dead-letter", "list", "--url", cluster.url, "--format", "json")
            assert listed == 1  # 1: there are dead letters (a CI check can fail on it)
            [shown] = json.loads(capsys.readouterr().out)
            assert (shown["id"], shown["partition"]) == (letter.id, p)
            assert await run_cli("dead-letter", "replay", letter.id, "--url", cluster.url) == 0
            await eventually(lambda: calls["order-7"] == 3, "the replayed event")
            assert await letters() == []
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean


async def test_an_emit_no_replica_confirms_waits_says_so_and_completes_once_one_does(
    cluster: ClusterHandle,
) -> None:
    event = Placed(order_id="order-1", seq=0)
    stream = f"{{typed-events:order_placed:{partition_of(event, PARTITIONS)}}}"
    primary = cluster.primary_for_key(stream)
    cluster.cut_replication(primary)
    quick = backend(cluster, emit_timeout=1.5, replica_timeout=0.2, consume=False)
    async with EventBus(events=[Placed], backend=quick) as bus:
        with pytest.raises(RedisWriteError) as refused:
            await bus.emit_async(event)
    message = str(refused.value)
    assert f"no replica confirmed the write to stream {stream!r}" in message
    assert f"(cluster slot {cluster.slot_for_key(stream)})" in message
    assert "Redis stored it, but no replica confirmed it yet" in message

    patient = backend(cluster, replica_timeout=0.2, consume=False)
    done = anyio.Event()
    async with (
        EventBus(events=[Placed], backend=patient) as bus,
        anyio.create_task_group() as tasks,
    ):

        async def emit() -> None:
            await bus.emit_async(event)
            done.set()

        tasks.start_soon(emit)
        await anyio.sleep(0.5)
        assert not done.is_set(), "returned before any replica had the event"
        await anyio.to_thread.run_sync(cluster.heal)
        with anyio.fail_after(30):
            await done.wait()
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean


async def test_a_sync_emit_no_replica_confirmed_is_reported_unwritten_at_shutdown(
    cluster: ClusterHandle,
) -> None:
    event = Placed(order_id="order-2", seq=0)
    stream = f"{{typed-events:order_placed:{partition_of(event, PARTITIONS)}}}"
    cluster.cut_replication(cluster.primary_for_key(stream))
    used = backend(cluster, shutdown_timeout=1.0, replica_timeout=0.2, consume=False)
    async with EventBus(events=[Placed], backend=used) as bus:
        bus.emit(event)
    report = bus.shutdown_report
    assert report is not None
    assert not report.clean
    [unwritten] = report.calls
    assert (unwritten.event, unwritten.listener) == (event, stream)
    assert unwritten.reason is UndeliveredReason.NOT_WRITTEN


async def test_a_batch_a_failover_lost_is_written_again_and_handled(
    cluster: ClusterHandle,
) -> None:
    got: list[Delivery] = []

    @listener(Placed)
    async def on_placed(event: Placed) -> None:
        got.append(delivery())

    event = Placed(order_id="order-3", seq=0)
    stream = f"{{typed-events:order_placed:{partition_of(event, PARTITIONS)}}}"
    primary = cluster.primary_for_key(stream)
    async with EventBus([on_placed], backend=backend(cluster, replica_timeout=0.2)) as bus:
        cluster.cut_replication(primary)  # what the primary stores now, only it has
        async with anyio.create_task_group() as tasks:
            done = anyio.Event()

            async def emit() -> None:
                await bus.emit_async(event)
                done.set()

            tasks.start_soon(emit)
            async with open_client(cluster.url) as client:

                async def stored() -> None:
                    while True:
                        if await client.xlen(stream):
                            return
                        await anyio.sleep(0.02)

                with anyio.fail_after(10):
                    await stored()
            cluster.kill_primary(primary)
            failover = await anyio.to_thread.run_sync(cluster.wait_for_failover, primary)
            assert not done.is_set()  # the promoted replica has no replica of its own yet
            await anyio.to_thread.run_sync(cluster.restart, primary)
            with anyio.fail_after(30):
                await done.wait()
        await eventually(lambda: len(got) >= 1, "the event written again")
    assert failover.seconds > 0
    assert {d.id for d in got} == {got[0].id}  # one event, whichever copies arrived
    async with node_client(failover.promoted) as node:
        assert await node.xlen(stream) >= 1


async def test_a_cluster_nobody_answers_at_is_unavailable_and_a_braced_prefix_is_refused(
    cluster: ClusterHandle,
) -> None:
    with pytest.raises(ConfigurationError, match="contains a brace"):
        RedisStreamsBackend(cluster.url, service="shop", stream_prefix="{te}:")
    dead = RedisStreamsBackend(
        "redis+cluster://:hunter2@127.0.0.1:1,127.0.0.1:2", service="shop", consume=False
    )
    with pytest.raises(RedisUnavailableError) as refused:
        async with EventBus(events=[Placed], backend=dead):
            pass
    shown = str(refused.value)
    assert "redis+cluster://:***@127.0.0.1:1,127.0.0.1:2" in shown
    assert "hunter2" not in shown


async def test_a_consumer_outlives_more_cut_connections_than_a_node_pools(
    cluster: ClusterHandle,
) -> None:
    """A connection cut while it waits in XREADGROUP on a cluster node gives its place in
    that node's pool back (coredis' cluster pool alone does not): after 30 cuts, more
    than the 17 places per node, the consumer still reads."""
    seen: list[str] = []

    @listener(Joined)
    async def collect(event: Joined) -> None:
        seen.append(event.name)

    node = cluster.primary_for_key("{typed-events:user_created}")

    def blocked_reader() -> str | None:
        for line in cluster.command(node, "client", "list").splitlines():
            fields = dict(part.partition("=")[::2] for part in line.split())
            if fields.get("cmd") == "xreadgroup" and "b" in fields.get("flags", ""):
                return fields["id"]
        return None

    async with EventBus([collect], backend=backend(cluster)) as bus:
        for n in range(30):
            await eventually(lambda: blocked_reader() is not None, "the consumer to wait")
            cluster.command(node, "client", "kill", "id", str(blocked_reader()))
            await bus.emit_async(Joined(name=str(n)))
            await eventually(lambda: len(seen) == n + 1, f"event {n} after {n + 1} cuts")  # noqa: B023
    assert seen == [str(n) for n in range(30)]
