"""One consumer's commands on one consumer group of a stream, with their replies typed.

Part of :mod:`typed_events.backends.redis`. redis-py types stream replies for every
client at once (``bytes`` or ``str`` keys and values, RESP2 lists or RESP3 maps, fields
``None`` for entries deleted while pending). The backend's client does not decode
responses, so this module reads each reply, once, as the bytes it is; the delivery
policy in :mod:`typed_events.backends.redis._consumer` sees only :class:`StreamMessage`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, cast

import redis.exceptions
from redis.asyncio import Redis

logger = logging.getLogger("typed_events")

__all__ = ["text", "AutoClaimed", "Entry", "GroupCommands", "StreamMessage", "Trimmed"]

Entry = tuple[bytes, dict[bytes, bytes]]
"""A stream entry: its id and its fields."""

# An entry as XREADGROUP, XCLAIM and XAUTOCLAIM return it: fields are None when the
# entry was deleted (trimmed) while it was pending.
_ReplyEntry = tuple[bytes, dict[bytes, bytes] | None]


@dataclass
class StreamMessage:
    """A stream entry fetched for this consumer.

    :ivar id: its entry id.
    :ivar fields: its fields.
    :ivar attempt: Redis's delivery count of it for this group (1: first delivery).
    """

    id: bytes
    fields: dict[bytes, bytes]
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


@dataclass
class GroupCommands:
    """The Redis commands one consumer sends about one consumer group of one stream.

    :ivar client: a client that does not decode responses.
    :ivar stream: the stream key.
    :ivar group: the consumer group.
    :ivar consumer: this process's consumer name in the group.
    """

    client: Redis
    stream: str
    group: str
    consumer: str
    _claim_cursor: bytes = b"0-0"  # where the next XAUTOCLAIM scan starts
    _atomic: bool = True  # read_now in MULTI/EXEC (False: the ACL user may not)
    _counts_lag: bool = True  # False: Redis < 7, XINFO GROUPS has no lag

    async def create(self) -> None:
        """Create the group (and the stream) if missing; a new group reads the retained stream.

        :raises redis.exceptions.ResponseError: for any refusal but "the group exists".
        """
        try:
            await self.client.xgroup_create(self.stream, self.group, id="0", mkstream=True)
        except redis.exceptions.ResponseError as exc:
            if "BUSYGROUP" not in str(exc):
                raise

    async def read(self, count: int, block_ms: int) -> list[StreamMessage]:
        """``XREADGROUP``: up to ``count`` new messages, waiting up to ``block_ms`` for one.

        New messages are on their first delivery.
        """
        reply = await self.client.xreadgroup(
            self.group, self.consumer, {self.stream: ">"}, count=count, block=block_ms
        )
        return [StreamMessage(i, f, 1) for i, f in _read_entries(reply)]

    async def read_now(self, count: int) -> tuple[list[StreamMessage], Trimmed | None]:
        """``XREADGROUP`` without waiting, with a look at what trimming took first.

        One transaction (``MULTI``: ``XINFO GROUPS``, ``XLEN``, ``XREADGROUP``), so the
        group's position is read in the same instant as the entries after it: the group's
        ``lag`` (Redis 7: entries added to the stream and not read by the group, trimmed
        or not) beyond the stream's length is what trimming removed unread. Redis 6
        reports no ``lag``: there, trimming goes undetected.
        """
        try:
            groups, length, reply = await self._read_now(count)
        except redis.exceptions.NoPermissionError as exc:
            if not self._atomic or "multi" not in str(exc).lower():
                raise
            # An ACL user without +multi +exec: the same commands, not atomically, so
            # a read by another consumer in between can hide (or double) a report.
            self._atomic = False
            logger.warning(
                "consumer group %s: the ACL user may not run MULTI/EXEC, so messages "
                "trimmed before they were read are reported approximately; grant "
                "+multi +exec for exact reports (%s)",
                self.group,
                exc,
            )
            groups, length, reply = await self._read_now(count)
        messages = [StreamMessage(i, f, 1) for i, f in _read_entries(reply)]
        for info in cast(list[dict[str, object]], groups):
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
                await self.client.xgroup_setid(self.stream, self.group, last, entries_read=seen)
            return messages, trimmed
        return messages, None

    async def _read_now(self, count: int) -> list[Any]:
        pipe = self.client.pipeline(transaction=self._atomic)
        pipe.xinfo_groups(self.stream)
        pipe.xlen(self.stream)
        pipe.xreadgroup(self.group, self.consumer, {self.stream: ">"}, count=count)
        return await pipe.execute()

    async def group_names(self) -> list[str]:
        """The consumer groups of the stream (``XINFO GROUPS``)."""
        groups = await self.client.xinfo_groups(self.stream)
        return [text(info.get("name")) for info in cast(list[dict[str, object]], groups)]

    async def autoclaim(self, min_idle_ms: int, count: int) -> AutoClaimed:
        """``XAUTOCLAIM``: take over up to ``count`` entries pending for ``min_idle_ms``.

        Each call continues the scan where the last one stopped, so that every pending
        entry is looked at in turn.
        """
        reply = await self.client.xautoclaim(
            self.stream,
            self.group,
            self.consumer,
            min_idle_ms,
            start_id=self._claim_cursor,
            count=count,
        )
        self._claim_cursor = reply[0]
        claimed: list[_ReplyEntry] = reply[1]
        # Redis 7 added the deleted ids as a third element.
        deleted: list[bytes] = reply[2] if len(reply) > 2 else []
        return AutoClaimed(_present(claimed), deleted)

    async def reclaim(self, message_id: bytes) -> list[StreamMessage]:
        """``XCLAIM`` one message for this consumer, counting one more delivery.

        :return: the message with its new count, or nothing if it is no longer pending.
        """
        # A plain XCLAIM (not JUSTID) makes Redis count one more delivery.
        reply = await self.client.xclaim(self.stream, self.group, self.consumer, 0, [message_id])
        return await self.count_deliveries(_present(cast(list[_ReplyEntry], reply)))

    async def count_deliveries(self, entries: Sequence[Entry]) -> list[StreamMessage]:
        """Ask Redis (``XPENDING``, one pipeline) how often each entry was delivered."""
        if not entries:
            return []
        pipe = self.client.pipeline(transaction=False)
        for message_id, _ in entries:
            pipe.xpending_range(self.stream, self.group, message_id, message_id, 1)
        replies: list[list[dict[str, bytes | str | int]]] = await pipe.execute()
        messages: list[StreamMessage] = []
        for (message_id, fields), pending in zip(entries, replies, strict=True):
            count = int(pending[0]["times_delivered"]) if pending else 1
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
        await self.client.xack(self.stream, self.group, *message_ids)


def text(value: object) -> str:
    """A Redis reply value as text (bytes decoded, None as empty)."""
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    return "" if value is None else str(value)


def _read_entries(reply: object) -> list[Entry]:
    """The entries of an XREADGROUP reply: RESP2 ``[[stream, entries]]``, RESP3 a map."""
    if not reply:
        return []
    streams: Iterable[list[_ReplyEntry]]
    if isinstance(reply, dict):
        streams = cast(dict[bytes, list[_ReplyEntry]], reply).values()
    else:
        streams = (s[1] for s in cast(list[tuple[bytes, list[_ReplyEntry]]], reply))
    return [entry for entries in streams for entry in _present(entries)]


def _present(entries: Iterable[_ReplyEntry]) -> list[Entry]:
    """The entries still in the stream (fields None: deleted while pending)."""
    return [(item[0], item[1]) for item in entries if item[1] is not None]
