"""PostgreSQL wake-ups: ``LISTEN`` on the outbox's channel, so an idle relay wakes at once.

A trigger on the outbox table runs ``pg_notify(table name, '')`` once per INSERT
statement; PostgreSQL delivers it when (and only if) the transaction commits. The relay keeps one
extra connection (psycopg 3, autocommit) that listens, and waits for its socket to be
readable with anyio, so waiting costs no thread and no polling query. Any other
database (or driver) has no wake-ups: the relay then polls every ``poll_interval``.
"""

from __future__ import annotations

import logging

import anyio
import anyio.to_thread
from sqlalchemy import Engine

__all__ = ["LISTENER_APPLICATION_NAME", "Listener", "open_listener"]

logger = logging.getLogger("typed_events")

LISTENER_APPLICATION_NAME = "typed-events outbox relay"
"""The ``application_name`` of the relay's LISTEN connection (``pg_stat_activity``)."""


class Listener:
    """A psycopg connection that has run ``LISTEN channel``."""

    def __init__(self, connection: object) -> None:
        import psycopg

        assert isinstance(connection, psycopg.Connection)
        self._connection: psycopg.Connection[tuple[object, ...]] = connection

    async def wait(self) -> None:
        """Return once at least one notification arrived (they are all consumed).

        :raises psycopg.OperationalError: if the connection broke.
        """
        pgconn = self._connection.pgconn
        while True:
            await anyio.wait_readable(pgconn.socket)
            pgconn.consume_input()
            received = False
            while pgconn.notifies() is not None:
                received = True
            if received:
                return

    def close(self) -> None:
        self._connection.close()


async def open_listener(engine: Engine, channel: str) -> Listener | None:
    """A listener on ``channel``, or None where the database cannot notify."""
    if engine.dialect.name != "postgresql" or engine.dialect.driver not in {
        "psycopg",
        "psycopg_async",
    }:
        return None
    import psycopg
    from psycopg import sql

    args, kwargs = engine.dialect.create_connect_args(engine.url)

    def connect() -> psycopg.Connection[tuple[object, ...]]:
        options = {"application_name": LISTENER_APPLICATION_NAME, **kwargs}
        connection = psycopg.connect(*args, **options, autocommit=True)
        try:
            connection.execute(sql.SQL("LISTEN {}").format(sql.Identifier(channel)))
        except BaseException:
            connection.close()
            raise
        return connection

    try:
        return Listener(await anyio.to_thread.run_sync(connect))
    except psycopg.Error as exc:
        logger.warning(
            "outbox relay: cannot LISTEN on %r (%s); polling instead until it can", channel, exc
        )
        return None
