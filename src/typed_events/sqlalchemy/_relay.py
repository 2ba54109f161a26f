"""The relay: publish committed outbox rows in order through the bus's backend, then
delete them.

One round: claim the oldest live rows (PostgreSQL: ``FOR UPDATE SKIP LOCKED``, so
relays in other processes take other rows; the lock is held while publishing), decode
each envelope with the bus's registry, publish it with ``backend.emit_async`` under its
stored CloudEvents id and time (:func:`~typed_events.envelope.preset_attributes`), then
delete what was published and mark what can never be (a :class:`DeadLetterReason`) in
one commit. A crash anywhere before that commit leaves the rows to be published again:
at least once, never lost. On SQLite (one process) nothing is held while publishing, so
the app's writers are not blocked by the relay.

A publish that fails for another reason (Redis unreachable, say) stops the round there,
so later rows do not overtake it; the round commits what it did, and the relay tries
again after a backoff.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

import anyio
from sqlalchemy import Connection, Table

from typed_events.envelope import EnvelopeError, decode, preset_attributes
from typed_events.sqlalchemy import _table
from typed_events.sqlalchemy._listen import Listener, open_listener

if TYPE_CHECKING:
    from typed_events.sqlalchemy._outbox import Outbox

__all__ = ["Relay"]

logger = logging.getLogger("typed_events")

_MAX_BACKOFF = 30.0
_NOT_TRIED = RuntimeError("not published: an earlier row of the batch failed")


class Relay:
    """The loop behind ``async with outbox:``."""

    def __init__(self, outbox: Outbox) -> None:
        self.outbox = outbox
        self.lock = outbox.database.dialect != "sqlite"
        self.wakeup = anyio.Event()
        self.stopping = False
        self.published = 0
        self.dead_lettered = 0
        self._done = anyio.Event()

    def wake(self) -> None:
        """Run a round now (call in the relay's event loop thread)."""
        self.wakeup.set()

    def stop(self) -> None:
        self.stopping = True
        self.wakeup.set()

    async def run(self) -> None:
        """Rounds until :meth:`stop`; waits for a wake-up (or ``poll_interval``) when idle."""
        try:
            await self._rounds()
        finally:
            self._done.set()

    async def finished(self) -> None:
        """Wait until :meth:`run` has returned."""
        await self._done.wait()

    async def _rounds(self) -> None:
        backoff = self.outbox.retry_backoff
        while not self.stopping:
            self.wakeup = anyio.Event()  # wake-ups during the round trigger the next one
            try:
                count = await self.round()
            except Exception:
                logger.exception(
                    "outbox relay of %r: a round failed; trying again in %.3gs",
                    self.outbox.table.name,
                    backoff,
                )
                with anyio.move_on_after(backoff):
                    await self._stopped()
                backoff = min(backoff * 2, _MAX_BACKOFF)
                continue
            backoff = self.outbox.retry_backoff
            if count < self.outbox.batch_size:
                with anyio.move_on_after(self.outbox.poll_interval):
                    await self.wakeup.wait()

    async def _stopped(self) -> None:
        while not self.stopping:
            await self.wakeup.wait()
            self.wakeup = anyio.Event()

    async def round(self) -> int:
        """One batch; returns how many rows it handled (published or dead-lettered)."""
        outbox = self.outbox
        table = outbox.table
        limit = outbox.batch_size
        async with outbox.database.connect() as connection:
            rows = await connection.run(lambda c: _table.claim(c, table, limit, lock=self.lock))
            if not rows:
                return 0
            if not self.lock:
                await connection.run(lambda c: c.commit())
            outcomes = await self._publish_all([raw for _, raw in rows])
            published: list[int] = []
            dead: list[tuple[int, str, str]] = []
            failure: BaseException | None = None
            for (seq, _), outcome in zip(rows, outcomes, strict=True):
                if outcome is None:
                    published.append(seq)
                elif isinstance(outcome, EnvelopeError):
                    dead.append((seq, str(outcome.reason), str(outcome)))
                    logger.error(
                        "outbox %r: row %s cannot be published (%s): %s; it stays in the "
                        "table with dead_reason set, and the relay goes on",
                        table.name,
                        outcome.envelope_id or seq,
                        outcome.reason,
                        outcome,
                    )
                elif failure is None:
                    failure = outcome
            with anyio.CancelScope(shield=True):  # what was published must be deleted
                await connection.run(_finisher(table, published, dead))
        self.published += len(published)
        self.dead_lettered += len(dead)
        if failure is not None:
            raise failure
        return len(rows)

    async def _publish_all(self, batch: list[str]) -> list[BaseException | None]:
        """Publish a batch in order; the outcome of each (None: acknowledged).

        On asyncio the publishes run concurrently, so a batching backend (Redis) writes
        them in one round trip: asyncio starts tasks in the order they are created, and
        each hands its event to the backend before it first waits, so the backend still
        receives them in order. On other loops (trio schedules in no fixed order) they run
        one after the other. After the first failure, later rows are not published.
        """
        outcomes: list[BaseException | None] = [None] * len(batch)
        if not _on_asyncio():
            for index, raw in enumerate(batch):
                outcomes[index] = await self._publish(raw)
                if outcomes[index] is not None and not isinstance(outcomes[index], EnvelopeError):
                    outcomes[index + 1 :] = [_NOT_TRIED] * (len(batch) - index - 1)
                    break
            return outcomes

        async def publish(index: int, raw: str) -> None:
            outcomes[index] = await self._publish(raw)

        async with anyio.create_task_group() as task_group:
            for index, raw in enumerate(batch):
                task_group.start_soon(publish, index, raw)
        return outcomes

    async def _publish(self, raw: str) -> BaseException | None:
        bus = self.outbox.bus
        try:
            envelope = decode(raw, bus.registry)
            with preset_attributes(envelope.id, time=envelope.time):
                await bus.backend.emit_async(envelope.event)
        except Exception as exc:  # the caller sorts dead rows from failed publishes
            return exc
        return None

    async def open_listener(self) -> Listener | None:
        """LISTEN on the outbox's channel (PostgreSQL with psycopg; None elsewhere)."""
        return await open_listener(self.outbox.database.sync_engine, self.outbox.table.name)

    async def listen(self, listener: Listener | None) -> None:
        """Wake the relay on every notification; reconnects while the relay runs.

        :param listener: the one opened before the first round, so that no commit made
            after ``async with outbox`` returned can go unnoticed.
        """
        if listener is None and self.outbox.database.dialect != "postgresql":
            return  # nothing to listen on: poll_interval does the work
        while True:
            if listener is None:
                await anyio.sleep(self.outbox.retry_backoff)
                listener = await self.open_listener()
                if listener is None:
                    continue
                self.wake()  # rows may have been committed while it was down
            try:
                while True:
                    await listener.wait()
                    self.wake()
            except Exception as exc:
                logger.warning("outbox relay: LISTEN connection lost (%s); reconnecting", exc)
            finally:
                listener.close()
            listener = None


def _on_asyncio() -> bool:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return False
    return True


def _finisher(
    table: Table,
    published: list[int],
    dead: list[tuple[int, str, str]],
) -> Callable[[Connection], None]:
    def finish(connection: Connection) -> None:
        _table.finish(connection, table, published, dead)
        connection.commit()

    return finish
