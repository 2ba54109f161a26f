"""The dead-letter record of the Redis backend: what a consumer writes, and what tools read.

A message that cannot be delivered to a listener (it is not a valid envelope, names an
unknown event, is too large, or the listener kept failing) is written to the stream
``{stream_prefix}dead-letter`` as one entry of string fields, then acknowledged, so the
consumer moves on. ``typed-events dead-letter`` lists, inspects and replays them.

Replaying sends the original envelope back to its stream, unchanged, in an entry whose
field ``replay-for`` names the one consumer group that failed; every other group
acknowledges it unread (before decoding it), so listeners that already handled the
event do not see it twice, and an envelope that still cannot be decoded is
dead-lettered again by that group alone. The marker is a field of the stream entry, not
of the envelope, and a typed-events producer writes only the ``envelope`` field: no
``emit`` can set it. A marker naming a group the stream does not have is refused into
the dead-letter stream (reason ``bad replay``) by one group.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from typed_events.backends.redis._keys import DEAD_LETTER_SUFFIX, dead_letter_key
from typed_events.errors import ReplayError

__all__ = [
    "DEAD_LETTER_SUFFIX",
    "ENVELOPE_FIELD",
    "REPLAY_FIELD",
    "DeadLetter",
    "ReplayError",
    "dead_letter_key",
]

ENVELOPE_FIELD = "envelope"
"""The stream entry field that holds the envelope JSON."""

REPLAY_FIELD = "replay-for"
"""The stream entry field naming the only consumer group a replayed message is for."""

# A dead letter keeps at most this much of an oversized message: enough to see what it
# was, without doubling the memory a too-large message already takes.
KEPT_BYTES_OF_OVERSIZED = 4096


@dataclass(frozen=True)
class DeadLetter:
    """One entry of the dead-letter stream.

    :ivar id: the entry id in the dead-letter stream (empty before it is written).
    :ivar reason: ``too large``, ``bad json``, ``bad envelope``, ``unknown type``,
        ``invalid data``, ``listener failed`` or ``too many deliveries``.
    :ivar detail: the validation error or the listener's exception, in words.
    :ivar stream: the stream the message came from.
    :ivar message_id: its entry id in that stream.
    :ivar group: the consumer group (``{service}:{listener}``) that gave up on it.
    :ivar listener: the listener's qualified name.
    :ivar consumer: the consumer (host:pid:suffix) that wrote the dead letter.
    :ivar attempts: how many times Redis delivered it to that group.
    :ivar envelope_id: the CloudEvents id, when it could be read.
    :ivar event_type: the CloudEvents type (event id), when it could be read.
    :ivar envelope: the message as received (cut to 4 KiB when it was too large).
    :ivar truncated: True when ``envelope`` was cut.
    :ivar time: when the dead letter was written (UTC, ISO 8601).
    """

    reason: str
    detail: str
    stream: str
    message_id: str
    group: str
    listener: str
    consumer: str
    attempts: int
    envelope_id: str
    event_type: str
    envelope: bytes
    truncated: bool = False
    time: str = ""
    id: str = ""

    @classmethod
    def create(
        cls,
        *,
        reason: str,
        detail: str,
        stream: str,
        message_id: str,
        group: str,
        listener: str,
        consumer: str,
        attempts: int,
        envelope: bytes,
        envelope_id: str | None = None,
        event_type: str | None = None,
    ) -> DeadLetter:
        """A new dead letter, stamped now; an oversized envelope is cut to 4 KiB."""
        truncated = reason == "too large" and len(envelope) > KEPT_BYTES_OF_OVERSIZED
        return cls(
            reason=reason,
            detail=detail,
            stream=stream,
            message_id=message_id,
            group=group,
            listener=listener,
            consumer=consumer,
            attempts=attempts,
            envelope_id=envelope_id or "",
            event_type=event_type or "",
            envelope=envelope[:KEPT_BYTES_OF_OVERSIZED] if truncated else envelope,
            truncated=truncated,
            time=datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
        )

    def to_fields(self) -> dict[str, str | bytes]:
        """The stream entry fields (all strings; ``envelope`` as received)."""
        return {
            "reason": self.reason,
            "detail": self.detail,
            "stream": self.stream,
            "message_id": self.message_id,
            "group": self.group,
            "listener": self.listener,
            "consumer": self.consumer,
            "attempts": str(self.attempts),
            "envelope_id": self.envelope_id,
            "event_type": self.event_type,
            ENVELOPE_FIELD: self.envelope,
            "truncated": "1" if self.truncated else "0",
            "time": self.time,
        }

    @classmethod
    def from_entry(cls, entry_id: object, fields: Mapping[Any, Any]) -> DeadLetter:
        """Read a dead-letter stream entry (bytes or str keys and values); missing fields
        read as empty.
        """
        raw = {_as_bytes(k): _as_bytes(v) for k, v in fields.items()}

        def text(name: str) -> str:
            return raw.get(name.encode(), b"").decode("utf-8", "replace")

        attempts = text("attempts")
        return cls(
            reason=text("reason"),
            detail=text("detail"),
            stream=text("stream"),
            message_id=text("message_id"),
            group=text("group"),
            listener=text("listener"),
            consumer=text("consumer"),
            attempts=int(attempts) if attempts.isdigit() else 0,
            envelope_id=text("envelope_id"),
            event_type=text("event_type"),
            envelope=raw.get(ENVELOPE_FIELD.encode(), b""),
            truncated=text("truncated") == "1",
            time=text("time"),
            id=_as_bytes(entry_id).decode("utf-8", "replace"),
        )

    def replay_fields(self) -> dict[str, bytes]:
        """The stream entry to send back to :attr:`stream`, addressed to :attr:`group` only.

        :raises ReplayError: if the envelope was cut, or is not a JSON object.
        """
        if self.truncated:
            raise ReplayError(
                f"dead letter {self.id} keeps only the first {len(self.envelope)} bytes of "
                "a too-large message; it cannot be replayed"
            )
        try:
            obj = json.loads(self.envelope)
        except (ValueError, UnicodeDecodeError, RecursionError):
            obj = None
        if not isinstance(obj, dict):
            raise ReplayError(
                f"dead letter {self.id} ({self.reason}) holds no JSON object envelope; "
                "replaying it would only dead-letter it again"
            )
        if not self.group:
            raise ReplayError(f"dead letter {self.id} names no consumer group to replay to")
        return {ENVELOPE_FIELD: self.envelope, REPLAY_FIELD: self.group.encode()}


def _as_bytes(value: object) -> bytes:
    if isinstance(value, bytes):
        return value
    return str(value).encode()
