"""The event bus: validates at the call site, routes to checked listeners, runs a backend."""

from __future__ import annotations

import contextvars
import inspect
import threading
from collections.abc import Callable, Iterable
from enum import StrEnum
from types import TracebackType
from typing import Any, ParamSpec, cast, overload

import anyio
import anyio.from_thread
import anyio.lowlevel
from pydantic import BaseModel

from typed_events._routing import Routing
from typed_events.backends.base import BaseEventEmitterBackend, ShutdownReport
from typed_events.backends.memory import SimpleEventEmitter
from typed_events.dispatch import DeliveryStats, Dispatcher, DispatchResult, ErrorHandler
from typed_events.errors import DuplicateEventError, EmitterNotRunningError, UnknownEventError
from typed_events.events import Event, resolve_live
from typed_events.listeners import Listener
from typed_events.middleware import Middleware

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
        _require_error_handler(on_error)
        self.middleware = tuple(_require_middleware(m) for m in middleware)
        self.routing = Routing.build(
            cast("Iterable[Listener[..., Any]]", listeners), cast("Iterable[type[Event]]", events)
        )
        self.registry = self.routing.registry
        self.backend = backend if backend is not None else SimpleEventEmitter()
        self.dispatcher = Dispatcher(
            self.routing, on_error, on_error_timeout=on_error_timeout, middleware=self.middleware
        )
        # Attached now, so a backend given to a second bus is refused before it is used.
        self.backend.attach(self.dispatcher)
        self._emit_hooks = [m.on_emit for m in self.middleware if _overrides_on_emit(m)]
        # The registry is fixed once the bus is built; emit reads these on every call.
        self._build_by_class = {cls: _builder(cls) for cls in self.registry}
        self._build_by_id = {cls.event_id: build for cls, build in self._build_by_class.items()}
        self._backend_emit = self.backend.emit
        self._running = False
        self._state = BusState.STOPPED
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread: int | None = None
        self._observers: list[EmitObserver] = []

    @property
    def listeners(self) -> tuple[Listener[..., Any], ...]:
        """The listeners, in registration order."""
        return self.routing.listeners

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
        if (
            self._running
            and not self._observers
            and not self._emit_hooks
            and threading.get_ident() == self._loop_thread
        ):
            self._backend_emit(instance)  # the common case, checked in one go
            return
        self._require_running()
        if threading.get_ident() == self._loop_thread:
            self._through_hooks(instance, self._accept)
            return
        # From another thread: hand over to the event loop and wait only for the
        # hand-over (so a full queue still raises here), with this thread's contextvars.
        context = contextvars.copy_context()
        try:
            anyio.from_thread.run_sync(
                lambda: context.run(self._through_hooks, instance, self._accept),
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
        if self._observers or self._emit_hooks:
            self._through_hooks(instance, self._notify)
        await self.backend.emit_async(instance)

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
        self._through_hooks(instance, self._notify)
        return await self.dispatcher.dispatch(instance)

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
        return self._validate_any(event, args, kwargs)

    def _validate_any(
        self,
        event: Event | Callable[..., Event] | str,
        args: tuple[Any, ...],
        kwargs: dict[str, Any],
    ) -> Event:
        if event is Event or type(event) is Event:
            raise TypeError(
                "emit() got the Event base class; emit an Event subclass (class "
                "UserCreated(Event): ...), an instance of one, or an event id"
            )
        if isinstance(event, Event):
            if args or kwargs:
                raise TypeError(
                    f"emit() got an {type(event).__qualname__} instance and extra arguments; "
                    "pass either an instance or the class (or id) with its fields"
                )
            registered = self.registry.get(event.event_id)
            if registered is not None and registered is not type(event):
                raise DuplicateEventError(event.event_id, (registered, type(event)))
            return event
        if isinstance(event, str):
            event_class = self.registry.get(event) or resolve_live(event)
            if event_class is None:
                raise UnknownEventError(event, self.registry.ids(), "in emit()")
        elif isinstance(event, type) and issubclass(event, Event):
            event_class = event
            registered = self.registry.get(event_class.event_id)
            if registered is not None and registered is not event_class:
                raise DuplicateEventError(event_class.event_id, (registered, event_class))
        else:
            raise TypeError(
                f"emit() takes an Event instance, an Event class or an event id, got {event!r}"
            )
        if args:
            kwargs = _fill_positional(event_class, args, kwargs)
        return event_class(**kwargs)

    def _notify(self, instance: Event) -> None:
        for observe in self._observers:
            observe(instance)

    def _accept(self, instance: Event) -> None:
        self._notify(instance)
        self._backend_emit(instance)

    def _through_hooks(self, instance: Event, last: Callable[[Event], None]) -> None:
        """Run the middleware's ``on_emit`` hooks around ``last`` (first outermost)."""
        hooks = self._emit_hooks
        if not hooks:
            last(instance)
            return

        def step(index: int) -> Callable[[Event], None]:
            if index == len(hooks):
                return last
            hook, following = hooks[index], step(index + 1)
            return lambda event: hook(event, following)

        step(0)(instance)

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
        return lambda: self._observers.remove(observer)


def _require_error_handler(on_error: object) -> None:
    if on_error is None:
        return
    if not callable(on_error):
        raise TypeError(
            f"on_error must be callable as on_error(event, listener, exception), got {on_error!r}"
        )
    try:
        inspect.signature(on_error).bind(None, None, None)
    except TypeError as error:
        raise TypeError(
            f"on_error={on_error!r} cannot be called as on_error(event, listener, exception) "
            f"({error}); give it three parameters, e.g. "
            "`def on_error(event: Event, listener: Listener[..., Any], exc: BaseException)`"
        ) from None
    except ValueError:
        return  # no signature to read (a builtin): undecidable, so accepted


def _require_middleware(item: object) -> Middleware:
    if isinstance(item, Middleware):
        return item
    raise TypeError(
        f"EventBus(middleware=[...]) takes typed_events.Middleware objects, got {item!r}; "
        "subclass Middleware and override on_emit and/or on_call"
    )


def _overrides_on_emit(middleware: Middleware) -> bool:
    return type(middleware).on_emit is not Middleware.on_emit


def _fill_positional(
    event_class: type[Event], args: tuple[Any, ...], kwargs: dict[str, Any]
) -> dict[str, Any]:
    names = list(event_class.model_fields)
    if len(args) > len(names):
        raise TypeError(
            f"{event_class.__qualname__} takes at most {len(names)} positional field value(s) "
            f"({', '.join(names)}), got {len(args)}"
        )
    filled = dict(zip(names, args, strict=False))
    both = sorted(filled.keys() & kwargs.keys())
    if both:
        raise TypeError(
            f"{event_class.__qualname__}: field(s) {', '.join(both)} given both by position "
            "and by keyword"
        )
    return {**filled, **kwargs}


def _builder(event_class: type[Event]) -> Callable[[dict[str, Any]], Event]:
    """Validate field values into an instance: ``event_class(**fields)``, only faster.

    Calling the model's validator directly skips ``type.__call__`` and
    ``BaseModel.__init__``'s Python frame (about a third of the cost of building a small
    event); same instance, same ValidationError. A class with its own ``__init__`` keeps
    the constructor, so that ``__init__`` still runs.
    """
    init: object = event_class.__init__
    if init is not BaseModel.__init__:
        return lambda fields: event_class(**fields)
    validate: Callable[[dict[str, Any]], Event] = event_class.__pydantic_validator__.validate_python
    return validate
