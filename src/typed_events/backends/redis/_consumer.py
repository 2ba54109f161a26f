"""Consuming one listener's consumer group: read, validate, run, acknowledge, retry, dead-letter.

Part of :mod:`typed_events.backends.redis`; the commands it sends are in ``redis_group``.

How the listener's own options and the backend's ``max_retries`` combine: one Redis
delivery is one :meth:`Dispatcher.deliver` call, so the listener's ``retries``,
``retry_backoff`` and ``timeout`` apply inside it, in this process, as on every backend.
When that call still fails, the message stays pending and is delivered again after
``retry_backoff * 2 ** (attempt - 1)`` seconds (``XCLAIM``, which Redis counts), up to
``max_retries`` more deliveries; then it is dead-lettered and ``on_error`` runs once.
The count lives in Redis, so a consumer that crashes mid-retry does not reset it.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any, ClassVar

import anyio
import anyio.abc

from typed_events._routing import Subscription
from typed_events.backends.redis._acks import AckPipe, json_fields
from typed_events.backends.redis._client import Client, HeldConnection, trim
from typed_events.backends.redis._connection import (
    RETRYABLE,
    Backoff,
    OutageWatch,
    RedisError,
    describe,
    is_missing_group,
    sleep_unless,
)
from typed_events.backends.redis._dead_letter import ENVELOPE_FIELD, REPLAY_FIELD, DeadLetter
from typed_events.backends.redis._delivery import Delivery, delivery_context
from typed_events.backends.redis._group import GroupCommands, StreamMessage, Trimmed, text
from typed_events.backends.redis._screening import Refusal, screen
from typed_events.backends.redis._workers import Workers
from typed_events.dispatch import CallEnd, Dispatcher, ListenerOutcome, backoff_delay
from typed_events.envelope import Envelope
from typed_events.errors import DeadLetterReason
from typed_events.events import Event, EventRegistry

__all__ = ["ConsumerSettings", "GroupConsumer"]

logger = logging.getLogger("typed_events")

_ENVELOPE_KEY = ENVELOPE_FIELD.encode()
_REPLAY_KEY = REPLAY_FIELD.encode()
_BLOCK_MS_MAX = 2000  # a stopped Redis is noticed within this, even with no timeout


@dataclass(frozen=True)
class ConsumerSettings:
    """What every group consumer of one backend shares."""

    client: Client
    consumer: str
    registry: EventRegistry
    dispatcher: Dispatcher  # the bus's pipeline: attempts a delivery, settles it
    max_retries: int
    retry_backoff: float
    claim_idle: float
    max_message_bytes: int
    max_read_bytes: int
    batch_size: int
    max_concurrency: int
    dead_letter_stream: str
    maxlen: int | None
    user: str = "default"
    on_trimmed: Callable[[int], None] = lambda count: None  # counts trimmed unread messages
    reads: HeldConnection | None = None  # the connection every consumer's reads share

    @property
    def read_count(self) -> int:
        """Entries per read: ``batch_size``, fewer if that many of the largest allowed
        size would bring more than ``max_read_bytes`` into memory at once."""
        return max(1, min(self.batch_size, self.max_read_bytes // self.max_message_bytes))


@dataclass
class GroupConsumer:
    """This process's consumer in one listener's consumer group on one stream."""

    settings: ConsumerSettings
    subscription: Subscription
    stream: str
    group: str
    partition: int | None = None  # the stream's partition (None: an unpartitioned event)
    in_flight: set[bytes] = field(default_factory=set[bytes])  # fetched, not yet acknowledged
    stopping: anyio.Event = field(default_factory=anyio.Event)
    finished: anyio.Event = field(default_factory=anyio.Event)
    _read_scope: anyio.CancelScope | None = None
    _next_claim: float = 0.0  # when run() next takes over idle messages
    _carried: list[bytes] = field(default_factory=list[bytes])  # acks for the next read
    _commands: GroupCommands = field(init=False)
    _outage: OutageWatch = field(init=False)
    # A batch's last acknowledgements ride with the next read (one round trip, not two).
    # Not for the ordered partition reader: it hands a partition over only once what it
    # handled is acknowledged.
    _carries_acks: ClassVar[bool] = True

    def __post_init__(self) -> None:
        settings = self.settings
        self._commands = GroupCommands(
            settings.client, self.stream, self.group, settings.consumer, settings.reads
        )
        self._outage = OutageWatch(f"consumer group {self.group}", self.settings.user)

    @property
    def event_id(self) -> str:
        """The event id this group's stream carries."""
        return self.subscription.event_class.event_id

    async def ensure_group(self) -> None:
        """Create the group (and stream) if missing; a new group reads the retained stream."""
        await self._commands.create()

    def stop(self) -> None:
        """Stop reading; the batch in hand is finished, pending retries are left to Redis."""
        self.stopping.set()
        if self._read_scope is not None:
            self._read_scope.cancel()

    async def run(self) -> None:
        """Read and handle batches until :meth:`stop`; reconnect with backoff."""
        backoff = Backoff()
        try:
            async with anyio.create_task_group() as retries:
                while not self.stopping.is_set():
                    try:
                        await self._round(retries, backoff)
                    except RETRYABLE as exc:
                        self._outage.failed(exc)
                        self._reply_lost()
                        await sleep_unless(self.stopping, backoff.next_delay())
                        continue
                    except RedisError as exc:
                        await self._recover(exc, backoff)
                        continue
                    self._outage.succeeded()
                    backoff.reset()
                # Leaving: retries waiting for their backoff stay pending in Redis (taken
                # over after claim_idle); the ones running finish.
                carried, self._carried = self._carried, []
                await self.ack(carried)
        finally:
            self.finished.set()

    def _reply_lost(self) -> None:
        """Entries a lost read delivered stay pending: the claim of idle ones takes them."""

    async def _round(self, retries: anyio.abc.TaskGroup, backoff: Backoff) -> None:
        """One turn of :meth:`run`: take over idle messages when due, then read new ones."""
        claim_every = max(self.settings.claim_idle / 2, 0.01)
        if anyio.current_time() >= self._next_claim:
            self._next_claim = anyio.current_time() + claim_every
            await self._handle_batch(await self._claim_idle(), retries)
        block_ms = int(min(claim_every * 1000, _BLOCK_MS_MAX))
        await self._handle_batch(await self._read(max(block_ms, 1)), retries)

    async def _recover(self, exc: RedisError, backoff: Backoff) -> None:
        if is_missing_group(exc):
            # Redis lost the group (restarted without persistence): recreate it.
            logger.warning(
                "consumer group %s on %s vanished; recreating it", self.group, self.stream
            )
            with contextlib.suppress(RedisError, OSError):
                await self.ensure_group()  # if not now, the next round tells
            return
        # A refusal such as NOPERM: keep the service up, and say so loudly but slowly.
        logger.error(
            "consumer group %s on %s: Redis refused a command: %s",
            self.group,
            self.stream,
            describe(exc),
        )
        await sleep_unless(self.stopping, backoff.next_delay())

    async def _read(self, block_ms: int) -> list[StreamMessage]:
        count = self.settings.read_count
        messages, trimmed = await self._read_now_and_ack(count)
        if trimmed is not None:
            trimmed.report(self.stream, self.group)
            self.settings.on_trimmed(trimmed.count)
        if messages:
            return messages
        with anyio.CancelScope() as self._read_scope:
            if self.stopping.is_set():
                return []
            # stop() cancels this wait; what Redis sent by then stays pending (claim_idle).
            messages = await self._commands.read(count, block_ms)
        self._read_scope = None
        return messages

    async def _read_now_and_ack(self, count: int) -> tuple[list[StreamMessage], Trimmed | None]:
        """Read without waiting, sending the acknowledgements carried from the last batch."""
        acks, self._carried = self._carried, []
        if not acks:
            return await self._commands.read_now(count)
        try:
            read = await self._commands.read_now(count, acks)
        except RETRYABLE:
            self._carried[:0] = acks  # maybe not sent: the next round sends them again
            raise
        except RedisError:
            # Refused, the XACK or the read: acknowledge alone (a refusal of that is
            # logged), then read alone (a refusal of that is the run loop's to handle).
            await self.ack(acks)
            return await self._commands.read_now(count)
        self.in_flight.difference_update(acks)
        return read

    async def _claim_idle(self) -> list[StreamMessage]:
        """Take over messages another consumer left pending for ``claim_idle`` seconds."""
        claimed = await self._commands.autoclaim(
            int(self.settings.claim_idle * 1000), self.settings.read_count
        )
        if claimed.deleted:
            logger.error(
                "%d pending message(s) of group %s were trimmed from %s before they were "
                "handled (raise maxlen, or add consumers): %s",
                len(claimed.deleted),
                self.group,
                self.stream,
                [text(d) for d in claimed.deleted],
            )
        entries = [(i, f) for i, f in claimed.entries if i not in self.in_flight]
        return await self._commands.count_deliveries(entries)

    # -- handling ---------------------------------------------------------------------

    async def _handle_batch(
        self, messages: list[StreamMessage], retries: anyio.abc.TaskGroup
    ) -> None:
        if not messages:
            return
        self.in_flight.update(m.id for m in messages)
        unended = len(messages)

        async def work(message: StreamMessage) -> None:
            nonlocal unended
            try:
                if await self._handle(message, retries):
                    acks.add(message.id)  # now, not when the batch is done
            finally:
                unended -= 1
                if not unended:
                    acks.batch_ended()

        ordered = self.subscription.listener.options.ordered  # one at a time, in order
        carry = self._carried.extend if self._carries_acks else None
        async with anyio.create_task_group() as tasks:
            acks = AckPipe(self.ack, tasks, carry)
            limit = 1 if ordered else min(self.settings.max_concurrency, len(messages))
            await Workers(work, iter(messages), limit, tasks).run()

    async def _handle(self, message: StreamMessage, retries: anyio.abc.TaskGroup) -> bool:
        """Run the listener on one message; True when it can be acknowledged now."""
        try:
            return await self._handle_message(message, retries)
        except RedisError as exc:
            # Refused (not unreachable: that is retried): leave the message pending and
            # stop holding it, so it is taken over again after claim_idle.
            self.in_flight.discard(message.id)
            logger.error(
                "consumer group %s: Redis refused a command while handling message %s of %s "
                "(%s); it stays pending and is delivered again after claim_idle",
                self.group,
                text(message.id),
                self.stream,
                describe(exc),
            )
            return False

    async def _handle_message(self, message: StreamMessage, retries: anyio.abc.TaskGroup) -> bool:
        # First what needs no decoding (see _screening), the replay marker.
        replay_for = message.fields.get(_REPLAY_KEY)
        if replay_for is not None and replay_for.decode("utf-8", "replace") != self.group:
            return await self._replay_for_another(message, text(replay_for))
        settings = self.settings
        envelope = screen(
            message,
            settings.registry,
            event_id=self.event_id,
            max_deliveries=settings.max_retries + 1,
            max_bytes=settings.max_message_bytes,
        )
        if isinstance(envelope, Refusal):
            await self._dead_letter(message, *envelope)  # reason, detail, envelope, id, type
            return True
        context = delivery_context(lambda: self._delivery(message, envelope))
        dispatcher = settings.dispatcher
        outcome = dispatcher.attempt_now(self.subscription, envelope.event, context)
        if not isinstance(outcome, ListenerOutcome):
            outcome = await outcome  # it suspended (or is not a plain listener)
        if outcome.exception is None:
            dispatcher.settle_delivered()
            return True
        delivery = self._delivery(message, envelope)
        raw = message.fields[_ENVELOPE_KEY]
        return await self._failed(message, envelope.event, raw, delivery, outcome, retries)

    def _delivery(self, message: StreamMessage, envelope: Envelope) -> Delivery:
        return Delivery(
            envelope.id,
            envelope.source,
            envelope.time,
            self.stream,
            text(message.id),
            self.group,
            self.settings.consumer,
            message.attempt,
            envelope.extensions,
            self.partition,
        )

    async def _replay_for_another(self, message: StreamMessage, target: str) -> bool:
        """A replay addressed to another group: acknowledged unread, unless that group
        does not exist; then the first group of the stream refuses it (one dead letter)."""
        groups = await self._commands.group_names()
        if target in groups or min(groups, default=self.group) != self.group:
            return True
        raw = message.fields.get(_ENVELOPE_KEY)
        await self._dead_letter(
            message,
            DeadLetterReason.BAD_REPLAY,
            f"replayed for consumer group {target!r}, which {self.stream} does not have "
            f"(groups: {', '.join(sorted(groups))}); was the listener renamed? Replay it "
            "again with the group's new name",
            raw if raw is not None else json_fields(message.fields),
            group=target,
        )
        return True

    async def _failed(
        self,
        message: StreamMessage,
        event: Event,
        raw: bytes,
        delivery: Delivery,
        outcome: ListenerOutcome,
        retries: anyio.abc.TaskGroup,
    ) -> bool:
        dispatcher = self.settings.dispatcher
        if message.attempt <= self.settings.max_retries:
            delay = backoff_delay(self.settings.retry_backoff, message.attempt)
            await dispatcher.settle(
                self.subscription,
                event,
                replace(outcome, attempts=message.attempt),
                CallEnd.REDELIVERED,
                detail=f"(id {delivery.id}), delivery {message.attempt} of "
                f"{self.settings.max_retries + 1}, again in {delay:.3g}s",
            )
            if self.subscription.listener.options.ordered:
                await self._retry_later(message.id, delay, retries)  # keep the order
            else:
                retries.start_soon(self._retry_later, message.id, delay, retries)
            return False
        exc = outcome.exception
        await self._dead_letter(
            message,
            DeadLetterReason.LISTENER_FAILED,
            f"{type(exc).__qualname__}: {exc}",
            raw,
            delivery.id,
            event.event_id,
        )
        await dispatcher.settle(self.subscription, event, outcome, CallEnd.FAILED, wait=False)
        return True

    async def _retry_later(
        self, message_id: bytes, delay: float, retries: anyio.abc.TaskGroup
    ) -> None:
        await sleep_unless(self.stopping, delay)
        if self.stopping.is_set():
            return  # left pending: whoever runs next takes it over after claim_idle
        claimed = await self._outage.until_done(self._commands.reclaim, message_id)
        if not claimed:
            self.in_flight.discard(message_id)  # acknowledged or trimmed meanwhile
            return
        if await self._handle(claimed[0], retries):
            await self.ack([message_id])

    async def heartbeat(self) -> None:
        """Reset the idle time of the messages in hand, so nobody takes them over."""
        if self.in_flight:
            await self._commands.touch(self.in_flight)

    async def ack(self, message_ids: list[bytes]) -> None:
        """``XACK`` messages, riding out outages; a refusal is logged (they stay pending)."""
        if not message_ids:
            return
        try:
            await self._outage.until_done(self._commands.ack, message_ids)
        except RedisError as exc:
            logger.error(
                "consumer group %s: Redis refused to acknowledge %d message(s) of %s (%s); "
                "they are delivered again after claim_idle",
                self.group,
                len(message_ids),
                self.stream,
                describe(exc),
            )
        self.in_flight.difference_update(message_ids)

    async def _dead_letter(
        self,
        message: StreamMessage,
        reason: str,
        detail: str,
        raw: bytes,
        envelope_id: str | None = None,
        event_type: str | None = None,
        *,
        group: str | None = None,
    ) -> None:
        letter = DeadLetter.create(
            reason=reason,
            detail=detail,
            stream=self.stream,
            message_id=text(message.id),
            group=group or self.group,
            listener=self.subscription.listener.name,
            consumer=self.settings.consumer,
            attempts=message.attempt,
            envelope=raw,
            envelope_id=envelope_id,
            event_type=event_type,
        )
        logger.error(
            "dead-lettered message %s of %s for %s: %s: %s",
            letter.message_id,
            self.stream,
            self.group,
            reason,
            detail,
        )
        await self._outage.until_done(self._xadd_dead_letter, letter)

    async def _xadd_dead_letter(self, letter: DeadLetter) -> None:
        fields: dict[Any, Any] = letter.to_fields()
        await self.settings.client.xadd(
            self.settings.dead_letter_stream, fields, **trim(self.settings.maxlen)
        )
