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
exception passes through it); raising there fails that attempt like the listener
raising. ``on_emit`` runs synchronously in the emitter's context when an event has been
validated; raising there raises to the code that emitted.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any, Protocol

from typed_events.events import Event

if TYPE_CHECKING:
    from typed_events.listeners import Listener

__all__ = ["CallNext", "EmitNext", "Middleware", "overrides", "wrap_calls"]

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


class _Target(Protocol):
    """What a wrapped call targets: a listener's prepared subscription."""

    listener: Listener[..., Any]


def wrap_calls(
    middleware: list[Middleware],
    invoke: Callable[[Any, Event, Any], Awaitable[Any]],
) -> Callable[[Event, Any, Any], Awaitable[Any]]:
    """Wrap ``invoke(target, event, context)`` in every ``on_call``, the first outermost."""

    def call(event: Event, target: _Target, context: Any) -> Awaitable[Any]:
        def step(index: int) -> CallNext:
            if index == len(middleware):
                return lambda e, _listener: invoke(target, e, context)
            hook, following = middleware[index].on_call, step(index + 1)
            return lambda e, listener: hook(e, listener, following)

        return step(0)(event, target.listener)

    return call
