"""Redis Streams backend: the same listeners across many processes, nothing lost.

```python
from typed_events.backends.redis import RedisStreamsBackend

bus = EventBus(listeners=[...], backend=RedisStreamsBackend(url, service="billing"))
```

Each event id has a stream ``{stream_prefix}{event_id}`` holding CloudEvents JSON
envelopes (:mod:`typed_events.envelope`); each listener is a consumer group
``{service}:{listener qualified name}``, so N replicas of a service handle each event
once per listener. An event with ``partition_key=`` is written to one of
``partitions=N`` streams ``{stream_prefix}{event_id}:{p}`` by its key, and an
``ordered=True`` listener of it holds each partition in one process at a time, so one
key's events are handled in emit order across processes. Delivery is at least once;
:func:`current_delivery` gives a listener the event's CloudEvents ``id`` to deduplicate
on. Needs the ``redis`` extra (``pip install 'typed-events[redis]'``); runs on asyncio
and trio (the client is coredis).
"""

from typed_events.backends.redis._backend import RedisStreamsBackend
from typed_events.backends.redis._backlog import Backlog, GroupBacklog
from typed_events.backends.redis._delivery import Delivery, current_delivery
from typed_events.errors import (
    DeadLetterReason,
    EnvelopeError,
    RedisUnavailableError,
    RedisWriteError,
    ReplayError,
    WriteBufferFullError,
)

__all__ = [
    "Backlog",
    "DeadLetterReason",
    "Delivery",
    "EnvelopeError",
    "GroupBacklog",
    "RedisStreamsBackend",
    "RedisUnavailableError",
    "RedisWriteError",
    "ReplayError",
    "WriteBufferFullError",
    "current_delivery",
]
