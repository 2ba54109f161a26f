"""The one place a Redis client is made, and the errors it raises sorted out.

Part of :mod:`typed_events.backends.redis`. The client is coredis (anyio-based, so the
backend runs on asyncio and trio). A coredis client works only inside ``async with``;
what escapes that block arrives wrapped in an exception group, so :func:`open_client`
unwraps a lone error: callers see ``AuthenticationFailureError``, not a group of one.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncGenerator
from typing import Any, cast

import coredis
from coredis._concurrency import QueueFull
from coredis.connection import BaseConnection
from coredis.pool import ConnectionPool
from coredis.retry import NoRetryPolicy

__all__ = ["Client", "open_client", "sole_error", "trim"]

Client = coredis.Redis[bytes]
"""A client that does not decode replies: stream fields arrive as the bytes they are."""

# Blocking reads each hold a connection of their own; the rest share them.
_SPARE_CONNECTIONS = 16


class _Pool(ConnectionPool[Any]):
    """coredis's pool, except that a connection lost while in use gives its place back.

    coredis 6.9 drops a connection that died while leased (a blocking ``XREADGROUP`` or a
    pipeline when Redis restarts) without returning its place, so after
    ``max_connections`` such losses every command waits for ever.
    """

    def release(self, connection: BaseConnection) -> None:
        usable = connection.usable
        super().release(connection)
        if not usable:
            with contextlib.suppress(QueueFull):  # its place was returned already
                self._available_connections.append_nowait(None)


def _make(url: str, blocking_readers: int) -> Client:
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


def trim(maxlen: int | None) -> dict[str, Any]:
    """``XADD`` options for ``MAXLEN ~ maxlen`` (nothing for None)."""
    if maxlen is None:
        return {}
    return {
        "trim_strategy": coredis.PureToken.MAXLEN,
        "trim_operator": coredis.PureToken.APPROXIMATELY,
        "threshold": maxlen,
    }
