"""One way for the relay to use a sync ``Engine`` (in worker threads) or an ``AsyncEngine``.

The relay's queries are plain functions of a sync ``Connection``. With an ``Engine``
they run in a worker thread (``anyio.to_thread``: asyncio and trio alike); with an
``AsyncEngine`` through ``AsyncConnection.run_sync`` (asyncio only, as SQLAlchemy's
asyncio extension is).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncGenerator, Callable
from typing import TypeVar

import anyio
import anyio.to_thread
from sqlalchemy import Connection, Engine
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

__all__ = ["Database", "DatabaseConnection"]

T = TypeVar("T")


class DatabaseConnection:
    """A connection the relay holds across awaits; ``run(fn)`` calls ``fn(connection)``."""

    def __init__(self, sync: Connection | None, asynchronous: AsyncConnection | None) -> None:
        self._sync = sync
        self._async = asynchronous

    async def run(self, function: Callable[[Connection], T]) -> T:
        if self._async is not None:
            return await self._async.run_sync(function)
        assert self._sync is not None
        return await anyio.to_thread.run_sync(function, self._sync)


class Database:
    """The engine an :class:`~typed_events.sqlalchemy.Outbox` was given."""

    def __init__(self, engine: Engine | AsyncEngine) -> None:
        if not isinstance(engine, Engine | AsyncEngine):
            raise TypeError(
                f"Outbox needs a SQLAlchemy Engine or AsyncEngine, got {type(engine).__qualname__}"
            )
        self.engine = engine
        self.sync_engine = engine.sync_engine if isinstance(engine, AsyncEngine) else engine
        self.dialect = self.sync_engine.dialect.name

    @contextlib.asynccontextmanager
    async def connect(self) -> AsyncGenerator[DatabaseConnection]:
        """A connection, closed (its open transaction rolled back) on the way out.

        :raises RuntimeError: for an ``AsyncEngine`` outside asyncio.
        """
        if isinstance(self.engine, AsyncEngine):
            _require_asyncio()
            async with self.engine.connect() as connection:
                yield DatabaseConnection(None, connection)
            return
        sync = await anyio.to_thread.run_sync(self.engine.connect)
        try:
            yield DatabaseConnection(sync, None)
        finally:
            with anyio.CancelScope(shield=True):
                await anyio.to_thread.run_sync(sync.close)

    async def run(self, function: Callable[[Connection], T]) -> T:
        """``function(connection)`` in a transaction of its own, committed if it returns."""

        def in_transaction(connection: Connection) -> T:
            with connection.begin():
                return function(connection)

        async with self.connect() as connection:
            return await connection.run(in_transaction)


def _require_asyncio() -> None:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        raise RuntimeError(
            "Outbox: an AsyncEngine runs on asyncio only (SQLAlchemy's asyncio extension "
            "does); run the relay on asyncio, or give the Outbox a sync Engine, whose "
            "queries run in worker threads on trio too"
        ) from None
