"""An ``ordered=True`` listener on a partitioned event: per-key order across processes.

Part of :mod:`typed_events.backends.redis`. Each process consuming the listener is a
member of one :class:`PartitionLeases` per (consumer group, event), with
``lease_time = claim_idle``. For each partition it holds, it runs a
:class:`PartitionReader`, so every partition has at most one reader in the whole group:

- a reader first takes over the partition's pending entries, whoever held them
  (``XAUTOCLAIM`` from ``0-0`` with no idle time: the lease says their holder stopped),
  handling them strictly in id order, one at a time, until none is left;
- then it reads ``>`` in batches and handles them one at a time, in id order (when the
  lease goes mid-batch, the rest stays pending for the next holder's take-over); a
  failing message is retried in place
  (nothing behind it runs) until it succeeds or is dead-lettered, never skipped ahead
  of; a message Redis refused a command about goes back to the take-over, so it is
  handled before the next one;
- it never claims idle messages as unordered consumers do: only the lease moves a
  partition, so no member ever reads a partition it does not hold.

When the lease goes (a rebalance, a lost lease, shutdown) the reader stops reading and
returns once the call in flight and its ``XACK`` finished; only then is the lease
deleted. Shutdown leaves the group with :meth:`PartitionLeases.release_all`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import ClassVar

import anyio
import anyio.abc

from typed_events._routing import Subscription
from typed_events.backends.redis._connection import (
    Backoff,
    RedisError,
    describe,
    sleep_unless,
)
from typed_events.backends.redis._consumer import ConsumerSettings, GroupConsumer
from typed_events.backends.redis._group import GroupCommands, StreamMessage, text
from typed_events.backends.redis._leases import PartitionLeases
from typed_events.backends.redis._partitions import PartitionKeys

__all__ = ["OrderedPartitions", "PartitionReader"]

logger = logging.getLogger("typed_events")

_BLOCK_MS = 2000  # a stop is noticed at once (the wait is cancelled); Redis lost within this


@dataclass
class PartitionReader(GroupConsumer):
    """This process's reader of one partition it holds the lease of (see the module)."""

    _carries_acks: ClassVar[bool] = False  # a lease goes only once its messages are acked
    _taken_over: bool = field(default=False, init=False)
    _last_taken: bytes = field(default=b"", init=False)
    _left_pending: bool = field(default=False, init=False)

    async def _round(self, retries: anyio.abc.TaskGroup, backoff: Backoff) -> None:
        """One turn of :meth:`run`: take over what is pending, else read new messages."""
        if not self._taken_over:
            await self._take_over_one(retries, backoff)
        else:
            await self._handle_batch(await self._read(_BLOCK_MS), retries)

    def _reply_lost(self) -> None:
        # Entries a lost read delivered are pending for this reader, before everything it
        # would read next: take the partition over again, from its oldest pending entry.
        self._taken_over = False

    async def _take_over_one(self, retries: anyio.abc.TaskGroup, backoff: Backoff) -> None:
        """Handle the oldest pending entries of the group; none left: the take-over is done.

        Always from ``0-0``: what is handled is acknowledged, so the next call finds the
        next one, and an entry left pending (refused) comes first again.
        """
        claimed = await self._commands.claim_first(self.settings.read_count)
        if claimed.deleted:
            logger.error(
                "%d pending message(s) of group %s were trimmed from %s before they were "
                "handled (raise maxlen): %s",
                len(claimed.deleted), self.group, self.stream,
                [text(d) for d in claimed.deleted],
            )  # fmt: skip
        if not claimed.entries:
            self._taken_over = not claimed.deleted
            return
        if claimed.entries[0][0] == self._last_taken:
            # The same entry again: its acknowledgement was refused. Do not spin on it.
            await sleep_unless(self.stopping, backoff.next_delay())
        self._last_taken = claimed.entries[0][0]
        await self._handle_batch(await self._commands.count_deliveries(claimed.entries), retries)

    async def _handle_batch(
        self, messages: list[StreamMessage], retries: anyio.abc.TaskGroup
    ) -> None:
        # A read brings up to batch_size messages (one round trip, not one per message);
        # they are handled one at a time, in id order (the ordered path of GroupConsumer).
        self._left_pending = False
        await super()._handle_batch(messages, retries)

    async def _handle(self, message: StreamMessage, retries: anyio.abc.TaskGroup) -> bool:
        if self._left_pending or self.stopping.is_set():
            # Something before it stays pending, or the lease is going: leave this one
            # pending too, so whoever takes the partition over handles both in id order.
            self.in_flight.discard(message.id)
            return False
        try:
            return await self._handle_message(message, retries)
        except RedisError as exc:
            # It stays pending: take the partition over again, so that it is handled
            # before anything after it.
            self.in_flight.discard(message.id)
            self._taken_over = False
            self._left_pending = True
            logger.error(
                "consumer group %s: Redis refused a command while handling message %s of %s "
                "(%s); it stays pending and is handled again before the next one",
                self.group, text(message.id), self.stream, describe(exc),
            )  # fmt: skip
            return False


@dataclass
class OrderedPartitions:
    """An ordered listener on a partitioned event, in this process: a member of the
    group's partition leases, running a :class:`PartitionReader` per partition held.

    Looks like a :class:`GroupConsumer` to the backend (``run``, ``stop``, ``finished``,
    ``in_flight``, ``heartbeat``, ``ensure_group``), over all of the event's partitions.
    """

    settings: ConsumerSettings
    subscription: Subscription
    keys: PartitionKeys
    stopping: anyio.Event = field(default_factory=anyio.Event)
    finished: anyio.Event = field(default_factory=anyio.Event)
    leases: PartitionLeases = field(init=False)
    _readers: dict[int, PartitionReader] = field(default_factory=dict[int, PartitionReader])
    _tasks: anyio.abc.TaskGroup | None = None

    def __post_init__(self) -> None:
        self.leases = PartitionLeases(
            self.settings.client,
            self.keys,
            member=self.settings.consumer,
            lease_time=self.settings.claim_idle,
            on_acquired=self._acquired,
            on_release=self._release,
        )

    @property
    def group(self) -> str:
        """The listener's consumer group (the same on every partition stream)."""
        return self.keys.group

    @property
    def streams(self) -> list[str]:
        """Every partition stream of the event."""
        return [self.keys.stream(p) for p in range(self.keys.partitions)]

    @property
    def in_flight(self) -> list[bytes]:
        """Messages fetched and not yet acknowledged, on the partitions held."""
        return [i for reader in self._readers.values() for i in reader.in_flight]

    async def ensure_group(self) -> None:
        """Create the group on every partition stream (a new group reads what is retained)."""
        for stream in self.streams:
            await GroupCommands(
                self.settings.client, stream, self.group, self.settings.consumer
            ).create()

    def stop(self) -> None:
        """Leave the group: finish the calls in flight, release every lease."""
        self.stopping.set()

    async def run(self) -> None:
        """Hold this process's share of the partitions, reading each, until :meth:`stop`."""
        try:
            async with anyio.create_task_group() as tasks:
                self._tasks = tasks
                tasks.start_soon(self.leases.run)
                await self.stopping.wait()
                await self.leases.release_all()  # returns once every reader finished
                tasks.cancel_scope.cancel()  # leases.run has returned; nothing else is left
        finally:
            self.finished.set()

    async def heartbeat(self) -> None:
        """Reset the idle time of the messages in hand (as a :class:`GroupConsumer` does)."""
        for reader in list(self._readers.values()):
            await reader.heartbeat()

    async def _acquired(self, partition: int, token: int) -> None:
        assert self._tasks is not None  # the leases run inside run()
        reader = PartitionReader(
            self.settings, self.subscription, self.keys.stream(partition), self.group, partition
        )
        self._readers[partition] = reader
        self._tasks.start_soon(reader.run)

    async def _release(self, partition: int, lost: bool) -> None:
        reader = self._readers.get(partition)
        if reader is None:
            return
        reader.stop()
        await reader.finished.wait()  # the lease is deleted only after this returns
        del self._readers[partition]
