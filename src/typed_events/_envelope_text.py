"""The per-event text of an envelope header, made cheaply: ids, times and JSON strings.

:func:`typed_events.envelope.encode` runs once per emitted event, so what it spends on
each attribute shows in a producer's throughput. Each function here writes exactly the
text the straightforward form writes (``str(uuid.uuid4())``, ``strftime`` of
``datetime.now(UTC)``, ``json.dumps(value, ensure_ascii=False)``) for less.
"""

from __future__ import annotations

import json
import os
import time
from datetime import UTC, datetime

__all__ = ["format_time", "json_text", "new_id", "now_text"]

_IDS_PER_DRAW = 256  # one os.urandom call makes this many ids
_VARIANT = {digit: "89ab"[int(digit, 16) & 3] for digit in "0123456789abcdef"}
_ids: list[str] = []  # drawn, not yet handed out; list.pop is atomic, so threads share it


def new_id() -> str:
    """A random UUID (version 4) in its canonical text form, like ``str(uuid.uuid4())``.

    The randomness comes from ``os.urandom`` as uuid4's does, drawn for 256 ids at once.
    """
    try:
        return _ids.pop()
    except IndexError:
        return _draw()


def _draw() -> str:
    digits = os.urandom(16 * _IDS_PER_DRAW).hex()
    drawn = [
        # 122 random bits: the version nibble is 4, the variant's two bits are 10.
        f"{h[:8]}-{h[8:12]}-4{h[13:16]}-{_VARIANT[h[16]]}{h[17:20]}-{h[20:]}"
        for h in (digits[i : i + 32] for i in range(0, len(digits), 32))
    ]
    mine = drawn.pop()
    _ids.extend(drawn)
    return mine


# A child process must not hand out the ids its parent drew (both would use them).
os.register_at_fork(after_in_child=_ids.clear)

_second: tuple[int, str] = (-1, "")  # the last whole second formatted, and its text


def now_text() -> str:
    """The current UTC time as an envelope writes it: ``2026-01-01T12:00:00.000000Z``.

    Exactly ``datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")`` (microseconds
    truncated, as ``datetime.now`` does), with the seconds formatted once per second.
    """
    global _second
    seconds, micros = divmod(time.time_ns() // 1000, 1_000_000)
    second = _second
    if second[0] != seconds:
        second = _second = (seconds, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(seconds)))
    return f"{second[1]}.{micros:06d}Z"


def format_time(moment: datetime) -> str:
    """A timezone-aware time in UTC, as an envelope writes it.

    :raises ValueError: for a naive time.
    """
    if moment.tzinfo is None:
        raise ValueError(f"envelope time must be timezone-aware, got naive {moment!r}")
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


_string = json.encoder.encode_basestring  # what json.dumps(ensure_ascii=False) uses for str


def json_text(value: object) -> str:
    """``json.dumps(value, ensure_ascii=False)``, with strings and integers (nearly all
    values) written directly instead of through a new ``JSONEncoder``."""
    if isinstance(value, str):
        return _string(value)
    if type(value) is int:  # an event's version
        return int.__repr__(value)
    return json.dumps(value, ensure_ascii=False)
