"""What a stream entry must pass before its listener runs, and what it is refused for.

Part of :mod:`typed_events.backends.redis`. Everything that needs no decoding comes
first: a message that crashes the decoder (or the process) must still be counted out by
Redis's delivery count. Any decoding failure is a poison message, never a crash.
"""

from __future__ import annotations

from typing import NamedTuple

from typed_events.backends.redis._acks import json_fields
from typed_events.backends.redis._connection import describe
from typed_events.backends.redis._dead_letter import ENVELOPE_FIELD
from typed_events.backends.redis._group import StreamMessage, text
from typed_events.envelope import Envelope, EnvelopeError, decode
from typed_events.errors import DeadLetterReason
from typed_events.events import EventRegistry

__all__ = ["Refusal", "screen"]

_ENVELOPE_KEY = ENVELOPE_FIELD.encode()


class Refusal(NamedTuple):
    """Why a message goes to the dead-letter stream unrun (in the order
    ``GroupConsumer._dead_letter`` takes them).

    :ivar reason: a :class:`DeadLetterReason` value.
    :ivar detail: what was wrong, for the operator.
    :ivar envelope: what to keep of it (the envelope, else the entry's fields as JSON).
    :ivar envelope_id: its CloudEvents id, when it could be read.
    :ivar event_type: its CloudEvents type, when it could be read.
    """

    reason: str
    detail: str
    envelope: bytes
    envelope_id: str | None = None
    event_type: str | None = None


def screen(
    message: StreamMessage,
    registry: EventRegistry,
    *,
    event_id: str,
    max_deliveries: int,
    max_bytes: int,
) -> Envelope | Refusal:
    """The message's decoded envelope, or why it is refused."""
    raw = message.fields.get(_ENVELOPE_KEY)
    if message.attempt > max_deliveries:
        return Refusal(
            DeadLetterReason.TOO_MANY_DELIVERIES,
            f"delivered {message.attempt} times, never acknowledged (the consumers "
            f"crashed or were killed while handling it); the limit is {max_deliveries}",
            raw if raw is not None else json_fields(message.fields),
        )
    if raw is None:
        found = sorted(text(k) for k in message.fields)
        return Refusal(
            DeadLetterReason.BAD_ENVELOPE,
            f"stream entry has no {ENVELOPE_FIELD!r} field (fields: {', '.join(found) or 'none'})",
            json_fields(message.fields),
        )
    try:
        return decode(raw, registry, max_bytes=max_bytes, expected_type=event_id)
    except EnvelopeError as exc:
        return Refusal(exc.reason, exc.detail, raw, exc.envelope_id, exc.event_type)
    except Exception as exc:  # any decoding failure is a poison message, never a crash
        return Refusal(DeadLetterReason.UNDECODABLE, f"decoding raised {describe(exc)}", raw)
