"""Calling listeners: contextvars, retries with backoff, timeouts, and error reporting.

Every backend delivers through a :class:`Dispatcher`, so a listener behaves the same
whichever backend runs it.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from dataclasses import dataclass, field
from typing import Any, cast

import anyio

from typed_events._routing import Routing, Subscription
from typed_events.events import Event
from typed_events.listeners import Listener

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
    outcomes: list[ListenerOutcome] = field(default_factory=list["ListenerOutcome"])

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
        result, exception, attempts = await self.attempt(subscription, event, context)
        return ListenerOutcome(subscription.listener, result, exception, attempts)

    async def attempt(
        self, subscription: Subscription, event: Event, context: contextvars.Context | None = None
    ) -> tuple[Any, Exception | None, int]:
        """:meth:`deliver` without building an outcome: ``(result, exception, attempts)``.

        For backends that only need to know whether the call succeeded.
        """
        options = subscription.listener.options
        attempt = 1
        while True:
            try:
                if options.timeout is None:
                    return await self._call(subscription, event, context), None, attempt
                with anyio.fail_after(options.timeout):
                    return await self._call(subscription, event, context), None, attempt
            except Exception as exc:  # isolating listener failures is the point
                if attempt <= options.retries:
                    logger.info(
                        "listener %s failed on event %r (attempt %d of %d), retrying: %r",
                        subscription.listener.name,
                        event.event_id,
                        attempt,
                        options.retries + 1,
                        exc,
                    )
                    await anyio.sleep(options.backoff_before(attempt))
                    attempt += 1
                    continue
                await self.report_failure(event, subscription.listener, exc)
                return None, exc, attempt

    @staticmethod
    async def _call(
        subscription: Subscription, event: Event, context: contextvars.Context | None
    ) -> Any:
        # Each call gets its own copy of the emitter's context: listeners see the
        # emitter's contextvars, and what one listener sets does not leak to another.
        run = (context or contextvars.copy_context()).copy().run
        call = subscription.call
        if not subscription.is_async:
            # abandon_on_cancel: a hung sync listener must not hold up timeouts or
            # shutdown; its thread finishes on its own.
            return await anyio.to_thread.run_sync(lambda: run(call, event), abandon_on_cancel=True)
        started = start_in_context(run, call, event)
        return await started if type(started) is ResumeInContext else started

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


def start_in_context(run: Callable[..., Any], call: Callable[[Event], Any], event: Event) -> Any:
    """Start an async listener call inside a context, without a coroutine frame of its own.

    Returns the listener's result when its first step finished the call (the common,
    cheap case), else a :class:`ResumeInContext` for the caller to await. ``run`` is
    ``context.run`` of the context the call must see.
    """
    result: Any = run(call, event)
    if type(result) is not types.CoroutineType:
        if not inspect.isawaitable(result):
            return result  # an "async" callable that returned a plain value
        result = _awaiting(result)  # a future or other awaitable: drive it the same way
    coroutine = cast("Coroutine[Any, Any, Any]", result)
    try:
        step = run(coroutine.send, None)
    except StopIteration as stop:
        return stop.value
    return ResumeInContext(run, coroutine, step)


class ResumeInContext:
    """Drive a suspended coroutine to the end, every step run inside a context.

    This is how the emitter's contextvars reach a listener that runs in a pooled
    worker task, without a task per call.
    """

    __slots__ = ("_coroutine", "_run", "_step")

    def __init__(
        self, run: Callable[..., Any], coroutine: Coroutine[Any, Any, Any], step: Any
    ) -> None:
        self._run = run
        self._coroutine = coroutine
        self._step = step

    def __await__(self) -> Generator[Any, Any, Any]:
        run, coroutine, step = self._run, self._coroutine, self._step
        while True:
            try:
                value = yield step
            except GeneratorExit:
                run(coroutine.close)
                raise
            except BaseException as exc:  # cancellation included: the listener must see it
                try:
                    step = run(coroutine.throw, exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                step = run(coroutine.send, value)
            except StopIteration as stop:
                return stop.value


async def _awaiting(awaitable: Awaitable[Any]) -> Any:
    return await awaitable
