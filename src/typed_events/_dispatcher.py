"""The :class:`Dispatcher`: the one pipeline that starts, attempts and settles every call."""

from __future__ import annotations

import contextvars
import itertools
import logging
from collections.abc import Awaitable, Callable, Coroutine, Iterable
from typing import Any, NoReturn

import anyio
import anyio.abc

from typed_events._calls import (
    ResumeInContext,
    cancelled_from_outside,
    set_attempt,
    start_in_context,
)
from typed_events._chains import Call, call_in, compose, started_in
from typed_events._lanes import OrderedLanes, OutcomeCallback
from typed_events._outcomes import (
    CallEnd,
    Counters,
    DeliveryStats,
    DispatchResult,
    ErrorHandler,
    ListenerOutcome,
)
from typed_events._report import UndeliveredCall, UndeliveredReason
from typed_events._reporting import Reporter
from typed_events._routing import Routing, Subscription
from typed_events._waiting import run_all
from typed_events.events import Event
from typed_events.middleware import Middleware, overrides

__all__ = ["Dispatcher"]


class Dispatcher:
    """Delivers events to the listeners a :class:`~typed_events.backends.Routing` names.

    A backend calls :meth:`begin` (the cheap path for one call), :meth:`in_order` (an
    ``ordered=True`` listener), :meth:`deliver` (one call, with its outcome) or
    :meth:`attempt` + :meth:`settle` (a durable backend that decides itself whether a
    failure is final). The bus builds the dispatcher; backends never build one.

    :param on_error_timeout: seconds an ``on_error`` call may take before it is abandoned.
    :param middleware: wraps every call attempt (``on_call``), the first outermost.
    """

    def __init__(
        self,
        routing: Routing,
        on_error: ErrorHandler | None = None,
        *,
        on_error_timeout: float = 5.0,
        middleware: Iterable[Middleware] = (),
    ) -> None:
        self.routing = routing
        self.reporter = Reporter(on_error, on_error_timeout)
        self._counters = self.reporter.counters  # read on every call: one attribute away
        self.middleware = tuple(middleware)
        # Calls that suspended (or run the full path), by a key of their own: a backend
        # that stops reports them, and a call the report claimed is never counted twice.
        self._running: dict[int, tuple[Subscription, Event]] = {}
        self._keys = itertools.count(-1, -1)  # negative: never an id() of a live object
        self._lanes = OrderedLanes(self._deliver)
        self._wrapping = [m for m in self.middleware if overrides(m, "on_call")]
        self._chains: dict[Subscription, Call] = {}
        self._inline: dict[Subscription, Call] = {}
        self.reroute(routing)

    def reroute(self, routing: Routing) -> None:
        """Deliver by ``routing`` from now on (the bus calls it while stopped)."""
        self.routing = routing
        # Per subscription, its listener wrapped in every on_call (none without them).
        self._chains.clear()
        # Async, no retries, no timeout: begin() starts them inline (through the chain
        # when there is on_call middleware), so a call that does not suspend costs no
        # task and no outcome object, middleware or not.
        self._inline = {
            subscription: self._call_for(subscription)
            for subscriptions in routing.routes.values()
            for subscription in subscriptions
            if _plain(subscription)
        }

    @property
    def on_error(self) -> ErrorHandler | None:
        """The bus's ``on_error`` handler."""
        return self.reporter.on_error

    @property
    def counters(self) -> Counters:
        """The live counters of the current run (backends bump ``emitted``/``accepted``)."""
        return self.reporter.counters

    @property
    def stats(self) -> DeliveryStats:
        """A frozen snapshot of the counters."""
        return self.reporter.counters.snapshot()

    @property
    def failed_calls(self) -> int:
        """Listener calls that finally failed (kept for older code; see :attr:`stats`)."""
        return self.reporter.counters.failed

    # -- a run, driven by the backend base class -------------------------------------------

    def open(
        self, side_tasks: anyio.abc.TaskGroup, on_fatal: Callable[[BaseException], None]
    ) -> None:
        """Start a run: fresh counters; ``on_error`` runs in ``side_tasks``; a
        ``BaseException`` from a listener or ``on_error`` goes to ``on_fatal``."""
        self._running.clear()
        self._lanes.clear()
        self.reporter.open(side_tasks, on_fatal)
        self._counters = self.reporter.counters

    def close(self) -> None:
        """End a run."""
        self._lanes.clear()
        self.reporter.close()

    def undelivered(self) -> list[UndeliveredCall]:
        """Claim every call still running or waiting in an ordered lane, as undelivered.

        The caller reports them (the backend base class counts them as dropped); a
        claimed call that finishes after this is not counted again.
        """
        calls = [
            UndeliveredCall(event, sub.listener.name, UndeliveredReason.CANCELLED)
            for sub, event in self._running.values()
        ]
        running = {(id(s), id(e)) for s, e in self._running.values()}
        self._running.clear()
        calls += self._lanes.take_waiting(running)
        return calls

    # -- starting a call ----------------------------------------------------------------

    def begin(
        self, subscription: Subscription, event: Event, context: contextvars.Context
    ) -> Awaitable[object] | None:
        """Start one accepted call; None if it already ended, else an awaitable that ends it.

        The awaitable never raises for the listener's failure: it is counted, logged and
        reported. This is the in-memory hot path: a listener that does not suspend costs
        no task, no coroutine frame and no outcome object.
        """
        call = self._inline.get(subscription)
        if call is None:
            return self._deliver(subscription, event, context)
        try:
            started = start_in_context(context.copy().run, call, event)
        except BaseException as exc:  # raised before any await: never a cancellation of ours
            self._ended_abnormally(None, subscription, event, exc)
            return None
        if type(started) is ResumeInContext:
            return self._resume(subscription, event, started)
        self._counters.delivered += 1
        return None

    async def _resume(
        self, subscription: Subscription, event: Event, started: ResumeInContext
    ) -> None:
        key = id(started)
        self._running[key] = (subscription, event)
        try:
            await started
        except BaseException as exc:
            self._ended_abnormally(key, subscription, event, exc)
            return
        if self._running.pop(key, None) is not None:
            self._counters.delivered += 1

    def in_order(
        self,
        subscription: Subscription,
        event: Event,
        context: contextvars.Context,
        done: OutcomeCallback,
    ) -> Coroutine[Any, Any, None] | None:
        """Queue a call of an ``ordered=True`` listener behind the ones before it.

        Returns a coroutine that runs the lane (the caller becomes its runner) or None
        when a runner is already at work; ``done(outcome)`` is called when the call ends.
        """
        return self._lanes.join(subscription, event, context, done)

    # -- attempting a call ----------------------------------------------------------------

    async def deliver(
        self, subscription: Subscription, event: Event, context: contextvars.Context | None = None
    ) -> ListenerOutcome:
        """Call one listener with ``event`` (retries, timeout), settle it, return the outcome.

        Never raises for the listener's exception: it is logged, passed to ``on_error``
        (awaited here) and returned in the outcome. Cancellation of the caller propagates.
        """
        self.reporter.counters.accepted += 1
        outcome = await self._deliver(subscription, event, context, wait=True)
        await self.reporter.run_queued_on_error()
        return outcome

    async def _deliver(
        self,
        subscription: Subscription,
        event: Event,
        context: contextvars.Context | None,
        *,
        wait: bool = False,
    ) -> ListenerOutcome:
        key = next(self._keys)
        self._running[key] = (subscription, event)
        try:
            outcome = await self._attempts(subscription, event, context)
        except BaseException as exc:
            self._ended_abnormally(key, subscription, event, exc)
            return ListenerOutcome(subscription.listener, None, exc)
        if self._running.pop(key, None) is not None:
            self.reporter.settle(subscription.listener, event, outcome, None, wait, "")
        return outcome  # (else the backend stopped first and reported it as dropped)

    async def attempt(
        self, subscription: Subscription, event: Event, context: contextvars.Context | None = None
    ) -> ListenerOutcome:
        """Count one accepted call and run its attempts; settling is up to the caller.

        For a durable backend that decides after the fact whether a failure is final:
        then :meth:`settle` with :attr:`CallEnd.REDELIVERED` or :attr:`CallEnd.FAILED`.
        """
        self._counters.accepted += 1
        try:
            return await self._attempts(subscription, event, context)
        except BaseException as exc:
            await self._attempt_raised(subscription, event, exc)
            raise  # pragma: no cover  # _attempt_raised never returns

    def attempt_now(
        self, subscription: Subscription, event: Event, context: contextvars.Context
    ) -> ListenerOutcome | Awaitable[ListenerOutcome]:
        """:meth:`attempt`, started here: the outcome itself when the call ended in its
        first step, else an awaitable of it.

        A durable backend's hot path: a plain listener (async, no retries, no timeout)
        whose call does not suspend costs no task and no coroutine frame, as in
        :meth:`begin`; anything else is :meth:`attempt`.
        """
        call = self._inline.get(subscription)
        if call is None:
            return self.attempt(subscription, event, context)
        self._counters.accepted += 1
        try:
            started = start_in_context(context.copy().run, call, event)
        except BaseException as exc:  # raised before any await: never a cancellation of ours
            return self._raised(subscription, event, exc, first_step=True)
        if type(started) is ResumeInContext:
            return self._resume_attempt(subscription, event, started)
        return ListenerOutcome(subscription.listener, started)

    async def _resume_attempt(
        self, subscription: Subscription, event: Event, started: ResumeInContext
    ) -> ListenerOutcome:
        try:
            return ListenerOutcome(subscription.listener, await started)
        except BaseException as exc:
            outcome = self._raised(subscription, event, exc, first_step=False)
            return outcome if isinstance(outcome, ListenerOutcome) else await outcome

    def _raised(
        self, subscription: Subscription, event: Event, exc: BaseException, *, first_step: bool
    ) -> ListenerOutcome | Awaitable[NoReturn]:
        """A listener failure (its own cancellation included) as the attempt's outcome;
        anything else is :meth:`_attempt_raised`."""
        own_cancel = isinstance(exc, anyio.get_cancelled_exc_class()) and (
            first_step or not cancelled_from_outside()
        )
        if isinstance(exc, Exception) or own_cancel:
            return ListenerOutcome(subscription.listener, None, exc)
        return self._attempt_raised(subscription, event, exc)

    async def _attempt_raised(
        self, subscription: Subscription, event: Event, exc: BaseException
    ) -> NoReturn:
        """An attempt ended in an exception that is no listener failure: re-raised."""
        if isinstance(exc, anyio.get_cancelled_exc_class()) and cancelled_from_outside():
            # The backend stopped mid-call: a durable backend keeps the message, and
            # another delivery follows (on this process's next start, or elsewhere).
            self._counters.redelivered += 1
            raise exc
        self._ended_abnormally(None, subscription, event, exc)  # counted, logged, fatal
        await anyio.sleep_forever()  # the bus is stopping now; the message stays pending
        raise exc  # pragma: no cover  # sleep_forever only ends by cancellation

    async def _attempts(
        self, subscription: Subscription, event: Event, context: contextvars.Context | None
    ) -> ListenerOutcome:
        listener = subscription.listener
        options = listener.options
        attempt = 1
        while True:
            try:
                if options.timeout is None:
                    result = await self._one_attempt(subscription, event, context, attempt)
                else:
                    with anyio.fail_after(options.timeout):
                        result = await self._one_attempt(subscription, event, context, attempt)
                return ListenerOutcome(listener, result, None, attempt)
            except Exception as exc:  # isolating listener failures is the point
                error: BaseException = exc
            except BaseException as exc:
                if not isinstance(exc, anyio.get_cancelled_exc_class()) or cancelled_from_outside():
                    raise
                error = exc  # the listener's own CancelledError: a failure like any other
            if attempt > options.retries:
                return ListenerOutcome(listener, None, error, attempt)
            self.reporter.log(
                logging.INFO,
                CallEnd.RETRYING,
                listener,
                event,
                attempt,
                f"listener {listener.name} failed on event {event.event_id!r} "
                f"(attempt {attempt} of {options.retries + 1}), retrying: {error!r}",
            )
            await anyio.sleep(options.backoff_before(attempt))
            attempt += 1

    def _one_attempt(
        self,
        subscription: Subscription,
        event: Event,
        context: contextvars.Context | None,
        attempt: int,
    ) -> Awaitable[Any]:
        # Each attempt gets its own copy of the emitter's context: listeners (and the
        # middleware around them) see the emitter's contextvars, and what one call sets
        # does not leak to another.
        run = (context or contextvars.copy_context()).copy().run
        if attempt > 1:
            run(set_attempt, attempt)
        if not self._wrapping:
            return call_in(run, subscription, event)
        return started_in(run, self._call_for(subscription), event)

    def _call_for(self, subscription: Subscription) -> Call:
        """The listener's call, wrapped in the ``on_call`` middleware (built once)."""
        if not self._wrapping:
            return subscription.call
        chain = self._chains.get(subscription)
        if chain is None:
            chain = self._chains[subscription] = compose(self._wrapping, subscription)
        return chain

    # -- settling a call -----------------------------------------------------------------

    async def settle(
        self,
        subscription: Subscription,
        event: Event,
        outcome: ListenerOutcome,
        end: CallEnd | None = None,
        *,
        detail: str = "",
        wait: bool = True,
    ) -> None:
        """Count how a call ended; a final failure is logged and handed to ``on_error``.

        :param end: default: delivered if the outcome is ok, else failed.
        :param detail: words for the log line of a redelivery (a durable backend's
            delivery id and the delay).
        :param wait: await ``on_error`` here; False runs it beside the backend's workers
            (while the bus runs), so a slow handler holds up no delivery.
        """
        self.reporter.settle(subscription.listener, event, outcome, end, wait, detail)
        if wait:
            await self.reporter.run_queued_on_error()

    def settle_delivered(self) -> None:
        """:meth:`settle` of a call that ended well, which has nothing to await."""
        self._counters.delivered += 1

    def _ended_abnormally(
        self, key: int | None, subscription: Subscription, event: Event, exc: BaseException
    ) -> None:
        """A call that ended in an exception its attempts did not turn into an outcome."""
        claimed = key is not None and self._running.pop(key, None) is None
        cancelled = isinstance(exc, anyio.get_cancelled_exc_class())
        if cancelled and key is not None and cancelled_from_outside():
            if not claimed:
                self.reporter.counters.dropped += 1  # cancelled by its caller, not at shutdown
            raise exc
        if claimed:
            return
        self.reporter.failed(subscription.listener, event, exc, 1)
        if not isinstance(exc, Exception) and not cancelled:
            # KeyboardInterrupt, SystemExit, a custom BaseException: the call failed, and
            # the bus stops now, with the original exception (DESIGN 8).
            self.reporter.fatal(exc)

    # -- emit_and_wait ------------------------------------------------------------------

    async def dispatch(
        self, event: Event, context: contextvars.Context | None = None
    ) -> DispatchResult:
        """Run every listener of ``event`` concurrently and wait for all of them.

        Listener i begins before listener i+1 begins; an ``ordered=True`` listener waits
        behind its backlog. Each call is settled as any other (``on_error`` is awaited).
        """
        subscriptions = self.routing.subscriptions(event.event_id)
        if context is None:
            context = contextvars.copy_context()
        self.reporter.counters.accepted += len(subscriptions)
        outcomes = await run_all(subscriptions, event, context, self._settled, self.in_order)
        await self.reporter.run_queued_on_error()
        return DispatchResult(event, outcomes)

    def _settled(
        self, subscription: Subscription, event: Event, context: contextvars.Context
    ) -> Awaitable[ListenerOutcome]:
        return self._deliver(subscription, event, context, wait=True)


def _plain(subscription: Subscription) -> bool:
    options = subscription.listener.options
    return subscription.is_async and not options.retries and options.timeout is None
