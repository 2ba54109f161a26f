"""Acknowledging each message when its call ends, pipelined: one XACK per round trip."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, Mapping

import anyio.abc

from typed_events.backends.redis._group import text

__all__ = ["AckPipe", "json_fields"]


class AckPipe:
    """Acknowledges each message as soon as its call ends, in as few ``XACK`` s as that allows.

    While one ``XACK`` is on its way, the messages that finish meanwhile wait for the
    next, which takes all of them: a slow message holds back no other, and a busy
    consumer still sends one ``XACK`` per round trip, not one per message.

    :param carry: where the acknowledgements go that are still waiting when every call of
        the batch has ended (:meth:`batch_ended`): the consumer's next read sends them in
        its own round trip, instead of a round trip of their own just before it. None:
        they are sent here too.
    """

    def __init__(
        self,
        ack: Callable[[list[bytes]], Awaitable[None]],
        tasks: anyio.abc.TaskGroup,
        carry: Callable[[list[bytes]], None] | None = None,
    ) -> None:
        self._ack = ack
        self._tasks = tasks
        self._carry = carry
        self._waiting: list[bytes] = []
        self._sending = False
        self._ended = False

    def add(self, message_id: bytes) -> None:
        """Acknowledge ``message_id`` with the next ``XACK``."""
        self._waiting.append(message_id)
        if not self._sending:
            self._sending = True
            self._tasks.start_soon(self._send)

    def batch_ended(self) -> None:
        """Every call of the batch has ended: nothing more is added."""
        self._ended = True

    async def _send(self) -> None:
        try:
            while self._waiting:
                ids, self._waiting = self._waiting, []
                if self._ended and self._carry is not None:
                    self._carry(ids)  # the next read is about to go: ride with it
                    return
                await self._ack(ids)
        finally:
            self._sending = False


def json_fields(fields: Mapping[bytes, bytes]) -> bytes:
    """Stream entry fields as a JSON object (for a dead letter of a malformed entry)."""
    return json.dumps({text(k): text(v) for k, v in fields.items()}).encode()
