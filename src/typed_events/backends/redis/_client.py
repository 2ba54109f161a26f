"""The one place a Redis client is made, and the errors it raises sorted out.

Part of :mod:`typed_events.backends.redis`. The client is coredis (anyio-based, so the
backend runs on asyncio and trio): a ``coredis.Redis`` for ``redis://``, ``rediss://`` and
``unix://`` URLs, a ``coredis.RedisCluster`` for ``redis+cluster://`` and
``rediss+cluster://`` ones (parsed by :mod:`._cluster`). A coredis client works only
inside ``async with``; what escapes that block arrives wrapped in an exception group, so
:func:`open_client` unwraps a lone error: callers see ``AuthenticationFailureError``, not
a group of one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any, cast
from urllib.parse import urlsplit

import coredis
from coredis._concurrency import QueueFull
from coredis.connection import BaseConnection, ClusterConnection
from coredis.pool import ClusterConnectionPool, ConnectionPool
from coredis.retry import NoRetryPolicy
from coredis.typing import Key

from typed_events.backends.redis._cluster import (
    cluster_settings,
    is_cluster_url,
    open_cluster_client,
)
from typed_events.backends.redis._url import mask_url
from typed_events.errors import ConfigurationError

__all__ = [
    "Client",
    "check_url",
    "is_cluster",
    "open_client",
    "HeldConnection",
    "raw_reply",
    "sole_error",
    "trim",
    "xadd_arguments",
]

Client = coredis.Redis[bytes] | coredis.RedisCluster[bytes]
"""A client that does not decode replies: stream fields arrive as the bytes they are."""

# Blocking reads each hold a connection of their own; the rest share them.
_SPARE_CONNECTIONS = 16


def _give_place_back(places: Any, connection: BaseConnection, usable: bool) -> None:
    """Return the place of a connection that died while leased to its pool's queue.

    coredis 6.9 drops a connection that died while leased (a blocking ``XREADGROUP`` or a
    pipeline when Redis restarts, or a cluster node is killed) without returning its
    place, so after ``max_connections`` such losses every command waits for ever. Both
    pools (one node, and each node of a cluster) have the leak; this is the one fix.
    """
    if not usable:
        with contextlib.suppress(QueueFull):  # its place was returned already
            places.append_nowait(None)


class _Pool(ConnectionPool[Any]):
    """coredis's pool, except that a connection lost while in use gives its place back."""

    def release(self, connection: BaseConnection) -> None:
        usable = connection.usable
        super().release(connection)
        _give_place_back(self._available_connections, connection, usable)


class _ClusterPool(ClusterConnectionPool):
    """coredis's cluster pool, with the same fix as :class:`_Pool`, per node."""

    def release(self, connection: ClusterConnection) -> None:
        usable = connection.usable
        super().release(connection)
        _give_place_back(self._node_pool(connection.location), connection, usable)


def check_url(url: object) -> bool:
    """Refuse a URL the backend cannot use, before anything connects.

    :return: True for a Redis Cluster URL.
    :raises ConfigurationError: for another scheme, or a cluster URL that does not hold
        together (see :func:`._cluster.cluster_settings`).
    """
    if is_cluster_url(url):
        cluster_settings(cast(str, url))
        return True
    if not isinstance(url, str) or urlsplit(url).scheme not in {"redis", "rediss", "unix"}:
        raise ConfigurationError(
            "url must be a redis://, rediss://, unix://, redis+cluster:// or "
            f"rediss+cluster:// URL, got {mask_url(url)!r}"
        )
    return False


def is_cluster(client: Client) -> bool:
    """True for a Redis Cluster client (keys carry hash tags, writes wait for a replica)."""
    return isinstance(client, coredis.RedisCluster)


def _make(url: str, blocking_readers: int) -> Client:
    if is_cluster_url(url):
        # The cluster client keeps coredis' failure hook (see _cluster._ReportNoRetry):
        # NoRetryPolicy would never learn that a failed-over node moved.
        return open_cluster_client(
            cluster_settings(url), blocking_readers=blocking_readers, pool=_ClusterPool
        )
    # decode_components: a percent-encoded password in the URL means what it does for
    # every other client.
    pool = _Pool.from_url(
        url, decode_components=True, max_connections=blocking_readers + _SPARE_CONNECTIONS
    )
    # No retries inside the client: the backend's loops own retrying and backoff (a
    # blind retry of a pipeline would write events twice).
    return coredis.Redis(connection_pool=pool, retry_policy=NoRetryPolicy())


@contextlib.asynccontextmanager
async def open_client(url: str, blocking_readers: int = 0) -> AsyncGenerator[Client]:
    """A connected-on-demand client for ``url``, usable inside the block.

    :param blocking_readers: how many tasks will block in ``XREADGROUP`` at once (each
        holds a connection); the pool has room for them and the other commands.
    :raises ValueError: for a URL coredis cannot read.
    :raises ConfigurationError: for a Redis Cluster URL that does not hold together.
    :raises coredis.exceptions.RedisClusterError: when no startup node of a cluster
        answers ("Redis Cluster cannot be connected").
    """
    client = _make(url, blocking_readers)
    try:
        async with client:
            yield client
    except BaseExceptionGroup as group:
        error = sole_error(group)
        if error is group:
            raise
        raise error from None


def sole_error(error: BaseException) -> BaseException:
    """The one error inside (nested) exception groups of one, else ``error`` itself."""
    if not isinstance(error, BaseExceptionGroup):
        return error
    group = cast("BaseExceptionGroup[BaseException]", error)
    return sole_error(group.exceptions[0]) if len(group.exceptions) == 1 else group


def xadd_arguments(stream: str, field: str, payload: bytes, maxlen: int | None) -> tuple[Any, ...]:
    """The raw ``XADD`` arguments for one envelope (``MAXLEN ~ maxlen`` when set).

    The writer sends these through ``create_request`` rather than the typed ``xadd``:
    coredis 6.9 validates and re-checks the server version on every typed call, which
    cost two thirds of a pipelined write here (18.5k vs 56.7k XADD/s, one run, see
    benchmarks/README.md). ``Key`` keeps the cluster's routing by slot.
    """
    trimming: tuple[Any, ...] = () if maxlen is None else (b"MAXLEN", b"~", maxlen)
    return (Key(stream), *trimming, b"*", field, payload)


class HeldConnection:
    """One pooled connection kept for commands that never block: the stream writer's, and
    the reads without waiting of a backend's consumers (each user holds one).

    A command sent through the client takes a pool place, a retry policy and a telemetry
    span each time: a quarter of an awaited ``XADD``'s CPU here (254 vs 187 us per call);
    a pipeline of them costs about 15 us of CPU per ``XADD`` where the same commands sent
    as one request batch on the connection cost 8.5 (benchmarks/README.md). A connection
    that died is given back (its place too, see :class:`_Pool`) and the next command
    takes a new one, once for all the tasks sharing it. A cluster has no one connection:
    there commands go through the client, and batches through a pipeline (which sends
    each command to its slot's node).
    """

    def __init__(self, client: Client) -> None:
        self.client = client
        self._connection: BaseConnection | None = None

    async def send(self, command: bytes, *arguments: Any) -> Any:
        """Send one command; its reply as Redis gave it (bytes undecoded)."""
        client = self.client
        if isinstance(client, coredis.RedisCluster):
            return await client.create_request(command, *arguments, callback=raw_reply)
        connection = await self._usable()
        return await connection.create_request(command, *_plain(arguments), decode=False)

    async def send_all(self, commands: list[tuple[Any, ...]], *, atomic: bool) -> list[Any]:
        """Send different commands (each ``(name, *arguments)``) in one round trip, as one
        transaction (``MULTI``/``EXEC``) when ``atomic``; their replies, each as Redis gave
        it or the error it answered with."""
        client = self.client
        if isinstance(client, coredis.RedisCluster):
            async with client.pipeline(transaction=atomic, raise_on_error=False) as pipe:
                for name, *arguments in commands:
                    pipe.create_request(name, *arguments, callback=raw_reply)
            return list(pipe.results or ())
        connection = await self._usable()
        batch = [_Command(name, _plain(tuple(arguments))) for name, *arguments in commands]
        if not atomic:
            return list(await connection.create_request_batch(cast(Any, batch)))
        batch = [_Command(b"MULTI", ()), *batch, _Command(b"EXEC", ())]
        *queued, executed = await connection.create_request_batch(cast(Any, batch))
        for reply in (executed, *queued):  # EXECABORT, or a command refused when queued
            if isinstance(reply, BaseException):
                raise reply
        return list(cast(list[Any], executed))

    async def _usable(self) -> BaseConnection:
        connection = self._connection
        if connection is not None and connection.usable:
            return connection
        self.release()
        pool = cast(ConnectionPool[Any], self.client.connection_pool)
        fresh: BaseConnection = await pool.get_connection()
        connection = self._connection
        if connection is not None and connection.usable:
            pool.release(fresh)  # another task sharing this one took a new one meanwhile
            return connection
        self._connection = fresh
        return fresh

    def release(self) -> None:
        """Give the connection back to the pool."""
        connection, self._connection = self._connection, None
        if connection is not None:
            cast(ConnectionPool[Any], self.client.connection_pool).release(connection)


class _Command:
    """A command of a request batch: what ``create_request_batch`` reads of one."""

    __slots__ = ("decode", "name", "serialized_arguments")

    def __init__(self, name: bytes, arguments: tuple[Any, ...]) -> None:
        self.name = name
        self.serialized_arguments = arguments
        self.decode = False


def _plain(arguments: tuple[Any, ...]) -> tuple[Any, ...]:
    """Arguments as a connection packs them (``Key`` is for the cluster client's routing)."""
    return tuple(a.key if isinstance(a, Key) else a for a in arguments)


def raw_reply(reply: Any, **_: Any) -> Any:
    """A callback that gives back Redis's reply as it came (the entry id as bytes)."""
    return reply


def trim(maxlen: int | None) -> dict[str, Any]:
    """``XADD`` options for ``MAXLEN ~ maxlen`` (nothing for None)."""
    if maxlen is None:
        return {}
    return {
        "trim_strategy": coredis.PureToken.MAXLEN,
        "trim_operator": coredis.PureToken.APPROXIMATELY,
        "threshold": maxlen,
    }
