"""The interface every backend implements: ``emit`` and one lifecycle hook, ``run``.

The base class owns ``__aenter__``/``__aexit__``: it starts :meth:`run` in a task of its
own (shielded, so an app being cancelled still gets its drain), returns from
``__aenter__`` once the backend says it has started, and on exit tells it to stop, waits
for the :class:`~typed_events.backends.ShutdownReport` it returns, counts what was
dropped and logs it. A ``BaseException`` from a listener or ``on_error`` stops the bus at
once and leaves ``async with bus`` as itself, on asyncio and trio.
"""

from __future__ import annotations

import logging
from abc import ABC, abstractmethod
from types import TracebackType
from typing import Any

import anyio
import anyio.abc

from typed_events._report import ShutdownReport, UndeliveredCall, UndeliveredReason
from typed_events.dispatch import Dispatcher
from typed_events.errors import ConfigurationError, EmitterNotRunningError
from typed_events.events import Event

__all__ = [
    "BaseEventEmitterBackend",
    "Lifecycle",
    "ShutdownReport",
    "UndeliveredCall",
    "UndeliveredReason",
]

logger = logging.getLogger("typed_events")


class Lifecycle:
    """What :meth:`BaseEventEmitterBackend.run` is given: the dispatcher and the signals.

    ``run`` calls :meth:`started` when it accepts emits, awaits :meth:`stopping`, then
    drains inside ``with lifecycle.deadline(seconds):`` and returns its report.
    """

    def __init__(self, dispatcher: Dispatcher, task_status: anyio.abc.TaskStatus[None]) -> None:
        self.dispatcher = dispatcher
        self._task_status = task_status
        self._stop = anyio.Event()
        self._deadlines: list[anyio.CancelScope] = []
        self.is_started = False
        self.interruption: BaseException | None = None

    def started(self) -> None:
        """Say the backend accepts emits: ``async with bus`` enters its body now."""
        if not self.is_started:
            self.is_started = True
            self._task_status.started()

    async def stopping(self) -> None:
        """Wait until the bus leaves ``async with`` (or is interrupted)."""
        await self._stop.wait()

    def deadline(self, seconds: float) -> anyio.CancelScope:
        """A scope for the drain: it ends after ``seconds``, or at once if interrupted.

        ``scope.cancelled_caught`` afterwards tells whether the drain was cut short.
        """
        scope = anyio.move_on_after(seconds)
        if self.interruption is not None:
            scope.cancel()
        self._deadlines.append(scope)
        return scope

    def end(self, interruption: BaseException | None = None) -> None:
        """Called by the base class: the bus is leaving (or was interrupted by ``interruption``)."""
        if interruption is not None and self.interruption is None:
            self.interruption = interruption
            for scope in self._deadlines:
                scope.cancel()
        self._stop.set()


class BaseEventEmitterBackend(ABC):
    """What the bus needs from a backend: a sync ``emit`` and a ``run`` hook.

    The bus validates every event, then hands the backend the instance. The bus attaches
    its :class:`~typed_events.backends.Dispatcher` (the routing and the one pipeline that
    calls listeners) when it is built; ``self.dispatcher`` is it.

    To write one, implement :meth:`emit` and :meth:`run`; override :meth:`emit_async` if
    the backend can wait for room (or for a durable write).
    """

    _dispatcher: Dispatcher | None = None
    _task_group: anyio.abc.TaskGroup | None = None
    _lifecycle: Lifecycle | None = None
    _report: ShutdownReport | None = None

    def attach(self, dispatcher: Dispatcher) -> None:
        """Receive the bus's dispatcher; a backend serves one bus only.

        :raises ValueError: if another bus already has this backend.
        """
        if self._dispatcher is not None and self._dispatcher is not dispatcher:
            raise ConfigurationError(
                f"this {type(self).__name__} already belongs to another EventBus; give each "
                f"bus its own backend: EventBus(..., backend={type(self).__name__}(...))"
            )
        self._dispatcher = dispatcher

    @property
    def dispatcher(self) -> Dispatcher:
        """The dispatcher handed over by the bus.

        :raises EmitterNotRunningError: if no bus attached one.
        """
        if self._dispatcher is None:
            raise EmitterNotRunningError(
                f"{type(self).__name__} was not attached to a bus; "
                "pass it as EventBus(..., backend=...) and use `async with bus`"
            )
        return self._dispatcher

    @property
    def shutdown_report(self) -> ShutdownReport | None:
        """What the last run could not deliver; None before the first stop."""
        return self._report

    @abstractmethod
    def emit(self, event: Event) -> None:
        """Accept a validated event for delivery without blocking."""

    async def emit_async(self, event: Event) -> None:
        """Accept an event, waiting (for room, or for a write) where the backend can."""
        self.emit(event)

    @abstractmethod
    async def run(self, lifecycle: Lifecycle) -> ShutdownReport:
        """Serve the bus: start, ``lifecycle.started()``, ``await lifecycle.stopping()``,
        drain within ``lifecycle.deadline(...)``, and return what was not delivered."""

    # -- implemented once, here -----------------------------------------------------------

    async def __aenter__(self) -> Any:
        if self._task_group is not None:
            raise EmitterNotRunningError(
                f"this {type(self).__name__} is already running; give each bus its own backend"
            )
        dispatcher = self.dispatcher
        self._report = None
        group = anyio.create_task_group()
        await group.__aenter__()
        failure: list[BaseException] = []
        try:
            dispatcher.open(group, self._interrupt)
            await group.start(self._serve, failure)
        except BaseException:
            group.cancel_scope.cancel()
            await group.__aexit__(None, None, None)
            dispatcher.close()
            raise
        if failure:  # run() raised before it started: the start fails with that error
            await group.__aexit__(None, None, None)
            dispatcher.close()
            raise failure[0]
        self._task_group = group
        return self

    async def _serve(
        self,
        failure: list[BaseException],
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        lifecycle = self._lifecycle = Lifecycle(self.dispatcher, task_status)
        # Shielded: the body of `async with bus` being cancelled must not cancel the
        # drain; the lifecycle's deadline bounds it instead.
        with anyio.CancelScope(shield=True):
            try:
                self._report = await self.run(lifecycle)
            except BaseException as exc:
                if not lifecycle.is_started:
                    failure.append(exc)
                    task_status.started()
                    return
                self._report = ShutdownReport(
                    tuple(self.dispatcher.undelivered()), True, interrupted_by=exc
                )
                self._interrupt(exc)

    def _interrupt(self, exc: BaseException) -> None:
        lifecycle = self._lifecycle
        if lifecycle is None or lifecycle.interruption is not None:
            return
        lifecycle.end(exc)
        if self._task_group is not None:
            self._task_group.cancel_scope.cancel()  # interrupt the body of `async with bus`

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        group, lifecycle = self._task_group, self._lifecycle
        assert group is not None
        assert lifecycle is not None
        lifecycle.end()
        try:
            # Waits for run() to return its report (it drains shielded) and for on_error
            # calls still running (bounded by on_error_timeout). It may raise the app's
            # cancellation once they are done: the report is made in any case.
            await group.__aexit__(None, None, None)
        finally:
            self._task_group = None
            self._lifecycle = None
            self.dispatcher.close()
            report = self._finish_report(lifecycle)
        if report.interrupted_by is not None:
            raise report.interrupted_by

    def _finish_report(self, lifecycle: Lifecycle) -> ShutdownReport:
        report = self._report or ShutdownReport()
        if lifecycle.interruption is not None and report.interrupted_by is None:
            report = ShutdownReport(report.calls, report.timed_out, lifecycle.interruption)
        self._report = report
        dropped = sum(1 for call in report.calls if call.dropped)
        self.dispatcher.counters.dropped += dropped
        if report.calls:
            why = (
                f"the bus was interrupted by {report.interrupted_by!r}"
                if report.interrupted_by is not None
                else f"{type(self).__name__}'s shutdown_timeout ran out (raise it to wait longer)"
            )
            logger.warning(
                "%s; %d listener call(s) not delivered:\n%s",
                why,
                len(report.calls),
                report,
                extra={"outcome": "dropped", "dropped": dropped},
            )
        return report
