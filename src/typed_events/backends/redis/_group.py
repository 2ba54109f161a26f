"""One consumer's commands on one consumer group of a stream, with their replies typed.

Part of :mod:`typed_events.backends.redis`. The client's replies are typed for a client
that may decode (``str`` or ``bytes``); the backend's does not, so this module reads each
reply, once, as the bytes it is; the delivery policy in
:mod:`typed_events.backends.redis._consumer` sees only :class:`StreamMessage`.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

from coredis import exceptions as errors
from coredis.response.types import StreamEntry, StreamPendingExt
from coredis.typing import Key

from typed_events.backends.redis._client import Client, HeldConnection, raw_reply

logger = logging.getLogger("typed_events")

__all__ = ["text", "AutoClaimed", "Entry", "GroupCommands", "StreamMessage", "Trimmed"]

Entry = tuple[bytes, Mapping[bytes, bytes]]
"""A stream entry: its id and its fields."""


@dataclass
class StreamMessage:
    """A stream entry fetched for this consumer.

    :ivar id: its entry id.
    :ivar fields: its fields.
    :ivar attempt: Redis's delivery count of it for this group (1: first delivery).
    """

    id: bytes
    fields: Mapping[bytes, bytes]
    attempt: int


@dataclass(frozen=True)
class AutoClaimed:
    """What one ``XAUTOCLAIM`` took over.

    :ivar entries: the idle pending entries, now this consumer's.
    :ivar deleted: ids that were pending for the group but are no longer in the stream.
    """

    entries: list[Entry]
    deleted: list[bytes]


@dataclass(frozen=True)
class Trimmed:
    """Entries the group had not read yet when ``maxlen`` trimming removed them.

    :ivar count: how many.
    :ivar after: the last entry id the group had read before them.
    :ivar before: the first entry id after them that it read (empty if none yet).
    """

    count: int
    after: str
    before: str

    def report(self, stream: str, group: str) -> None:
        """Log the loss, as an error naming the stream, the group and the id range."""
        before = f"before {self.before}" if self.before else "up to the stream's start"
        logger.error(
            "%d message(s) of %s were trimmed (XADD MAXLEN) before consumer group %s read "
            "them: ids after %s and %s; they are lost for this group. Raise the "
            "producers' maxlen, or add consumers",
            self.count,
            stream,
            group,
            self.after,
            before,
            extra={"stream": stream, "group": group, "trimmed": self.count},
        )


@dataclass
class GroupCommands:
    """The Redis commands one consumer sends about one consumer group of one stream.

    :ivar client: a client that does not decode responses.
    :ivar stream: the stream key.
    :ivar group: the consumer group.
    :ivar consumer: this process's consumer name in the group.
    :ivar reads: the connection its reads without waiting go through (one per backend,
        shared by its consumers; None: one of its own).
    """

    client: Client
    stream: str
    group: str
    consumer: str
    reads: HeldConnection | None = None  # shared by a backend's consumers (None: its own)
    _claim_cursor: bytes = b"0-0"  # where the next XAUTOCLAIM scan starts
    _atomic: bool = True  # read_now in MULTI/EXEC (False: the ACL user may not)
    _counts_lag: bool = True  # False: Redis < 7, XINFO GROUPS has no lag
    _reads: HeldConnection = field(init=False)

    def __post_init__(self) -> None:
        self._reads = self.reads or HeldConnection(self.client)

    async def create(self) -> None:
        """Create the group (and the stream) if missing; a new group reads the retained stream.

        :raises coredis.exceptions.RedisError: for any refusal but "the group exists".
        """
        # BUSYGROUP: another consumer (or an earlier run) made it.
        with contextlib.suppress(errors.StreamDuplicateConsumerGroupError):
            await self.client.xgroup_create(self.stream, self.group, "0", mkstream=True)
        await self._check_transactions()

    async def _check_transactions(self) -> None:
        """Find out once whether the ACL user may run MULTI/EXEC (:meth:`read_now` uses it).

        Asked with a transaction that reads nothing, so a refusal costs no message.
        """
        if not self._atomic:
            return
        try:
            async with self.client.pipeline(transaction=True) as pipe:
                pipe.xlen(self.stream)
        except errors.AuthorizationError as exc:  # NOPERM for MULTI
            self._atomic = False
            logger.warning(
                "consumer group %s: the ACL user may not run MULTI/EXEC, so messages "
                "trimmed before they were read are reported approximately; grant "
                "+multi +exec for exact reports (%s)",
                self.group,
                exc,
            )
        except errors.ResponseError as exc:  # the queued commands ran unqueued
            if "multi" not in str(exc).lower() and "abnormal" not in str(exc).lower():
                raise
            self._atomic = False

    async def read(self, count: int, block_ms: int) -> list[StreamMessage]:
        """``XREADGROUP``: up to ``count`` new messages, waiting up to ``block_ms`` for one.

        New messages are on their first delivery.
        """
        blocking = (b"BLOCK", block_ms)
        reply = await self.client.create_request(
            b"XREADGROUP", *self._read_arguments(count, *blocking), callback=raw_reply
        )
        return _new_messages(reply)

    def _read_arguments(self, count: int, *blocking: bytes | int) -> tuple[Any, ...]:
        """The raw ``XREADGROUP`` arguments for new messages.

        Sent through ``create_request`` with the reply as it came rather than the typed
        ``xreadgroup``: coredis re-checks every typed call and builds a ``StreamEntry``
        per entry, which :func:`_new_messages` does not need (the hot path of a
        consumer). ``Key`` keeps the cluster's routing by slot.
        """
        return (
            b"GROUP",
            self.group,
            self.consumer,
            b"COUNT",
            count,
            *blocking,
            b"STREAMS",
            Key(self.stream),
            b">",
        )

    async def read_now(
        self, count: int, acks: Sequence[bytes] = ()
    ) -> tuple[list[StreamMessage], Trimmed | None]:
        """``XREADGROUP`` without waiting, with a look at what trimming took first; ``acks``
        are acknowledged in the same round trip, before the read.

        One transaction (``MULTI``: ``XINFO GROUPS``, ``XLEN``, ``XREADGROUP``), so the
        group's position is read in the same instant as the entries after it: the group's
        ``lag`` (Redis 7: entries added to the stream and not read by the group, trimmed
        or not) beyond the stream's length is what trimming removed unread. Redis 6
        reports no ``lag``: there, trimming goes undetected.
        """
        # Without +multi +exec (see _check_transactions) the same commands run
        # unatomically: a read by another consumer in between can hide (or double) a report.
        groups, length, reply = await self._read_now(count, acks)
        messages = _new_messages(reply)
        for info in groups:
            if text(info.get("name")) != self.group:
                continue
            if "lag" not in info and self._counts_lag:
                self._counts_lag = False
                logger.warning(
                    "consumer group %s: this Redis (before 7.0) does not count what a group "
                    "has not read, so messages that maxlen trims before they are read go "
                    "unreported; use Redis 7 or later",
                    self.group,
                )
            lag, after = info.get("lag"), text(info.get("last-delivered-id"))
            read = info.get("entries-read")
            # A group that never read anything only finds the stream as it is now.
            if not (isinstance(lag, int) and lag > int(length) and after != "0-0"):
                return messages, None
            trimmed = Trimmed(lag - int(length), after, text(messages[0].id) if messages else "")
            if isinstance(read, int):
                # Redis counts the trimmed entries as never read, for ever after: set the
                # count to what the group has now read or lost, so the next gap is counted
                # alone. (Should another consumer of the group have read further in this
                # instant, this sets the group back to here: it re-reads a few entries.)
                last = messages[-1].id if messages else after
                seen = read + lag - (int(length) - len(messages))
                await self.client.xgroup_setid(self.stream, self.group, last, entriesread=seen)
            return messages, trimmed
        return messages, None

    async def _read_now(
        self, count: int, acks: Sequence[bytes]
    ) -> tuple[list[dict[str, Any]], int, object]:
        # Raw commands in one request batch on the backend's read connection: this runs
        # once per read, and a coredis pipeline costs several times the commands' own CPU.
        key = Key(self.stream)
        commands: list[tuple[Any, ...]] = [(b"XACK", key, self.group, *acks)] if acks else []
        commands += [
            (b"XINFO GROUPS", key),
            (b"XLEN", key),
            (b"XREADGROUP", *self._read_arguments(count)),
        ]
        replies = await self._reads.send_all(commands, atomic=self._atomic)
        for reply in replies:
            if isinstance(reply, BaseException):
                raise reply  # e.g. NOGROUP: the consumer's loop recreates the group
        groups, length, read = replies[-3:]
        return _infos(cast(list[dict[Any, Any]], groups)), int(length), read

    async def group_names(self) -> list[str]:
        """The consumer groups of the stream (``XINFO GROUPS``)."""
        groups = await self.client.xinfo_groups(self.stream)
        return [text(info.get("name")) for info in _infos(groups)]

    async def autoclaim(self, min_idle_ms: int, count: int) -> AutoClaimed:
        """``XAUTOCLAIM``: take over up to ``count`` entries pending for ``min_idle_ms``.

        Each call continues the scan where the last one stopped, so that every pending
        entry is looked at in turn.
        """
        reply = await self.client.xautoclaim(
            self.stream, self.group, self.consumer, min_idle_ms, self._claim_cursor, count=count
        )
        self._claim_cursor = reply[0]
        return _autoclaimed(reply)

    async def claim_first(self, count: int) -> AutoClaimed:
        """``XAUTOCLAIM`` from the start, however idle: the ``count`` oldest entries pending
        for the group, whoever held them, now this consumer's (a partition's new lease
        holder takes over what the last one left, in id order)."""
        return _autoclaimed(
            await self.client.xautoclaim(
                self.stream, self.group, self.consumer, 0, b"0-0", count=count
            )
        )

    async def reclaim(self, message_id: bytes) -> list[StreamMessage]:
        """``XCLAIM`` one message for this consumer, counting one more delivery.

        :return: the message with its new count, or nothing if it is no longer pending.
        """
        # A plain XCLAIM (not JUSTID) makes Redis count one more delivery.
        reply = await self.client.xclaim(self.stream, self.group, self.consumer, 0, [message_id])
        return await self.count_deliveries(_entries(cast(tuple[StreamEntry, ...], reply)))

    async def count_deliveries(self, entries: Sequence[Entry]) -> list[StreamMessage]:
        """Ask Redis (``XPENDING``, one pipeline) how often each entry was delivered."""
        if not entries:
            return []
        async with self.client.pipeline(transaction=False) as pipe:
            for message_id, _ in entries:
                pipe.xpending(self.stream, self.group, message_id, message_id, 1)
        replies = cast(tuple[tuple[StreamPendingExt, ...], ...], pipe.results or ())
        messages: list[StreamMessage] = []
        for (message_id, fields), pending in zip(entries, replies, strict=True):
            count = int(pending[0].delivered) if pending else 1
            messages.append(StreamMessage(message_id, fields, count))
        return messages

    async def touch(self, message_ids: Iterable[bytes]) -> None:
        """Reset the idle time of messages this consumer holds, so nobody takes them over."""
        await self.client.xclaim(
            self.stream,
            self.group,
            self.consumer,
            0,
            list(message_ids),
            justid=True,  # JUSTID: does not count as a delivery
        )

    async def ack(self, message_ids: Sequence[bytes]) -> None:
        """``XACK``: the messages are handled; Redis forgets them for this group."""
        # Raw, like XREADGROUP (see _read_arguments): one per batch or more, on the hot path.
        await self.client.create_request(
            b"XACK", Key(self.stream), self.group, *message_ids, callback=raw_reply
        )


def text(value: object) -> str:
    """A Redis reply value as text (bytes decoded, None as empty)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _autoclaimed(reply: tuple[Any, ...]) -> AutoClaimed:
    claimed = cast(tuple[StreamEntry, ...], reply[1])
    # Redis 7 added the deleted ids as a third element.
    deleted = reply[2] if len(reply) > 2 else ()
    return AutoClaimed(_entries(claimed), list(deleted))


def _new_messages(reply: object) -> list[StreamMessage]:
    """The entries of a raw ``XREADGROUP ... >`` reply, on their first delivery.

    The reply (RESP3) maps each stream to its entries, ``[id, [field, value, ...]]``;
    None when there were none.
    """
    if not reply:
        return []
    messages: list[StreamMessage] = []
    for entries in cast(dict[bytes, list[list[Any]]], reply).values():
        for entry in entries:
            pairs = iter(entry[1] or ())  # (a deleted entry has none; not for ">" reads)
            messages.append(StreamMessage(entry[0], dict(zip(pairs, pairs, strict=False)), 1))
    return messages


def _entries(entries: Iterable[StreamEntry]) -> list[Entry]:
    """Stream entries as ``(id, fields)``, both bytes (the client does not decode)."""
    return [
        (cast(bytes, item.identifier), cast(Mapping[bytes, bytes], item.field_values))
        for item in entries
    ]


def _infos(groups: Iterable[Mapping[Any, Any]]) -> list[dict[str, Any]]:
    """``XINFO GROUPS`` replies with their keys as text (``name``, ``lag``, ...)."""
    return [{text(key): value for key, value in info.items()} for info in groups]
