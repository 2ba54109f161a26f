"""The event bus: validates at the call site, routes to checked listeners, runs a backend."""

from __future__ import annotations

import contextvars
import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from types import TracebackType
from typing import Any, ParamSpec, cast, overload

import anyio
import anyio.from_thread
import anyio.lowlevel

from typed_events._arguments import (
    builder,
    require_error_handler,
    require_middleware,
    validate_any,
)
from typed_events._calls import ResumeInContext, start_in_context
from typed_events._routing import Routing
from typed_events.backends.base import BaseEventEmitterBackend, ShutdownReport
from typed_events.backends.memory import SimpleEventEmitter
from typed_events.dispatch import DeliveryStats, Dispatcher, DispatchResult, ErrorHandler
from typed_events.errors import (
    EmitterNotRunningError,
)
from typed_events.events import Event
from typed_events.listeners import Listener
from typed_events.middleware import Middleware, overrides

__all__ = ["EventBus"]

P = ParamSpec("P")

EmitObserver = Callable[[Event], None]


class BusState(StrEnum):
    """Where a bus is in its life; ``emit`` works only while it is running."""

    STOPPED = "stopped"
    STARTING = "starting"
    RUNNING = "running"


class EventBus:
    """Typed events in, checked listeners out.

    Building the bus checks every listener against every event it subscribes to and
    raises one :class:`~typed_events.ListenerSignatureError` listing all problems.

    ```python
    bus = EventBus(listeners=[send_welcome], events=[UserDeleted])
    async with bus:
        bus.emit(UserCreated(email="a@example.com"))
    ```

    :param listeners: functions decorated with :func:`~typed_events.listener`.
    :param events: event classes to know even without listeners (so string ids
        resolve and a known event with no listener is a no-op).
    :param backend: defaults to a new :class:`~typed_events.SimpleEventEmitter`.
    :param on_error: ``on_error(event, listener, exception)``, sync or async, called once
        per listener call that finally fails.
    :param on_error_timeout: seconds one ``on_error`` call may take (it never holds up
        other listeners; past this it is abandoned and logged).
    :param middleware: :class:`~typed_events.Middleware` objects, the first outermost.
    :raises ListenerSignatureError: if a listener cannot accept an event it subscribes to.
    :raises DuplicateEventError: if two classes claim one id.
    :raises TypeError: if ``on_error`` cannot be called with ``(event, listener, exception)``.
    :raises ValueError: if ``backend`` already belongs to another bus.
    """

    def __init__(
        self,
        # The second member of each union is what mypy infers for a list written without
        # an annotation: it joins listeners of different signatures to `object` and event
        # classes to their metaclass. The bus checks every item when it is built.
        listeners: Iterable[Listener[..., Any]] | list[object] = (),
        events: Iterable[type[Event]] | Iterable[type] = (),
        *,
        backend: BaseEventEmitterBackend | None = None,
        on_error: ErrorHandler | None = None,
        on_error_timeout: float = 5.0,
        middleware: Iterable[Middleware] = (),
    ) -> None:
        require_error_handler(on_error)
        self.middleware = tuple(require_middleware(m) for m in middleware)
        self._own_listeners = tuple(cast("Iterable[Listener[..., Any]]", listeners))
        self._own_events = tuple(cast("Iterable[type[Event]]", events))
        self._extra_listeners: tuple[Listener[..., Any], ...] = ()
        self.routing = Routing.build(self._own_listeners, self._own_events)
        self.backend = backend if backend is not None else SimpleEventEmitter()
        self.dispatcher = Dispatcher(
            self.routing, on_error, on_error_timeout=on_error_timeout, middleware=self.middleware
        )
        # Attached now, so a backend given to a second bus is refused before it is used.
        self.backend.attach(self.dispatcher)
        self._emit_hooks = [m.on_emit for m in self.middleware if overrides(m, "on_emit")]
        self._accept_chain = self._chain(self._accept)  # emit: on_emit hooks, then accept
        self._use_registry()
        self._backend_emit = self.backend.emit
        self._running = False
        self._state = BusState.STOPPED
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread: int | None = None
        self._observers: list[EmitObserver] = []
        # True while nothing watches emits (no observer, no on_emit hook): emit's fast path.
        self._unwatched = not self._emit_hooks

    @property
    def listeners(self) -> tuple[Listener[..., Any], ...]:
        """The listeners, in registration order (the extra ones last)."""
        return self.routing.listeners

    @property
    def extra_listeners(self) -> tuple[Listener[..., Any], ...]:
        """The listeners added by :meth:`set_extra_listeners` (empty by default)."""
        return self._extra_listeners

    def set_extra_listeners(
        self, listeners: Iterable[Listener[..., Any]], events: Iterable[type[Event]] = ()
    ) -> None:
        """Route events to ``listeners`` as well, after the bus's own; only while stopped.

        Replaces the extra listeners of an earlier call (``set_extra_listeners(())``
        removes them). The routing is rebuilt from the listeners and events given to
        ``EventBus(...)`` plus these, and checked as the constructor checks; the backend,
        middleware, ``on_error`` and observers stay. For integrations that learn of
        listeners after the bus is built: the Litestar plugin adds an app's plain
        ``litestar.events`` listeners for the time the app runs.

        :raises ListenerSignatureError: if one cannot take its events (nothing changes).
        :raises EmitterNotRunningError: while the bus is starting or running.
        """
        if self._state is not BusState.STOPPED:
            raise EmitterNotRunningError(
                f"set_extra_listeners() was called while the bus is {self._state}; the "
                "routing changes only while it is stopped: call it before `async with bus` "
                "or after it exits"
            )
        extra = tuple(listeners)
        routing = Routing.build((*self._own_listeners, *extra), (*self._own_events, *events))
        self._extra_listeners = extra
        self.routing = routing
        self.dispatcher.reroute(routing)
        self._use_registry()

    def _use_registry(self) -> None:
        self.registry = self.routing.registry
        # The registry is fixed while the bus runs; emit reads these on every call.
        self._build_by_class = {cls: builder(cls) for cls in self.registry}
        self._build_by_id = {cls.event_id: build for cls, build in self._build_by_class.items()}

    @property
    def on_error(self) -> ErrorHandler | None:
        """The ``on_error`` handler given to the bus, if any."""
        return self.dispatcher.on_error

    @property
    def running(self) -> bool:
        """True between entering and leaving ``async with bus``."""
        return self._running

    @property
    def state(self) -> BusState:
        """Stopped, starting or running."""
        return self._state

    @property
    def stats(self) -> DeliveryStats:
        """A snapshot of the delivery counters of the current (or last) run.

        After ``async with bus`` has exited,
        ``delivered + failed + dropped + redelivered == accepted``.
        """
        return self.dispatcher.stats

    @property
    def shutdown_report(self) -> ShutdownReport | None:
        """What the last stop could not deliver (None before the first stop)."""
        return self.backend.shutdown_report

    # -- emitting ---------------------------------------------------------------------

    @overload
    def emit(self, event: Event, /) -> None: ...
    @overload
    def emit(self, event: Callable[P, Event], /, *args: P.args, **kwargs: P.kwargs) -> None: ...
    @overload
    def emit(self, event: str, /, *args: Any, **kwargs: Any) -> None: ...
    def emit(self, event: Event | Callable[..., Event] | str, /, *args: Any, **kwargs: Any) -> None:
        """Validate an event and queue it for its listeners; never waits.

        Three forms: ``emit(UserCreated(email=...))``, ``emit(UserCreated, email=...)``
        and ``emit("user_created", email=...)`` (positional arguments fill the fields
        in declaration order). Safe to call from another thread.

        :raises pydantic.ValidationError: if the payload does not fit the event.
        :raises UnknownEventError: for an id no event declares (with a suggestion).
        :raises EmitterNotRunningError: outside ``async with bus``.
        :raises QueueFullError: when the backend's bounded queue is full.
        """
        if type(event) in self._build_by_class and not args and not kwargs:
            instance: Event = event  # type: ignore[assignment]  # an instance of a bus event
        else:
            instance = self._validated(event, args, kwargs)
        if self._running and self._unwatched and threading.get_ident() == self._loop_thread:
            self._backend_emit(instance)  # the common case, checked in one go
            return
        self._require_running()
        if threading.get_ident() == self._loop_thread:
            self._accept_chain(instance)
            return
        # From another thread: hand over to the event loop and wait only for the
        # hand-over (so a full queue still raises here), with this thread's contextvars.
        context = contextvars.copy_context()
        try:
            anyio.from_thread.run_sync(
                lambda: context.run(self._accept_chain, instance),
                token=self._token,
            )
        except anyio.RunFinishedError:
            raise EmitterNotRunningError(
                "the event loop running this bus has finished; emit inside `async with bus`"
            ) from None

    @overload
    async def emit_async(self, event: Event, /) -> None: ...
    @overload
    async def emit_async(
        self, event: Callable[P, Event], /, *args: P.args, **kwargs: P.kwargs
    ) -> None: ...
    @overload
    async def emit_async(self, event: str, /, *args: Any, **kwargs: Any) -> None: ...
    async def emit_async(
        self, event: Event | Callable[..., Event] | str, /, *args: Any, **kwargs: Any
    ) -> None:
        """Like :meth:`emit`, but waits for room instead of raising when the queue is full.

        With a durable backend it returns once the backend has accepted the write.
        """
        instance = self._validated(event, args, kwargs)
        self._require_running()
        if not self._emit_hooks:
            self._notify(instance)
            await self.backend.emit_async(instance)
            return
        started: list[Any] = []

        def start(instance: Event) -> None:
            # The innermost step of on_emit: the backend's emit starts here, inside the
            # context the middleware set up (its span), and goes on in a copy of it: the
            # listeners and a durable backend's envelope see that context.
            self._notify(instance)
            run = contextvars.copy_context().run
            started.append(start_in_context(run, self.backend.emit_async, instance))

        self._through_hooks(instance, start)
        for pending in started:
            if type(pending) is ResumeInContext:
                await pending

    @overload
    async def emit_and_wait(self, event: Event, /) -> DispatchResult: ...
    @overload
    async def emit_and_wait(
        self, event: Callable[P, Event], /, *args: P.args, **kwargs: P.kwargs
    ) -> DispatchResult: ...
    @overload
    async def emit_and_wait(self, event: str, /, *args: Any, **kwargs: Any) -> DispatchResult: ...
    async def emit_and_wait(
        self, event: Event | Callable[..., Event] | str, /, *args: Any, **kwargs: Any
    ) -> DispatchResult:
        """Run every listener of the event in this process now and return their outcomes.

        Listener exceptions do not raise here: they are in ``result.outcomes`` (and
        logged, and passed to ``on_error``, as for :meth:`emit`).
        """
        instance = self._validated(event, args, kwargs)
        self._require_running()
        if not self._emit_hooks:
            self._notify(instance)
            return await self.dispatcher.dispatch(instance)
        taken: list[tuple[Event, contextvars.Context]] = []

        def take(instance: Event) -> None:
            # The innermost step of on_emit: the listeners run in this context (with the
            # middleware's span), not in the one the hooks have restored by the time
            # dispatch starts.
            self._notify(instance)
            taken.append((instance, contextvars.copy_context()))

        self._through_hooks(instance, take)
        if not taken:  # a middleware did not hand the event on
            return DispatchResult(instance)
        instance, context = taken[0]
        return await self.dispatcher.dispatch(instance, context)

    def validate(
        self, event: Event | Callable[..., Event] | str, /, *args: Any, **kwargs: Any
    ) -> Event:
        """Turn any of the three emit forms into a validated event instance.

        :raises pydantic.ValidationError: if the payload does not fit the event.
        :raises UnknownEventError: for an id no event declares.
        """
        return self._validated(event, args, kwargs)

    def _validated(
        self,
        event: Event | Callable[..., Event] | str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Event:
        # Fast paths for the bus's own events (every emit goes through here); the
        # general code below handles the rest and every error.
        kind = type(event)
        if kind is str:
            build = self._build_by_id.get(event)  # type: ignore[arg-type]  # type(event) is str here
            if build is not None and not args:
                return build(kwargs)
        elif kind in self._build_by_class:
            if not args and not kwargs:
                return event  # type: ignore[return-value]  # an instance of a bus event
        elif isinstance(event, type) and not args:
            build = self._build_by_class.get(event)
            if build is not None:
                return build(kwargs)
        return validate_any(self.registry, event, args, kwargs)

    def _notify(self, instance: Event) -> None:
        for observe in self._observers:
            observe(instance)

    def _accept(self, instance: Event) -> None:
        self._notify(instance)
        self._backend_emit(instance)

    def _through_hooks(self, instance: Event, last: Callable[[Event], None]) -> None:
        """Run the middleware's ``on_emit`` hooks around ``last`` (first outermost)."""
        self._chain(last)(instance)

    def _chain(self, last: Callable[[Event], None]) -> Callable[[Event], None]:
        """``last`` wrapped in every ``on_emit`` hook (emit's own chain is built once)."""
        step = last
        for hook in reversed(self._emit_hooks):
            step = _emit_step(hook, step)
        return step

    def _require_running(self) -> None:
        if self._state is not BusState.RUNNING:
            raise EmitterNotRunningError(
                f"the bus is {self._state}: emit inside `async with bus:` "
                "(with Litestar, the plugin enters it in the app's lifespan)"
            )

    # -- lifecycle --------------------------------------------------------------------

    async def __aenter__(self) -> EventBus:
        if self._state is not BusState.STOPPED:
            raise EmitterNotRunningError(
                f"the bus is already {self._state}; enter `async with bus` once at a time"
            )
        self._state = BusState.STARTING
        try:
            await self.backend.__aenter__()
        except BaseException:
            self._state = BusState.STOPPED
            raise
        self._token = anyio.lowlevel.current_token()
        self._loop_thread = threading.get_ident()
        self._state = BusState.RUNNING
        self._running = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Still "running" while the backend drains: follow-up emits from listeners
        # are delivered.
        try:
            await self.backend.__aexit__(exc_type, exc_value, traceback)
        finally:
            self._state = BusState.STOPPED
            self._running = False
            self._token = None
            self._loop_thread = None

    # -- observing ----------------------------------------------------------------------

    def add_observer(self, observer: EmitObserver) -> Callable[[], None]:
        """Call ``observer(event)`` on every validated emit; returns a function that removes it.

        This is what :mod:`typed_events.testing` builds on.
        """
        self._observers.append(observer)
        self._unwatched = False

        def remove() -> None:
            self._observers.remove(observer)
            self._unwatched = not self._observers and not self._emit_hooks

        return remove


def _emit_step(
    hook: Callable[[Event, Callable[[Event], None]], None], following: Callable[[Event], None]
) -> Callable[[Event], None]:
    return lambda event: hook(event, following)
