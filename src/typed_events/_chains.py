"""A listener's call wrapped in the bus's ``on_call`` middleware, and how a call is run.

The whole chain runs inside the call's context (a copy of the emitter's), like the
listener: a hook sees the emitter's contextvars (a tenant id, the current span), and what
it sets around ``call_next`` (its own span) is what the listener sees.
"""

from __future__ import annotations

import contextvars
import inspect
from collections.abc import Awaitable, Callable
from typing import Any

from typed_events._calls import ResumeInContext, call_in_thread, start_in_context
from typed_events._routing import Subscription
from typed_events.events import Event
from typed_events.listeners import Listener
from typed_events.middleware import CallNext, Middleware

__all__ = ["Call", "call_in", "compose", "started_in"]

Run = Callable[..., Any]  # Context.run of the context a call runs in
Call = Callable[[Event], Any]  # a listener's call, maybe wrapped in middleware


async def call_in(run: Run, subscription: Subscription, event: Event) -> Any:
    """Call the listener with every step inside ``run``'s context; sync ones in a thread."""
    if not subscription.is_async:
        return await call_in_thread(run, subscription.call, event)
    return await started_in(run, subscription.call, event)


async def started_in(run: Run, call: Call, event: Event) -> Any:
    """Start ``call(event)`` inside ``run``'s context and drive it to the end there."""
    started = start_in_context(run, call, event)
    return await started if type(started) is ResumeInContext else started


async def _call_here(subscription: Subscription, event: Event) -> Any:
    """Call the listener in the current context (the innermost step of the middleware)."""
    if not subscription.is_async:
        return await call_in_thread(contextvars.copy_context().run, subscription.call, event)
    result = subscription.call(event)
    return await result if inspect.isawaitable(result) else result


def compose(middleware: list[Middleware], subscription: Subscription) -> Call:
    """The listener's call wrapped in every ``on_call``, the first middleware outermost."""

    def innermost(event: Event, _listener: Listener[..., Any]) -> Awaitable[Any]:
        return _call_here(subscription, event)

    step: CallNext = innermost
    for item in reversed(middleware):
        step = _wrap(item.on_call, step)
    chain, listener = step, subscription.listener
    return lambda event: chain(event, listener)


def _wrap(
    hook: Callable[[Event, Listener[..., Any], CallNext], Awaitable[Any]], following: CallNext
) -> CallNext:
    return lambda event, listener: hook(event, listener, following)
