"""Calling listeners: contextvars, retries with backoff, timeouts, and error reporting.

Every backend delivers through a :class:`Dispatcher`, so a listener behaves the same
whichever backend runs it.
"""

from __future__ import annotations

import contextvars
import functools
import inspect
import logging
from collections.abc import Awaitable, Callable, Generator
from dataclasses import dataclass, field
from typing import Any

import anyio

from .events import Event
from .listeners import Listener
from .routing import Routing, Subscription

__all__ = ["DispatchResult", "Dispatcher", "ErrorHandler", "ListenerOutcome"]

logger = logging.getLogger("typed_events")

ErrorHandler = Callable[[Event, Listener[..., Any], BaseException], Awaitable[None] | None]
"""``on_error(event, listener, exception)``: sync or async."""


@dataclass(frozen=True)
class ListenerOutcome:
    """What one listener did with one event: its return value or its exception."""

    listener: Listener[..., Any]
    result: Any = None
    exception: BaseException | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """True if the listener returned without raising."""
        return self.exception is None


@dataclass(frozen=True)
class DispatchResult:
    """The outcome of every listener for one event, in registration order."""

    event: Event
    outcomes: list[ListenerOutcome] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """True if every listener succeeded (also when there were none)."""
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def exceptions(self) -> list[BaseException]:
        """The exceptions of the listeners that failed."""
        return [o.exception for o in self.outcomes if o.exception is not None]


class Dispatcher:
    """Delivers events to the listeners a :class:`Routing` names.

    Backends call :meth:`deliver` for one listener or :meth:`dispatch` for all of them.
    """

    def __init__(self, routing: Routing, on_error: ErrorHandler | None = None) -> None:
        self.routing = routing
        self.on_error = on_error
        self.failed_calls = 0

    async def deliver(
        self, subscription: Subscription, event: Event, context: contextvars.Context | None = None
    ) -> ListenerOutcome:
        """Call one listener with ``event``, with its retries and timeout.

        Never raises for the listener's exception: it is logged, passed to
        ``on_error`` and returned in the outcome. Cancellation still propagates.
        """
        subscriber = subscription.listener
        options = subscriber.options
        attempt = 1
        while True:
            try:
                if options.timeout is None:
                    result = await self._call(subscription, event, context)
                else:
                    with anyio.fail_after(options.timeout):
                        result = await self._call(subscription, event, context)
                return ListenerOutcome(subscriber, result, None, attempt)
            except Exception as exc:  # isolating listener failures is the point
                if attempt <= options.retries:
                    logger.info(
                        "listener %s failed on event %r (attempt %d of %d), retrying: %r",
                        subscriber.name,
                        event.event_id,
                        attempt,
                        options.retries + 1,
                        exc,
                    )
                    await anyio.sleep(options.backoff_before(attempt))
                    attempt += 1
                    continue
                await self.report_failure(event, subscriber, exc)
                return ListenerOutcome(subscriber, None, exc, attempt)

    def _call(
        self, subscription: Subscription, event: Event, context: contextvars.Context | None
    ) -> Awaitable[Any]:
        run = (context or contextvars.copy_context()).copy().run
        if subscription.listener.is_async:
            return _InContext(run, subscription.call, event)
        # abandon_on_cancel: a hung sync listener must not hold up timeouts or shutdown;
        # its thread finishes on its own.
        return anyio.to_thread.run_sync(
            functools.partial(run, subscription.call, event), abandon_on_cancel=True
        )

    async def dispatch(
        self, event: Event, context: contextvars.Context | None = None
    ) -> DispatchResult:
        """Run every listener of ``event`` concurrently and wait for all of them.

        Listener i begins before listener i+1 begins, on every backend.
        """
        subscriptions = self.routing.subscriptions(event.event_id)
        outcomes: list[ListenerOutcome | None] = [None] * len(subscriptions)
        if context is None:
            context = contextvars.copy_context()

        async def run_one(
            index: int, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
        ) -> None:
            # started() does not yield: the listener begins before the next is started.
            task_status.started()
            outcomes[index] = await self.deliver(subscriptions[index], event, context)

        async with anyio.create_task_group() as group:
            for index in range(len(subscriptions)):
                await group.start(run_one, index)
        return DispatchResult(event, [o for o in outcomes if o is not None])

    async def report_failure(
        self, event: Event, subscriber: Listener[..., Any], exc: BaseException
    ) -> None:
        """Log a call that finally failed and hand it to ``on_error``."""
        self.failed_calls += 1
        logger.error(
            "listener %s (%s) failed on event %r: %r",
            subscriber.name,
            subscriber.location,
            event.event_id,
            exc,
            exc_info=exc,
        )
        if self.on_error is None:
            return
        try:
            outcome = self.on_error(event, subscriber, exc)
            if inspect.isawaitable(outcome):
                await outcome
        except Exception:
            logger.exception(
                "on_error handler %r raised while handling a failure of listener %s on event %r",
                self.on_error,
                subscriber.name,
                event.event_id,
            )


class _InContext:
    """Await ``call(event)`` with every step of the coroutine run inside a context.

    This is how the emitter's contextvars reach a listener that runs in a pooled
    worker task, without a task per call.
    """

    __slots__ = ("_call", "_event", "_run")

    def __init__(self, run: Callable[..., Any], call: Callable[[Event], Any], event: Event) -> None:
        self._run = run
        self._call = call
        self._event = event

    def __await__(self) -> Generator[Any, Any, Any]:
        run = self._run
        coroutine = run(self._call, self._event)
        if not inspect.isawaitable(coroutine):
            return coroutine  # an async-looking callable that returned a plain value
        if not inspect.iscoroutine(coroutine):
            coroutine = _as_coroutine(coroutine)
        send, throw = coroutine.send, coroutine.throw
        value: Any = None
        error: BaseException | None = None
        while True:
            try:
                yielded = run(send, value) if error is None else run(throw, error)
            except StopIteration as stop:
                return stop.value
            try:
                value, error = (yield yielded), None
            except GeneratorExit:
                run(coroutine.close)
                raise
            except BaseException as exc:  # cancellation included: the listener must see it
                value, error = None, exc


async def _as_coroutine(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
