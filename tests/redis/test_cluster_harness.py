"""The Redis Cluster harness, and what coredis does on a cluster, before the backend uses it.

These tests drive coredis ``RedisCluster`` directly, not the backend: they pin down the
facts the cluster backend is built on (DESIGN.md section 13). Partition streams named
``{typed-events:order_placed:P}`` spread over every primary; the stream commands the
backend uses work per slot; and after a primary is killed with SIGKILL, every write a
replica confirmed (``WAIT``) is still there while a write that was only acknowledged can
be gone: so the backend must ``WAIT`` on a cluster to lose no acknowledged event.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

import anyio
import coredis
import pytest
from coredis.exceptions import ClusterCrossSlotError, ConnectionError, ReplicationError

from tests.redis.cluster import ClusterHandle, ClusterNode

pytestmark = [pytest.mark.anyio, pytest.mark.redis]

PARTITIONS = 16
STREAMS = [f"{{typed-events:order_placed:{partition}}}" for partition in range(PARTITIONS)]
GROUP = "tests.redis.app:on_order"


@asynccontextmanager
async def cluster_client(cluster: ClusterHandle) -> AsyncGenerator[coredis.RedisCluster[bytes]]:
    """A coredis cluster client starting from the node the harness URL names.

    Not ``RedisCluster.from_url``: coredis 6.9 builds its startup node from a URL in a form
    it deprecates itself (a DeprecationWarning on every client).
    """
    entry = urlsplit(cluster.url)
    assert entry.scheme == "redis+cluster"
    assert entry.hostname is not None
    async with coredis.RedisCluster(entry.hostname, entry.port) as client:
        yield client


@asynccontextmanager
async def node_client(node: ClusterNode) -> AsyncGenerator[coredis.Redis[bytes]]:
    """A plain client to one node, to see what that node itself holds."""
    async with coredis.Redis(host="127.0.0.1", port=node.port) as client:
        yield client


async def test_partition_streams_spread_over_every_primary(cluster: ClusterHandle) -> None:
    holders = {stream: cluster.primary_for_key(stream) for stream in STREAMS}
    assert {node.port for node in holders.values()} == {node.port for node in cluster.primaries}
    # a partition's bookkeeping (leases, its own dead letters) shares the stream's slot
    for stream in STREAMS[:2]:
        slot = cluster.slot_for_key(stream)
        assert cluster.slot_for_key(f"{stream}:lease") == slot
        assert cluster.slot_for_key(f"{stream}:dead-letter") == slot

    async with cluster_client(cluster) as client:
        # one non-transactional pipeline across every slot: coredis splits it per node
        async with client.pipeline(transaction=False) as pipe:
            for stream in STREAMS:
                pipe.xadd(stream, {"envelope": stream.encode()})
        assert pipe.results is not None
        assert len(pipe.results) == PARTITIONS

    for stream, holder in holders.items():
        async with node_client(holder) as node:
            assert await node.xlen(stream) == 1, f"{stream} is not on {holder.address}"


async def test_stream_commands_work_per_slot(cluster: ClusterHandle) -> None:
    async with cluster_client(cluster) as client:
        for stream in STREAMS:
            await client.xgroup_create(stream, GROUP, "0", mkstream=True)
        async with client.pipeline(transaction=False) as pipe:
            for stream in STREAMS:
                for number in range(3):
                    pipe.xadd(stream, {"envelope": str(number).encode()})

        for stream in STREAMS:
            # one stream per XREADGROUP: a call naming streams in two slots is refused
            reply = await client.xreadgroup(GROUP, "worker-a", {stream: ">"}, count=10)
            assert reply is not None
            entries = reply[stream.encode()]
            assert len(entries) == 3
            assert await client.xack(stream, GROUP, [entries[0].identifier]) == 1
            reply = await client.xautoclaim(stream, GROUP, "worker-b", 0, "0-0", count=10)
            assert len(reply) == 3  # Redis 7: cursor, claimed entries, deleted ids
            claimed = [entry.identifier for entry in reply[1] if not isinstance(entry, bytes)]
            assert claimed == [entry.identifier for entry in entries[1:]]
            assert reply[2] == ()
            (group,) = await client.xinfo_groups(stream)
            assert group[b"pending"] == 2
            assert group[b"consumers"] == 2

        with pytest.raises(ClusterCrossSlotError):
            await client.xreadgroup(GROUP, "worker-a", {STREAMS[0]: ">", STREAMS[1]: ">"})

        # a script works on the keys of one slot (a lease beside its stream), not across
        take_lease = (
            "return redis.call('SET', KEYS[2], ARGV[1], 'NX', 'PX', 5000)"
            " and redis.call('XLEN', KEYS[1])"
        )
        lease = f"{STREAMS[0]}:lease"
        assert await client.eval(take_lease, [STREAMS[0], lease], ["worker-a"]) == 3
        assert await client.get(lease) == b"worker-a"
        with pytest.raises(ClusterCrossSlotError):
            await client.eval(take_lease, [STREAMS[0], f"{STREAMS[1]}:lease"], ["worker-a"])


async def test_failover_keeps_writes_a_replica_confirmed_not_those_only_acknowledged(
    cluster: ClusterHandle,
) -> None:
    stream = STREAMS[0]
    primary = cluster.primary_for_key(stream)
    async with cluster_client(cluster) as client:
        confirmed: list[bytes] = []
        with client.ensure_replication(replicas=1, timeout_ms=5000):
            # each XADD is followed by WAIT 1 on its connection; ReplicationError if short
            for number in range(20):
                entry_id = await client.xadd(stream, {"envelope": f"{number}".encode()})
                assert entry_id is not None
                confirmed.append(entry_id)

        cluster.cut_replication(primary)
        only_acknowledged = await client.xadd(stream, {"envelope": b"acknowledged"})
        with (
            pytest.raises(ReplicationError),
            client.ensure_replication(replicas=1, timeout_ms=200),
        ):
            await client.xadd(stream, {"envelope": b"written, not replicated"})
        with client.ensure_replication(replicas=1, timeout_ms=200):
            # coredis's pipelines skip the WAIT: no ReplicationError, nothing confirmed
            async with client.pipeline(transaction=False) as pipe:
                pipe.xadd(stream, {"envelope": b"pipelined"})

    async with node_client(primary) as node:
        before = [entry.identifier for entry in await node.xrange(stream)]
    assert before[: len(confirmed)] == confirmed
    assert only_acknowledged in before
    assert len(before) == len(confirmed) + 3  # the old primary had all of them, on its disk

    killed = cluster.kill_primary(primary)
    failover = cluster.wait_for_failover(killed)
    async with node_client(failover.promoted) as node:
        after = [entry.identifier for entry in await node.xrange(stream)]
    assert after == confirmed  # every confirmed write survived; every other one is gone

    # the killed node comes back as a replica of the promoted one and catches up (its
    # own unreplicated tail is dropped): the cluster agrees on one history
    cluster.restart(killed)
    assert killed.role == "replica"
    assert killed.primary_id == failover.promoted.node_id
    async with node_client(killed) as node, node.pipeline(transaction=False) as pipe:
        pipe.readonly()  # a replica serves reads on a connection that asked to
        replicated = pipe.xrange(stream)
    assert [entry.identifier for entry in await replicated] == confirmed


# The fence: one propagated write in the batch's slot, after the batch, confirmed by WAIT.
# A primary replicates in order, so a replica that has the fence has the whole batch; the
# XRANGE check makes sure the fence runs where the batch is (not on a node that took over
# after losing it). Returns 1 when the batch's last entry is there, else 0 (lost).
FENCE = """
if #redis.call('XRANGE', KEYS[1], ARGV[1], ARGV[1]) == 0 then return 0 end
redis.call('INCR', KEYS[2])
return 1
"""


async def pipelined_batch(client: coredis.RedisCluster[bytes], stream: str) -> list[bytes]:
    """30 XADDs in one pipeline: acknowledged, not confirmed (pipelines skip WAIT)."""
    async with client.pipeline(transaction=False) as pipe:
        for number in range(30):
            pipe.xadd(stream, {"envelope": f"{number}".encode()})
    assert pipe.results is not None
    return [entry_id for entry_id in pipe.results if isinstance(entry_id, bytes)]


async def fence(client: coredis.RedisCluster[bytes], stream: str, last: bytes) -> object:
    return await client.eval(FENCE, [stream, f"{stream}:fence"], [last])


async def riding_through(client: coredis.RedisCluster[bytes], stream: str, last: bytes) -> object:
    """The fence through the same client, retried while coredis still knows the dead node."""
    with anyio.fail_after(30):  # only guards against a hang
        while True:
            try:
                return await fence(client, stream, last)
            except ConnectionError:
                await anyio.sleep(0.05)  # coredis refreshes its layout after a few errors


async def test_a_fence_confirms_a_pipelined_batch_or_finds_it_lost(cluster: ClusterHandle) -> None:
    stream = STREAMS[1]
    primary = cluster.primary_for_key(stream)
    async with cluster_client(cluster) as client:
        kept = await pipelined_batch(client, stream)
        with client.ensure_replication(replicas=1, timeout_ms=5000):
            assert await fence(client, stream, kept[-1]) == 1  # the whole batch is on the replica

        cluster.cut_replication(primary)
        lost = await pipelined_batch(client, stream)
        with (
            pytest.raises(ReplicationError),
            client.ensure_replication(replicas=1, timeout_ms=200),
        ):
            await fence(client, stream, lost[-1])

        killed = cluster.kill_primary(primary)
        with pytest.raises(ConnectionError):  # mid-failover: what a write to those slots sees
            await client.xadd(stream, {"envelope": b"to a dead node"})
        failover = cluster.wait_for_failover(killed)

        # the same client reaches the promoted replica by itself
        assert await riding_through(client, stream, kept[-1]) == 1
        assert await fence(client, stream, lost[-1]) == 0  # the writer must write it again
        with (
            pytest.raises(ReplicationError),  # the promoted primary has no replica yet
            client.ensure_replication(replicas=1, timeout_ms=200),
        ):
            await fence(client, stream, kept[-1])

        cluster.restart(killed)  # back as the promoted node's replica: WAIT can succeed again
        with client.ensure_replication(replicas=1, timeout_ms=5000):
            assert await fence(client, stream, kept[-1]) == 1
    async with node_client(failover.promoted) as node:
        assert [entry.identifier for entry in await node.xrange(stream)] == kept
