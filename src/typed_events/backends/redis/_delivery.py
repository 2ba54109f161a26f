"""The delivery a listener runs for, so it can deduplicate on the CloudEvents id.

Users import these from :mod:`typed_events.backends.redis`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

__all__ = ["Delivery", "current_delivery", "delivery_context"]


@dataclass(frozen=True)
class Delivery:
    """The Redis delivery a listener is running for; see :func:`current_delivery`.

    :ivar id: the CloudEvents id of the event: the same on every redelivery and replay
        of one emitted event, so it is the key to deduplicate on.
    :ivar source: the CloudEvents source (``/typed-events/{emitting service}``).
    :ivar time: when the event was emitted.
    :ivar stream: the Redis stream it came from.
    :ivar message_id: its entry id in the stream (a write retried after a lost reply
        can store one event twice, under two entry ids and one ``id``).
    :ivar group: the consumer group, ``{service}:{listener qualified name}``.
    :ivar consumer: this process's consumer name.
    :ivar attempt: 1 for the first delivery to the group, then 2, 3, ...
    :ivar extensions: the envelope's CloudEvents extension attributes (``traceparent``
        and ``tracestate`` when the emitter traced it), by name.
    :ivar partition: the partition of :attr:`stream` for an event with ``partition_key=``
        (``stream`` is ``{prefix}{event_id}:{partition}``); None for an event without one,
        whose one stream is ``{prefix}{event_id}``.
    """

    id: str
    source: str
    time: datetime | None
    stream: str
    message_id: str
    group: str
    consumer: str
    attempt: int
    extensions: Mapping[str, Any] = field(default_factory=dict[str, Any])
    partition: int | None = None


# A Delivery, or what builds it: most listeners never ask, so the consumer does not build
# one per message (a frozen dataclass of ten fields costs about a microsecond).
_current: contextvars.ContextVar[Delivery | Callable[[], Delivery] | None] = contextvars.ContextVar(
    "typed_events_redis_delivery", default=None
)


def current_delivery() -> Delivery | None:
    """The delivery the calling listener runs for, or None outside a Redis delivery.

    Works in async and sync listeners (the context is carried into the worker thread).
    """
    found = _current.get()
    if found is None or isinstance(found, Delivery):
        return found
    delivery = found()
    _current.set(delivery)  # in the call's own context: built once per call
    return delivery


def delivery_context(delivery: Delivery | Callable[[], Delivery]) -> contextvars.Context:
    """A copy of the current context in which :func:`current_delivery` returns ``delivery``
    (or what ``delivery()`` returns, built when first asked for)."""
    context = contextvars.copy_context()
    context.run(_current.set, delivery)
    return context
