"""Middleware: code that runs around every emit and every listener call, on every backend.

```python
class Timing(Middleware):
    async def on_call(self, event, listener, call_next):
        started = time.perf_counter()
        try:
            return await call_next(event, listener)
        finally:
            log.info("%s took %.3fs", listener.name, time.perf_counter() - started)

bus = EventBus(listeners=[...], middleware=[Timing()])
```

The first middleware in the list is the outermost. ``on_call`` wraps each *attempt*
(retries happen outside it, so it sees every attempt and each failed attempt's
exception passes through it; :func:`current_attempt` says which one); raising there
fails that attempt like the listener raising. It runs in the listener's context: a copy
of the emitter's, so it reads the emitter's contextvars, and what it sets around
``call_next`` is what the listener sees.

``on_emit`` runs synchronously in the emitter's context when an event has been
validated; raising there raises to the code that emitted, and not calling ``call_next``
holds the event back. The innermost ``call_next`` starts the backend's emit, so what a
hook sets around it (a span, say) is in the context the listeners get, for ``emit``,
``emit_async`` and ``emit_and_wait`` alike; the part of ``emit_async`` that waits (for
room, or for Redis to acknowledge) goes on after the hooks have returned.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

from typed_events._calls import current_attempt
from typed_events.events import Event

if TYPE_CHECKING:
    from typed_events.listeners import Listener

__all__ = ["CallNext", "EmitNext", "Middleware", "current_attempt", "overrides"]

EmitNext = Callable[[Event], None]
"""``call_next(event)`` in :meth:`Middleware.on_emit`: hands the event on."""

CallNext = Callable[[Event, "Listener[..., Any]"], Awaitable[Any]]
"""``await call_next(event, listener)`` in :meth:`Middleware.on_call`: runs the attempt."""


class Middleware:
    """Base class of bus middleware; override either hook, or both."""

    def on_emit(self, event: Event, call_next: EmitNext) -> None:
        """Called for every validated emit, in the emitter's context; call ``call_next``."""
        call_next(event)

    async def on_call(self, event: Event, listener: Listener[..., Any], call_next: CallNext) -> Any:
        """Called around every listener call attempt; ``return await call_next(...)``."""
        return await call_next(event, listener)


def overrides(middleware: Middleware, hook: str) -> bool:
    """True if ``middleware``'s class overrides ``hook`` (so the chain needs to call it)."""
    return getattr(type(middleware), hook) is not getattr(Middleware, hook)
