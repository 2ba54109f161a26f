"""The cluster parts the backend is built from: the URL, the client, the write fence.

Against the real cluster of ``tests/redis/cluster.py`` (and one private redis-server for
the fence on a single node): a client built from a ``redis+cluster://`` URL serves every
slot; the fence confirms a batch a replica has, does not confirm one it lacks, and finds
the batch a failover lost.
"""

from __future__ import annotations

import socket
import warnings
from collections.abc import AsyncGenerator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from urllib.parse import urlsplit

import anyio
import coredis
import pytest
from coredis.exceptions import (
    ClusterDownError,
    ConnectionError,
    RedisClusterError,
    ResponseError,
)

from tests.redis.cluster import ClusterHandle
from tests.redis.conftest import RedisServer
from typed_events.backends.redis._cluster import (
    ClusterClient,
    ClusterSettings,
    cluster_settings,
    is_cluster_url,
    open_cluster_client,
)
from typed_events.backends.redis._fence import FenceResult, confirm_written, write_fence_key
from typed_events.errors import ConfigurationError

SECRET = "s3cr%2Ft"  # percent-encoded: the password is "s3cr/t"
PARTITIONS = 16
STREAMS = [f"{{typed-events:order_placed:{partition}}}" for partition in range(PARTITIONS)]
UNPARTITIONED = "{typed-events:order_placed}"

GOOD_URLS = [
    (
        "redis+cluster://127.0.0.1:7000",
        ClusterSettings("redis+cluster://127.0.0.1:7000", (("127.0.0.1", 7000),)),
    ),
    ("redis+cluster://h1", ClusterSettings("redis+cluster://h1", (("h1", 6379),))),
    ("REDIS+CLUSTER://h1:1/0", ClusterSettings("REDIS+CLUSTER://h1:1/0", (("h1", 1),))),
    (
        "redis+cluster://h1:7000,h2:7001,[::1]:7002,h4/?db=0",
        ClusterSettings(
            "redis+cluster://h1:7000,h2:7001,[::1]:7002,h4/?db=0",
            (("h1", 7000), ("h2", 7001), ("::1", 7002), ("h4", 6379)),
        ),
    ),
    (
        f"redis+cluster://app:{SECRET}@h1:7000?connect_timeout=2.5&stream_timeout=30",
        ClusterSettings(
            "redis+cluster://app:***@h1:7000?connect_timeout=2.5&stream_timeout=30",
            (("h1", 7000),),
            username="app",
            password="s3cr/t",
            connect_timeout=2.5,
            stream_timeout=30.0,
        ),
    ),
    (
        f"redis+cluster://h1:7000?username=app&password={SECRET}",
        ClusterSettings(
            "redis+cluster://h1:7000?username=app&password=***",
            (("h1", 7000),),
            username="app",
            password="s3cr/t",
        ),
    ),
    (
        f"rediss+cluster://:{SECRET}@h1:7000?ssl_cert_reqs=Required&ssl_ca_certs=/ca.pem"
        "&ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_check_hostname=yes",
        ClusterSettings(
            "rediss+cluster://:***@h1:7000?ssl_cert_reqs=Required&ssl_ca_certs=/ca.pem"
            "&ssl_certfile=/c.pem&ssl_keyfile=/k.pem&ssl_check_hostname=yes",
            (("h1", 7000),),
            tls=True,
            password="s3cr/t",
            ssl_ca_certs="/ca.pem",
            ssl_certfile="/c.pem",
            ssl_keyfile="/k.pem",
            ssl_cert_reqs="required",
            ssl_check_hostname=True,
        ),
    ),
]

BAD_URLS = [
    (f"redis://:{SECRET}@h1:7000", r"redis://:\*\*\*@h1:7000 is not a Redis Cluster URL; .*"),
    (f"redis+cluster://:{SECRET}@h1:7000/3", r"asks for database '3'; .* database 0 only"),
    (f"redis+cluster://:{SECRET}@h1:7000?db=2", r"asks for database '2'"),
    (f"redis+cluster://:{SECRET}@h1:7000/x", r"asks for database 'x'"),
    (
        f"redis+cluster://:{SECRET}@h1:7000?max_connections=9",
        r"unknown option 'max_connections' in the Redis Cluster URL "
        r"redis\+cluster://:\*\*\*@h1:7000\?max_connections=9; the options are ssl_ca_certs",
    ),
    (f"redis+cluster://:{SECRET}@h1,h2?nope=1", r"unknown option 'nope'"),  # shown unparsed
    (f"redis+cluster://:{SECRET}@h1:7000?db=0&db=0", r"option 'db' is given twice"),
    (
        f"redis+cluster://:{SECRET}@h1:7000?ssl_ca_certs=/ca.pem",
        r"ssl_ca_certs in .* need TLS; use rediss\+cluster://",
    ),
    (f"redis+cluster://:{SECRET}@h1:x", r"node 'h1:x' .* not host:port; the port must be a number"),
    (f"redis+cluster://:{SECRET}@h1:70000", r"node 'h1:70000' .* from 1 to 65535"),
    (f"redis+cluster://:{SECRET}@h1:1,,h2:2", r"node '' .* separated by commas"),
    (f"redis+cluster://:{SECRET}@", r"node '' in the Redis Cluster URL redis\+cluster://:\*\*\*@"),
    (f"redis+cluster://:{SECRET}@::1:7000", r"node '::1:7000' .* IPv6 address in brackets"),
    (f"redis+cluster://:{SECRET}@[::1]x", r"node '\[::1\]x' .* not host:port"),
    (f"redis+cluster://:{SECRET}@[::1", r"cannot be parsed"),
    ("redis+cluster://:pa/ss@h1:7000", r"an '@' after its host list; percent-encode"),
    (f"rediss+cluster://:{SECRET}@h1?ssl_cert_reqs=maybe", r"ssl_cert_reqs='maybe' .* none, "),
    (f"rediss+cluster://:{SECRET}@h1?ssl_check_hostname=2", r"must be true or false"),
    (f"redis+cluster://:{SECRET}@h1?connect_timeout=-1", r"connect_timeout='-1' .* seconds > 0"),
    (f"redis+cluster://:{SECRET}@h1?stream_timeout=soon", r"stream_timeout='soon'"),
]


@pytest.mark.parametrize(("url", "settings"), GOOD_URLS, ids=[url for url, _ in GOOD_URLS])
def test_a_cluster_url_is_read_into_settings(url: str, settings: ClusterSettings) -> None:
    assert is_cluster_url(url)
    assert cluster_settings(url) == settings
    assert "s3cr" not in repr(cluster_settings(url))


@pytest.mark.parametrize(("url", "message"), BAD_URLS, ids=[url for url, _ in BAD_URLS])
def test_a_bad_cluster_url_is_refused_saying_how_to_fix_it(url: str, message: str) -> None:
    with pytest.raises(ConfigurationError, match=message) as refused:
        cluster_settings(url)
    assert "s3cr" not in str(refused.value)
    assert "pa/ss" not in str(refused.value)
    assert "ss@" not in str(refused.value)


@pytest.mark.parametrize(
    "url", ["redis://h1:7000", "rediss://h1", "unix:///tmp/redis.sock", "redis+cluster:h1", 7000]
)
def test_other_urls_are_not_cluster_urls(url: object) -> None:
    assert not is_cluster_url(url)


def test_missing_tls_files_are_named_when_the_client_is_made(tmp_path: Path) -> None:
    missing = tmp_path / "no-ca.pem"
    settings = cluster_settings(f"rediss+cluster://:{SECRET}@h1:7000?ssl_ca_certs={missing}")
    with pytest.raises(ConfigurationError, match=r"cannot load the TLS files named in .*ssl_ca"):
        open_cluster_client(settings)


def closed_port() -> int:
    """A loopback port nothing listens on (bound, then closed)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@asynccontextmanager
async def client_for(url: str) -> AsyncGenerator[ClusterClient]:
    with warnings.catch_warnings():
        warnings.simplefilter(
            "error", DeprecationWarning
        )  # coredis' own from_url warns on every client
        client = open_cluster_client(cluster_settings(url), blocking_readers=2)
        async with client:
            yield client


@pytest.mark.anyio
@pytest.mark.redis
async def test_a_client_from_the_url_serves_every_slot(cluster: ClusterHandle) -> None:
    # the first startup node is down: the client learns the layout from the next one
    others = ",".join(node.address for node in cluster.primaries[1:])
    url = cluster.url.replace("//", f"//127.0.0.1:{closed_port()},", 1) + f",{others}"
    async with client_for(url) as client, client.pipeline(transaction=False) as pipe:
        for stream in STREAMS:
            pipe.xadd(stream, {"envelope": stream.encode()})
    assert pipe.results is not None
    assert len(pipe.results) == PARTITIONS
    async with client_for(cluster.url) as client:
        for stream in STREAMS:
            (entry,) = await client.xrange(stream)
            assert entry.field_values == {b"envelope": stream.encode()}  # bytes: no decoding
    for stream in STREAMS[:3]:
        holder = cluster.primary_for_key(stream)
        assert cluster.command(holder, "xlen", stream) == "1"


@pytest.mark.anyio
@pytest.mark.redis
async def test_rediss_cluster_speaks_tls_never_clear_text(cluster: ClusterHandle) -> None:
    plain = urlsplit(cluster.url)
    url = f"rediss+cluster://{plain.netloc}?ssl_cert_reqs=none&connect_timeout=1"
    # the nodes speak clear text only: the TLS handshake gets no answer, so no node is
    # reachable (the same address as redis+cluster:// serves every slot, above)
    with anyio.fail_after(30), pytest.raises(RedisClusterError) as raised:
        async with client_for(url) as client:
            await client.ping()
    assert isinstance(raised.value.__cause__, ConnectionError)


async def pipelined_batch(client: ClusterClient, stream: str, size: int = 30) -> list[bytes]:
    """``size`` XADDs in one pipeline: acknowledged, not confirmed (pipelines skip WAIT)."""
    async with client.pipeline(transaction=False) as pipe:
        for number in range(size):
            pipe.xadd(stream, {"envelope": f"{number}".encode()})
    assert pipe.results is not None
    ids = [entry_id for entry_id in pipe.results if isinstance(entry_id, bytes)]
    assert len(ids) == size
    return ids


def test_the_write_fence_shares_its_streams_slot(redis_cluster: ClusterHandle) -> None:
    assert write_fence_key(STREAMS[3]) == "{typed-events:order_placed:3}:fence"
    assert write_fence_key(UNPARTITIONED) == "{typed-events:order_placed}:fence"
    for stream in [*STREAMS, UNPARTITIONED]:
        assert redis_cluster.slot_for_key(write_fence_key(stream)) == redis_cluster.slot_for_key(
            stream
        )


@pytest.mark.anyio
@pytest.mark.redis
async def test_the_fence_confirms_only_a_batch_a_replica_has(cluster: ClusterHandle) -> None:
    stream = STREAMS[3]
    fence = write_fence_key(stream)
    primary = cluster.primary_for_key(stream)
    async with client_for(cluster.url) as client:
        kept = await pipelined_batch(client, stream)
        assert (
            await confirm_written(client, stream, fence, kept[-1], 1, 5000) is FenceResult.CONFIRMED
        )
        replica = cluster.replica_of(primary)
        # the replica has the whole batch the fence confirmed
        assert cluster.command(replica, script=f"READONLY\nXLEN {stream}\n").split() == ["OK", "30"]

        cluster.cut_replication(primary)
        unconfirmed = await pipelined_batch(client, stream)
        outcome = await confirm_written(client, stream, fence, unconfirmed[-1], 1, 200)
        assert outcome is FenceResult.NOT_CONFIRMED
        # without replicas asked for, the entry being on the primary is all that counts
        outcome = await confirm_written(client, stream, fence, unconfirmed[-1], 0, 200)
        assert outcome is FenceResult.CONFIRMED
        never = b"1-1"  # an id before everything: no such entry
        assert await confirm_written(client, stream, fence, never, 1, 200) is FenceResult.LOST
        assert await confirm_written(client, stream, fence, never, 0, 200) is FenceResult.LOST
        # an unpartitioned event's stream, in its own slot
        (single,) = await pipelined_batch(client, UNPARTITIONED, size=1)
        outcome = await confirm_written(
            client, UNPARTITIONED, write_fence_key(UNPARTITIONED), single, 1, 5000
        )
        assert outcome is FenceResult.CONFIRMED
    assert cluster.command(primary, "get", fence) == "2"  # the fences that found their entry


async def riding_through(call: Callable[[], Awaitable[FenceResult]]) -> FenceResult:
    """``call`` retried while the client still knows the dead node, as the writer's loop does."""
    with anyio.fail_after(30):  # only guards against a hang
        while True:
            try:
                return await call()
            except (ConnectionError, ClusterDownError, TimeoutError):
                await anyio.sleep(0.05)  # coredis re-learns the layout after a few errors


@pytest.mark.anyio
@pytest.mark.redis
async def test_the_fence_finds_a_batch_a_failover_lost(cluster: ClusterHandle) -> None:
    stream = STREAMS[5]
    fence = write_fence_key(stream)
    primary = cluster.primary_for_key(stream)
    async with client_for(cluster.url) as client:
        kept = await pipelined_batch(client, stream)
        assert (
            await confirm_written(client, stream, fence, kept[-1], 1, 5000) is FenceResult.CONFIRMED
        )
        cluster.cut_replication(primary)
        lost = await pipelined_batch(client, stream)
        outcome = await confirm_written(client, stream, fence, lost[-1], 1, 200)
        assert outcome is FenceResult.NOT_CONFIRMED  # the writer keeps the batch, fences again

        killed = cluster.kill_primary(primary)
        failover = cluster.wait_for_failover(killed)
        outcome = await riding_through(
            lambda: confirm_written(client, stream, fence, lost[-1], 1, 200)
        )
        assert outcome is FenceResult.LOST  # the writer must write the batch again
        # the kept batch is there, but the promoted primary has no replica to confirm it
        outcome = await confirm_written(client, stream, fence, kept[-1], 1, 200)
        assert outcome is FenceResult.NOT_CONFIRMED
        outcome = await confirm_written(client, stream, fence, kept[-1], 0, 200)
        assert outcome is FenceResult.CONFIRMED
    assert cluster.command(failover.promoted, "xlen", stream) == "30"


@asynccontextmanager
async def node_client(server: RedisServer) -> AsyncGenerator[coredis.Redis[bytes]]:
    address = urlsplit(server.url)
    assert address.hostname is not None
    async with coredis.Redis(address.hostname, address.port) as client:
        yield client


@pytest.mark.anyio
@pytest.mark.redis
async def test_the_fence_works_on_a_single_node(redis_server: RedisServer) -> None:
    stream = "typed-events:order_placed"
    fence = write_fence_key(stream)
    async with node_client(redis_server) as client:
        written = await client.xadd(stream, {"envelope": b"x"})
        assert written is not None
        # replicas=0: one XRANGE, no WAIT and no fence write
        assert (
            await confirm_written(client, stream, fence, written, 0, 100) is FenceResult.CONFIRMED
        )
        assert await confirm_written(client, stream, fence, "1-1", 0, 100) is FenceResult.LOST
        assert await client.exists([fence]) == 0
        # a node without replicas never confirms a replica count
        assert (
            await confirm_written(client, stream, fence, written, 1, 50)
            is FenceResult.NOT_CONFIRMED
        )
        assert await confirm_written(client, stream, fence, "1-1", 1, 50) is FenceResult.LOST


@pytest.mark.anyio
async def test_the_fence_refuses_a_wait_without_end() -> None:
    client = coredis.Redis("127.0.0.1", closed_port())  # never reached: checked first
    with pytest.raises(ConfigurationError, match=r"timeout_ms must be an int >= 1, got 0"):
        await confirm_written(client, "s", "s:fence", "1-1", 1, 0)
    with pytest.raises(ConfigurationError, match=r"replicas must be an int >= 0, got -1"):
        await confirm_written(client, "s", "s:fence", "1-1", -1, 100)


@pytest.mark.anyio
async def test_the_cluster_client_retries_nothing_but_reports_a_lost_node() -> None:
    calls: list[str] = []
    reported: list[BaseException] = []

    async def report(error: BaseException) -> None:
        reported.append(error)

    async def refused() -> None:
        calls.append("refused")
        raise ConnectionError("Unable to establish a connection to 127.0.0.1:1")

    async def answered_wrong() -> None:
        calls.append("answered")
        raise ResponseError("WRONGTYPE Operation against a key holding the wrong kind of value")

    policy = open_cluster_client(cluster_settings("redis+cluster://h1:7000")).retry_policy
    with pytest.raises(ConnectionError):
        await policy.call_with_retries(refused, failure_hook=report)
    with pytest.raises(ResponseError):
        await policy.call_with_retries(answered_wrong, failure_hook=report)
    assert calls == ["refused", "answered"]  # each sent once: a blind resend could write twice
    assert [type(error) for error in reported] == [ConnectionError]  # the layout hears of it
