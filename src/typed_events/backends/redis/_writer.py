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

from typed_events.backends.redis._client import Client, trim
from typed_events.backends.redis._connection import RETRYABLE, Backoff, OutageWatch
from typed_events.backends.redis._dead_letter import ENVELOPE_FIELD
from typed_events.errors import (
    EmitterNotRunningError,
    RedisWriteError,
    WriteBufferFullError,
)
from typed_events.events import Event

__all__ = ["PendingWrite", "RedisWriteError", "StreamWriter", "WriteBufferFullError"]

logger = logging.getLogger("typed_events")

_WRITE_BATCH = 512  # XADDs per pipeline round trip


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
    """

    def __init__(self, max_pending: int, maxlen: int | None, user: str = "default") -> None:
        self.max_pending = max_pending
        self.maxlen = maxlen
        self.client: Client | None = None
        self.accepting = False
        self.outage = OutageWatch("writer", user)
        self._sending: list[PendingWrite] = []  # the batch Redis may be storing right now
        self._direct: anyio.Event | None = None  # set when an emit_async's own XADD ends
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
        if self._buffer or self._sending or self.outage.ongoing or self.client is None:
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
        if write.unanswered or any(w is write for w in self._sending):
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
        while self._buffer and self.accepting:
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
                refused = self._settle(batch, replies)
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
        """One pipeline of ``XADD`` s; each reply is an entry id or the error Redis gave."""
        assert self.client is not None
        if len(batch) == 1:  # one awaited emit: no pipeline to build
            write = batch[0]
            try:
                return (
                    await self.client.xadd(write.stream, self._fields(write), **trim(self.maxlen)),
                )
            except RETRYABLE:
                raise
            except Exception as exc:  # a refusal of this write alone
                return (exc,)
        async with self.client.pipeline(transaction=False, raise_on_error=False) as pipe:
            for write in batch:
                pipe.xadd(write.stream, self._fields(write), **trim(self.maxlen))
        return pipe.results or ()

    @staticmethod
    def _fields(write: PendingWrite) -> dict[str, bytes]:
        return {ENVELOPE_FIELD: write.payload}

    def _settle(self, batch: list[PendingWrite], replies: tuple[Any, ...]) -> BaseException | None:
        """Pop the batch; a write refused for a passing reason goes back to the front.

        :return: the first passing refusal (the caller backs off), or None.
        """
        again: list[PendingWrite] = []
        passing: BaseException | None = None
        for write, reply in zip(batch, replies, strict=True):
            if not self._buffer or self._buffer[0] is not write:
                return None  # close() ran while the batch was in flight and reported it
            self._buffer.popleft()
            if isinstance(reply, RETRYABLE):
                again.append(write)  # e.g. LOADING after a restart: write it again
                passing = passing or reply
            elif isinstance(reply, Exception):
                self._refused(write, reply)
            elif write.written is not None:
                write.written.set()
        self._buffer.extendleft(reversed(again))
        return passing

    def _refused(self, write: PendingWrite, reply: Exception) -> None:
        write.error = RedisWriteError(
            f"Redis refused to write a {write.event.event_id!r} event to {write.stream!r}: {reply}"
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
        unwritten = [*self._failed, *self._buffer]
        self._buffer.clear()
        self._failed = []
        for write in unwritten:
            if write.error is None:
                write.error = RedisWriteError(
                    f"a {write.event.event_id!r} event was not written to {write.stream!r}: {why}"
                )
            if write.written is not None:
                write.written.set()
        _release(self._room)
        _release(self._flushed)
        return unwritten


def _release(waiters: list[anyio.Event]) -> None:
    for waiter in waiters:
        waiter.set()
    waiters.clear()
