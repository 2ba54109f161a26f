"""The last step of the pipeline: the only place that counts, logs and calls ``on_error``.

Log records about listener calls carry structured fields (``extra=``): ``event_id``,
``listener`` (qualified name), ``attempt`` and ``outcome`` (a :class:`CallEnd` value, or
``"on_error failed"`` / ``"on_error timeout"``), so the pytest plugin and users filter on
fields, never on message text or function names.
"""

from __future__ import annotations

import contextvars
import inspect
import logging
from collections.abc import Callable
from typing import Any

import anyio
import anyio.abc

from typed_events._calls import call_in_thread, cancelled_from_outside, user_traceback
from typed_events._outcomes import CallEnd, Counters, ErrorHandler, ListenerOutcome
from typed_events._settings import require_seconds
from typed_events.events import Event
from typed_events.listeners import Listener, returns_awaitable

__all__ = ["Reporter", "log_fields"]

logger = logging.getLogger("typed_events")

_Failure = tuple[Event, Listener[..., Any], BaseException]


def log_fields(
    event: Event, listener: Listener[..., Any], attempt: int, outcome: str
) -> dict[str, Any]:
    """The structured fields of a log record about a listener call (``extra=``)."""
    return {
        "event_id": event.event_id,
        "listener": listener.name,
        "attempt": attempt,
        "outcome": str(outcome),
    }


class Reporter:
    """Counts every call's end; logs failures; runs ``on_error``, bounded, off the workers.

    While a backend runs, ``on_error`` calls go to its side task group (a slow handler
    never holds a worker); elsewhere they queue until :meth:`run_queued_on_error`.
    A ``BaseException`` from a listener or ``on_error`` goes to ``on_fatal``.
    """

    def __init__(self, on_error: ErrorHandler | None, on_error_timeout: float) -> None:
        require_seconds("on_error_timeout", on_error_timeout, positive=True, infinite=True)
        self.on_error = on_error
        self.on_error_timeout = on_error_timeout
        self.counters = Counters()
        self._on_error_async = on_error is not None and returns_awaitable(on_error)
        self._queued: list[_Failure] = []
        self._side_tasks: anyio.abc.TaskGroup | None = None
        self._on_fatal: Callable[[BaseException], None] | None = None

    def open(
        self, side_tasks: anyio.abc.TaskGroup, on_fatal: Callable[[BaseException], None]
    ) -> None:
        """Start a run with fresh counters."""
        self.counters = Counters()
        self._side_tasks = side_tasks
        self._on_fatal = on_fatal

    def close(self) -> None:
        """End a run: ``on_error`` queues from now on."""
        self._side_tasks = None
        self._on_fatal = None

    def log(
        self,
        level: int,
        outcome: CallEnd,
        listener: Listener[..., Any],
        event: Event,
        attempt: int,
        message: str,
        **kwargs: Any,
    ) -> None:
        """Log one line about a listener call, with its structured fields."""
        extra = log_fields(event, listener, attempt, outcome)
        logger.log(level, "%s", message, extra=extra, **kwargs)

    def settle(
        self,
        listener: Listener[..., Any],
        event: Event,
        outcome: ListenerOutcome,
        end: CallEnd | None,
        wait: bool,
        detail: str,
    ) -> None:
        """Count how a call ended (default: delivered if ok, else failed); a redelivery is
        logged, a final failure reported (:meth:`failed`)."""
        if end is None:
            end = CallEnd.DELIVERED if outcome.exception is None else CallEnd.FAILED
        if end is CallEnd.DELIVERED:
            self.counters.delivered += 1
        elif end is CallEnd.DROPPED:
            self.counters.dropped += 1
        elif end is CallEnd.REDELIVERED:
            self.counters.redelivered += 1
            self.log(
                logging.WARNING,
                end,
                listener,
                event,
                outcome.attempts,
                f"listener {listener.name} failed on event {event.event_id!r} "
                f"{detail}: {outcome.exception!r}",
            )
        else:
            assert outcome.exception is not None
            self.failed(listener, event, outcome.exception, outcome.attempts, wait=wait)

    def failed(
        self,
        listener: Listener[..., Any],
        event: Event,
        exc: BaseException,
        attempts: int,
        *,
        wait: bool = False,
    ) -> None:
        """Count, log and report a call that finally failed.

        :param wait: queue ``on_error`` for the caller to await with
            :meth:`run_queued_on_error` (else it runs beside the workers).
        """
        self.counters.failed += 1
        self.log(
            logging.ERROR,
            CallEnd.FAILED,
            listener,
            event,
            attempts,
            f"listener {listener.name} ({listener.location}) failed on event "
            f"{event.event_id!r}: {exc!r}",
            exc_info=(type(exc), exc, user_traceback(exc)),
        )
        if self.on_error is None:
            return
        if wait or self._side_tasks is None:
            self._queued.append((event, listener, exc))
        else:
            self._side_tasks.start_soon(self._call_on_error, event, listener, exc)

    async def run_queued_on_error(self) -> None:
        """Await the ``on_error`` calls queued for the code that settled their failure."""
        queue = self._queued
        while queue:
            await self._call_on_error(*queue.pop(0))

    def fatal(self, exc: BaseException) -> None:
        """A ``BaseException`` from a listener or ``on_error``: stop the bus with it."""
        if self._on_fatal is None:
            raise exc
        self._on_fatal(exc)

    async def _call_on_error(
        self, event: Event, listener: Listener[..., Any], exc: BaseException
    ) -> None:
        handler = self.on_error
        assert handler is not None
        try:
            # Shielded from a cancelled app (it is bounded anyway), so a failure that
            # happened during shutdown is still reported.
            with (
                anyio.CancelScope(shield=True),
                anyio.move_on_after(self.on_error_timeout) as scope,
            ):
                if self._on_error_async:
                    result = handler(event, listener, exc)
                    if inspect.isawaitable(result):
                        await result
                else:
                    # A sync handler runs in a thread, so a blocking one is bounded too.
                    run = contextvars.copy_context().run
                    await call_in_thread(run, lambda _: handler(event, listener, exc), event)
            if scope.cancelled_caught:
                logger.error(
                    "on_error handler %r took longer than on_error_timeout=%ss on the failure "
                    "of listener %s on event %r; abandoned it (raise EventBus("
                    "on_error_timeout=...) or make the handler faster)",
                    handler,
                    self.on_error_timeout,
                    listener.name,
                    event.event_id,
                    extra=log_fields(event, listener, 0, "on_error timeout"),
                )
        except Exception:
            logger.exception(
                "on_error handler %r raised while handling a failure of listener %s on event %r",
                handler,
                listener.name,
                event.event_id,
                extra=log_fields(event, listener, 0, "on_error failed"),
            )
        except BaseException as fatal:
            if isinstance(fatal, anyio.get_cancelled_exc_class()) and cancelled_from_outside():
                raise
            self.fatal(fatal)
