"""Writing events to Redis: a bounded buffer, pipelined ``XADD`` batches, retries through outages.

Part of :mod:`typed_events.backends.redis`; users import the errors from there.
"""

from __future__ import annotations

import contextlib
import logging
from collections import deque
from dataclasses import dataclass
from itertools import islice
from typing import Any

import anyio

from typed_events.backends.redis._client import (
    Client,
    HeldConnection,
    xadd_arguments,
)
from typed_events.backends.redis._connection import (
    RETRYABLE,
    Backoff,
    OutageWatch,
    RedisError,
    describe,
)
from typed_events.backends.redis._dead_letter import ENVELOPE_FIELD
from typed_events.backends.redis._fence import (
    FenceResult,
    NotConfirmedError,
    confirm_written,
    write_fence_key,
)
from typed_events.errors import (
    EmitterNotRunningError,
    RedisWriteError,
    WriteBufferFullError,
)
from typed_events.events import Event

__all__ = ["PendingWrite", "RedisWriteError", "StreamWriter", "WriteBufferFullError"]

logger = logging.getLogger("typed_events")

_WRITE_BATCH = 512  # XADDs per pipeline round trip
_REFENCE_PAUSE = 0.05  # after a WAIT that timed out, before the next fence


@dataclass(eq=False)
class PendingWrite:
    """One event on its way to its stream."""

    event: Event
    stream: str
    payload: bytes
    written: anyio.Event | None = None  # set when emit_async may return
    error: RedisWriteError | None = None
    attempted: bool = False  # sent to Redis at least once (a failed attempt may have stored it)
    unanswered: bool = False  # sent alone by emit_async, which stopped waiting for the reply


class StreamWriter:
    """Buffers writes and runs the task that pipelines them to Redis in emit order.

    :param max_pending: writes waiting before :meth:`put` raises.
    :param maxlen: approximate cap per stream (``XADD MAXLEN ~``), or None.
    :param user: the ACL user, named when Redis refuses the login.
    :param replicas: replicas that must have a batch before its writes count as written
        (a write fence per stream per batch, see :mod:`._fence`); 0: Redis's
        acknowledgement is enough.
    :param replica_timeout: seconds each fence's ``WAIT`` waits for them.
    """

    def __init__(
        self,
        max_pending: int,
        maxlen: int | None,
        user: str = "default",
        *,
        replicas: int = 0,
        replica_timeout: float = 1.0,
    ) -> None:
        self.max_pending = max_pending
        self.maxlen = maxlen
        self.replicas = replicas
        self.replica_timeout = replica_timeout
        self.client: Client | None = None
        self.accepting = False
        self.outage = OutageWatch("writer", user)
        self._sending: list[PendingWrite] = []  # the batch Redis may be storing right now
        self._direct: anyio.Event | None = None  # set when an emit_async's own XADD ends
        self._held: HeldConnection | None = None  # the connection its XADDs go through
        self._confirming: list[PendingWrite] = []  # stored, no replica confirmed them yet
        self._buffer: deque[PendingWrite] = deque()
        self._failed: list[PendingWrite] = []
        self._wake = anyio.Event()
        self._room: list[anyio.Event] = []
        self._flushed: list[anyio.Event] = []

    def put(self, write: PendingWrite) -> None:
        """Queue a write without waiting.

        :raises WriteBufferFullError: if ``max_pending`` writes are waiting.
        """
        if len(self._buffer) >= self.max_pending:
            raise WriteBufferFullError(self.max_pending, self.outage.cause)
        self._buffer.append(write)
        self._wake.set()

    async def put_and_wait(self, write: PendingWrite, wait_at_most: float | None) -> None:
        """Queue a write, waiting for room, and return once Redis acknowledged it.

        :param wait_at_most: seconds (None: as long as it takes).
        :raises RedisWriteError: if Redis refused it, the writer stopped first, or
            ``timeout`` ran out (the error says why Redis did not answer).
        """
        limit = wait_at_most if wait_at_most is not None else float("inf")
        with anyio.move_on_after(limit) as waited:
            while len(self._buffer) >= self.max_pending and self.accepting:
                room = anyio.Event()
                self._room.append(room)
                await room.wait()
            if not self.accepting:
                raise EmitterNotRunningError("RedisStreamsBackend stopped while waiting for room")
            if not await self._write_now(write):
                write.written = anyio.Event()
                self._buffer.append(write)
                self._wake.set()
            if write.written is not None:  # the writer task has it
                await write.written.wait()
        if waited.cancelled_caught:
            raise self._timed_out(write, limit)
        if write.error is not None:
            raise write.error

    async def _write_now(self, write: PendingWrite) -> bool:
        """Send one awaited write from the caller's task when nothing else is on its way
        (no hand-over to the writer task, no pipeline: the common case of ``emit_async``).

        :return: False if it must go through the buffer (busy, or Redis away); True once
            Redis answered (``write.error`` says if it refused), or once Redis failed and
            the write went to the front of the buffer (``write.written`` tells when done).
        """
        # A cluster's writes wait for a replica: they take the batch path, which fences.
        if self._buffer or self._sending or self.outage.ongoing or self.client is None:
            return False
        if self.replicas:
            return False
        self._sending = [write]
        self._direct = done = anyio.Event()  # the writer task waits: emit order holds
        write.attempted = write.unanswered = True
        try:
            reply = await self._xadd([write])
            write.unanswered = False
        except RETRYABLE as exc:
            write.unanswered = False
            waiting = len(self._buffer) + 1
            self.outage.failed(exc, f"; {waiting} event(s) waiting to be written")
            write.written = anyio.Event()
            self._buffer.appendleft(write)  # the writer retries it first, with backoff
            self._wake.set()
            return True
        finally:
            self._sending = []
            self._direct = None
            done.set()
        if isinstance(reply[0], Exception):
            self._refused(write, reply[0])
        return True

    def _timed_out(self, write: PendingWrite, timeout: float) -> RedisWriteError:
        """Withdraw a write emit_async stopped waiting for, and say what became of it."""
        if any(w is write for w in self._confirming):
            fate = "Redis stored it, but no replica confirmed it yet, so a failover may lose it"
        elif write.unanswered or any(w is write for w in self._sending):
            fate = "a write of it was under way, so Redis may still store it"
        else:
            with contextlib.suppress(ValueError):  # settled meanwhile
                self._buffer.remove(write)  # behind the batch in hand, if any
            fate = "it was withdrawn and will not be written" + (
                " again (a failed attempt may have stored it)" if write.attempted else ""
            )
        why = self.outage.cause or "Redis did not answer in time (is it overloaded?)"
        return RedisWriteError(
            f"a {write.event.event_id!r} event was not acknowledged by Redis within "
            f"{timeout}s: {why}; {fate}. Raise the timeout (RedisStreamsBackend(emit_timeout="
            "...)) or fix Redis"
        )

    async def flush(self) -> None:
        """Wait until every write queued so far is written (or has failed)."""
        while (self._buffer or self._confirming) and self.accepting:
            flushed = anyio.Event()
            self._flushed.append(flushed)
            await flushed.wait()

    async def run(self) -> None:
        """Write batches until cancelled; back off and retry while Redis is away."""
        backoff = Backoff()
        while True:
            if self._direct is not None:
                await self._direct.wait()  # an emit_async's own write goes first
                continue
            if not self._buffer:
                _release(self._flushed)
                self._wake = anyio.Event()
                await self._wake.wait()
                continue
            batch = list(islice(self._buffer, _WRITE_BATCH))
            self._sending = batch
            for write in batch:
                write.attempted = True
            try:
                replies = await self._xadd(batch)
                refused, stored = self._settle(batch, replies)
                if stored:
                    self._sending = []
                    await self._confirm(stored)
                if refused is not None:
                    raise refused  # e.g. NOAUTH after a reconnect: an outage, not a refusal
            except RETRYABLE as exc:
                self._sending = []
                self.outage.failed(exc, f"; {len(self._buffer)} event(s) waiting to be written")
                await anyio.sleep(backoff.next_delay())
                continue
            self._sending = []
            self.outage.succeeded(f"; writing {len(self._buffer)} event(s)")
            backoff.reset()
            _release(self._room)

    async def _xadd(self, batch: list[PendingWrite]) -> tuple[Any, ...]:
        """One round trip of ``XADD`` s; each reply is an entry id or the error Redis gave."""
        assert self.client is not None
        if self._held is None or self._held.client is not self.client:
            self._release_held()
            self._held = HeldConnection(self.client)
        if len(batch) == 1:  # one awaited emit: no batch to build
            write = batch[0]
            try:
                arguments = xadd_arguments(write.stream, ENVELOPE_FIELD, write.payload, self.maxlen)
                return (await self._held.send(b"XADD", *arguments),)
            except RETRYABLE:
                raise
            except Exception as exc:  # a refusal of this write alone
                return (exc,)
        maxlen = self.maxlen
        commands = [
            (b"XADD", *xadd_arguments(write.stream, ENVELOPE_FIELD, write.payload, maxlen))
            for write in batch
        ]
        return tuple(await self._held.send_all(commands, atomic=False))

    def _settle(
        self, batch: list[PendingWrite], replies: tuple[Any, ...]
    ) -> tuple[BaseException | None, list[tuple[PendingWrite, bytes]]]:
        """Pop the batch; a write refused for a passing reason goes back to the front.

        :return: the first passing refusal (the caller backs off), or None; and, when
            replicas must confirm, the stored writes with their entry ids (they count as
            written once :meth:`_confirm` says so).
        """
        again: list[PendingWrite] = []
        stored: list[tuple[PendingWrite, bytes]] = []
        passing: BaseException | None = None
        for write, reply in zip(batch, replies, strict=True):
            if not self._buffer or self._buffer[0] is not write:
                return None, []  # close() ran while the batch was in flight and reported it
            self._buffer.popleft()
            if isinstance(reply, RETRYABLE):
                again.append(write)  # e.g. LOADING after a restart: write it again
                passing = passing or reply
            elif isinstance(reply, Exception):
                self._refused(write, reply)
            elif self.replicas:
                stored.append((write, reply))
            elif write.written is not None:
                write.written.set()
        self._buffer.extendleft(reversed(again))
        return passing, stored

    async def _confirm(self, stored: list[tuple[PendingWrite, bytes]]) -> None:
        """Fence each stream of the batch, all at once, until ``replicas`` replicas have
        it; what a failover lost goes back to the front of the buffer, in emit order, to
        be written again (consumers dedupe by CloudEvents id)."""
        streams: dict[str, list[tuple[PendingWrite, bytes]]] = {}
        for write, entry in stored:
            streams.setdefault(write.stream, []).append((write, entry))
        self._confirming = [write for write, _ in stored]
        lost: list[PendingWrite] = []
        async with anyio.create_task_group() as tasks:
            for stream, writes in streams.items():
                tasks.start_soon(self._confirm_stream, stream, writes, lost)
        if lost:
            logger.warning(
                "%d event(s) Redis had acknowledged are gone from %s (a failover lost "
                "them before a replica had them); writing them again",
                len(lost),
                ", ".join(sorted({write.stream for write in lost})),
            )
            order = {id(write): n for n, (write, _) in enumerate(stored)}
            self._buffer.extendleft(sorted(lost, key=lambda w: order[id(w)], reverse=True))

    async def _confirm_stream(
        self, stream: str, writes: list[tuple[PendingWrite, bytes]], lost: list[PendingWrite]
    ) -> None:
        """One stream's fence, again until it answers: confirmed (the emits complete) or
        lost (the writes join ``lost``)."""
        assert self.client is not None
        backoff = Backoff()
        timeout_ms = max(1, int(self.replica_timeout * 1000))
        while True:
            try:
                fence = write_fence_key(stream)
                found = await confirm_written(
                    self.client, stream, fence, writes[-1][1], self.replicas, timeout_ms
                )
                if found is FenceResult.NOT_CONFIRMED:
                    raise NotConfirmedError(stream, self.replicas, timeout_ms)
                break
            except (RedisError, OSError) as exc:  # a refused fence (NOPERM) waits as well
                waiting = f"; {len(self._confirming)} event(s) waiting for confirmation"
                self.outage.failed(exc, waiting)
                # A short WAIT waited already: fence again at once, so the emits complete
                # as soon as a replica is back; other errors back off.
                short = isinstance(exc, NotConfirmedError)
                await anyio.sleep(_REFENCE_PAUSE if short else backoff.next_delay())
        done = {id(write) for write, _ in writes}
        self._confirming = [w for w in self._confirming if id(w) not in done]
        if found is FenceResult.LOST:
            lost.extend(write for write, _ in writes)
            return
        for write, _ in writes:
            if write.written is not None:
                write.written.set()

    def _refused(self, write: PendingWrite, reply: Exception) -> None:
        write.error = RedisWriteError(
            f"Redis refused to write a {write.event.event_id!r} event to {write.stream!r}: "
            f"{describe(reply)}"
        )
        logger.error("%s", write.error)
        self._failed.append(write)
        if write.written is not None:
            write.written.set()

    def close(self, why: str) -> list[PendingWrite]:
        """Stop accepting; fail every write not acknowledged, release all waiters.

        :param why: how the error of an unwritten event explains it.
        :return: the writes Redis refused or never received, in emit order.
        """
        self.accepting = False
        # Stored but unconfirmed writes count as unwritten: a failover may still lose them.
        unwritten = [*self._failed, *self._confirming, *self._buffer]
        self._buffer.clear()
        self._failed = []
        self._confirming = []
        for write in unwritten:
            if write.error is None:
                write.error = RedisWriteError(
                    f"a {write.event.event_id!r} event was not written to {write.stream!r}: {why}"
                )
            if write.written is not None:
                write.written.set()
        _release(self._room)
        _release(self._flushed)
        self._release_held()
        return unwritten

    def _release_held(self) -> None:
        if self._held is not None:
            self._held.release()
            self._held = None


def _release(waiters: list[anyio.Event]) -> None:
    for waiter in waiters:
        waiter.set()
    waiters.clear()
