"""The interface every backend implements, and the report it gives when it stops."""

from __future__ import annotations

from abc import abstractmethod
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from types import TracebackType
from typing import Literal

from typed_events.dispatch import Dispatcher
from typed_events.errors import EmitterNotRunningError
from typed_events.events import Event

__all__ = ["BaseEventEmitterBackend", "ShutdownReport", "UndeliveredCall"]


@dataclass(frozen=True)
class UndeliveredCall:
    """A listener call that did not complete before the backend stopped."""

    event: Event
    listener: str
    reason: Literal["not started", "cancelled", "not written"]


@dataclass(frozen=True)
class ShutdownReport:
    """What a backend could not deliver when it stopped; empty when it drained fully."""

    calls: tuple[UndeliveredCall, ...] = ()
    timed_out: bool = False

    @property
    def clean(self) -> bool:
        """True if every accepted event reached every listener."""
        return not self.calls

    @property
    def undelivered(self) -> tuple[Event, ...]:
        """The events that did not reach at least one listener, in emit order."""
        return tuple({id(c.event): c.event for c in self.calls}.values())

    @property
    def cancelled(self) -> tuple[str, ...]:
        """Names of the listeners whose running calls were cancelled."""
        return tuple(dict.fromkeys(c.listener for c in self.calls if c.reason == "cancelled"))

    def __str__(self) -> str:
        if self.clean:
            return "all events delivered"
        lines = [f"{len(self.undelivered)} event(s) not fully delivered:"]
        lines += [f"  - {c.event.event_id} -> {c.listener}: {c.reason}" for c in self.calls]
        return "\n".join(lines)


class BaseEventEmitterBackend(AbstractAsyncContextManager["BaseEventEmitterBackend"]):
    """What the bus needs from a backend: a sync ``emit`` and an async context.

    The bus validates every event, then hands the backend the instance. Before
    entering the backend, the bus calls :meth:`attach` with a
    :class:`~typed_events.dispatch.Dispatcher` that knows the listeners; a backend
    calls ``self.dispatcher.deliver(...)`` (one listener) or
    ``self.dispatcher.dispatch(event)`` (all of them) to run them.

    To write one, implement :meth:`emit`, ``__aenter__`` and ``__aexit__``;
    override :meth:`emit_async` if the backend can wait for room.
    """

    dispatcher: Dispatcher | None = None
    shutdown_report: ShutdownReport | None = None

    def attach(self, dispatcher: Dispatcher) -> None:
        """Receive the routing from the bus; called before ``__aenter__``."""
        self.dispatcher = dispatcher

    @property
    def attached_dispatcher(self) -> Dispatcher:
        """The dispatcher handed over by the bus.

        :raises EmitterNotRunningError: if no bus attached one.
        """
        if self.dispatcher is None:
            raise EmitterNotRunningError(
                f"{type(self).__name__} was not attached to a bus; "
                "pass it as EventBus(..., backend=...) and use `async with bus`"
            )
        return self.dispatcher

    @abstractmethod
    def emit(self, event: Event) -> None:
        """Accept a validated event for delivery without blocking."""

    async def emit_async(self, event: Event) -> None:
        """Accept an event, waiting (for room, or for a write) where the backend can."""
        self.emit(event)

    async def __aenter__(self) -> BaseEventEmitterBackend:
        return self

    @abstractmethod
    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        """Stop: deliver what was accepted, or report it in ``shutdown_report``."""
