"""The one delivery pipeline: every listener call, on every backend, goes through here.

A call is *started* (inline when the listener does not suspend, awaited otherwise, in a
worker thread for sync callables), *attempted* as often as its ``retries`` allow, each
attempt bounded by its ``timeout`` and wrapped by the bus's middleware, and then
*settled*: counted, and when it finally failed, logged and handed to ``on_error``. The
in-memory worker, the Redis consumer, ``emit_and_wait`` and the pytest plugin compose
these steps; none repeats one. DESIGN section 8 is the contract.

```text
  begin() ──fast path──> start inline ──done──────────────────────────────> settle
     │                        └─suspended──> await ──────────────────────────┘
     └─ retries / timeout / thread / middleware ──> attempt() ──> settle()
                                                    (each attempt: middleware -> call)
  settle(): the only place that counts, logs (extra: event_id, listener, attempt,
            outcome) and calls on_error (bounded by on_error_timeout, off the workers)
```
"""

from typed_events._dispatcher import Dispatcher
from typed_events._outcomes import (
    CallEnd,
    Counters,
    DeliveryStats,
    DispatchResult,
    ErrorHandler,
    ListenerOutcome,
)
from typed_events.listeners import backoff_delay

__all__ = [
    "CallEnd",
    "Counters",
    "DeliveryStats",
    "DispatchResult",
    "Dispatcher",
    "ErrorHandler",
    "ListenerOutcome",
    "backoff_delay",
]
