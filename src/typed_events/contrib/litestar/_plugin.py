"""The plugin and the event emitter backend it installs: one bus behind ``app.emit``."""

from __future__ import annotations

import weakref
from collections.abc import Sequence
from types import TracebackType
from typing import Any, ClassVar

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.events import BaseEventEmitterBackend as LitestarEmitterBackend
from litestar.events import EventListener
from litestar.events import SimpleEventEmitter as LitestarSimpleEventEmitter
from litestar.exceptions import ImproperlyConfiguredException

# The protocol, not its 2.15+ base class InitPlugin: it works from Litestar 2.10 on.
from litestar.plugins import InitPluginProtocol

from typed_events._routing import Routing
from typed_events.bus import BusState, EventBus
from typed_events.contrib.litestar._payloads import log_rejected_payload
from typed_events.contrib.litestar._plain import (
    not_a_litestar_listener,
    original_callable,
    typed_listener,
)
from typed_events.errors import EmitterNotRunningError
from typed_events.events import Event
from typed_events.listeners import Listener, qualified_name

__all__ = ["TypedEmitterBackend", "TypedEventsPlugin", "wiring_of"]

# Which app's emitter runs each bus right now: a bus serves one app at a time.
_serving: weakref.WeakKeyDictionary[EventBus, TypedEmitterBackend] = weakref.WeakKeyDictionary()


class TypedEventsPlugin(InitPluginProtocol):
    """Run ``bus`` as the app's event emitter: ``Litestar(plugins=[TypedEventsPlugin(bus)])``.

    On app construction it checks the plain ``litestar.events`` listeners of
    ``Litestar(listeners=[...])`` against the bus's event models (the bus checked its
    own listeners when it was built), installs :class:`TypedEmitterBackend`, provides
    the bus as the dependency ``dependency_key``, and logs rejected event payloads.

    :param bus: the typed bus; its listeners, events, backend and ``on_error`` apply,
        to the plain listeners too.
    :param dependency_key: the parameter name under which handlers receive the bus
        (``bus: NamedDependency[EventBus]``); None to provide no dependency.
    :raises TypeError: if ``bus`` is not an :class:`~typed_events.EventBus`.
    """

    __slots__ = ("backend_class", "bus", "dependency_key")

    def __init__(self, bus: EventBus, *, dependency_key: str | None = "bus") -> None:
        if not isinstance(bus, EventBus):
            raise TypeError(
                f"TypedEventsPlugin(bus) takes an EventBus, got {bus!r}; "
                "build one with EventBus(listeners=[...], events=[...])"
            )
        self.bus = bus
        self.dependency_key = dependency_key
        self.backend_class = _backend_class_for(bus)

    def on_app_init(self, app_config: AppConfig) -> AppConfig:
        """Install the typed backend, the bus dependency and the payload log.

        :raises ImproperlyConfiguredException: if the app sets another
            ``event_emitter_backend`` or has a second ``TypedEventsPlugin``, or already
            has a dependency named ``dependency_key``.
        """
        current = app_config.event_emitter_backend
        if current is self.backend_class:
            return app_config  # this plugin is listed twice: installed once is enough
        if isinstance(current, type) and issubclass(current, TypedEmitterBackend):
            raise ImproperlyConfiguredException(
                "this app has two TypedEventsPlugins in Litestar(plugins=[...]), and an app "
                "runs one EventBus behind app.emit; keep one TypedEventsPlugin(bus), and put "
                "the listeners of both buses in its EventBus(listeners=[...])"
            )
        if current is not LitestarSimpleEventEmitter:
            raise ImproperlyConfiguredException(
                f"TypedEventsPlugin installs its own event_emitter_backend, and this app sets "
                f"Litestar(event_emitter_backend={current.__qualname__}); remove it and choose "
                "the backend of the typed bus instead: EventBus(..., backend=...)"
            )
        app_config.event_emitter_backend = self.backend_class
        key = self.dependency_key
        if key is not None:
            if key in app_config.dependencies:
                raise ImproperlyConfiguredException(
                    f'TypedEventsPlugin provides the dependency "{key}", and the app already '
                    f"has one with that name; pass TypedEventsPlugin(bus, dependency_key=...) "
                    "with another name, or dependency_key=None"
                )
            app_config.dependencies[key] = Provide(self._provide_bus, sync_to_thread=False)
        # Handlers annotated `bus: EventBus` under `from __future__ import annotations`.
        app_config.signature_namespace.setdefault("EventBus", EventBus)
        hooks: list[Any] = app_config.after_exception  # pyright: ignore[reportUnknownMemberType, reportUnknownVariableType]  # Litestar types these hooks with an unbound TypeVar, which pyright calls unknown
        hooks.append(log_rejected_payload)
        return app_config

    def _provide_bus(self) -> EventBus:
        return self.bus


class TypedEmitterBackend(LitestarEmitterBackend):
    """Litestar's ``event_emitter_backend`` that hands every emit to a typed bus.

    Installed by :class:`TypedEventsPlugin` (one subclass per plugin, bound to its
    bus); Litestar builds it with the app's plain listeners and enters it in the
    lifespan. The plain listeners are checked when it is built (so ``Litestar(...)``
    raises) and become listeners of the bus itself while the app runs
    (:meth:`EventBus.set_extra_listeners <typed_events.EventBus.set_extra_listeners>`):
    one routing, one backend and its limits, one shutdown report, and every emit path
    (``app.emit``, ``bus.emit``, ``emit_async``, ``emit_and_wait``, from a listener)
    reaches typed and plain listeners alike.

    :raises ListenerSignatureError: if a plain listener cannot take its events.
    :raises TypeError: if ``listeners`` holds something other than
        ``litestar.events.listener`` functions.
    """

    bus: ClassVar[EventBus]

    def __init__(self, listeners: Sequence[EventListener]) -> None:
        for item in listeners:
            if not isinstance(item, EventListener):
                raise TypeError(not_a_litestar_listener(item))
        super().__init__(listeners=listeners)
        self.plain_listeners: tuple[Listener[..., Any], ...] = tuple(
            typed_listener(item) for item in dict.fromkeys(listeners)
        )
        # The bus's own checker, now: a plain listener that cannot take its events
        # stops Litestar(...) here. (The bus checked its own listeners when built.)
        self.plain_routing = Routing.build(self.plain_listeners, tuple(self.bus.registry))
        self._serving = False

    @property
    def event_classes(self) -> tuple[type[Event], ...]:
        """Every event model the bus and the plain listeners know, without repeats."""
        return tuple(dict.fromkeys([*self.bus.registry, *self.plain_routing.registry]))

    def emit(self, event_id: str, *args: Any, **kwargs: Any) -> None:
        """Validate the payload, then queue it for every listener of the id; never waits.

        Also takes an event instance or class in place of ``event_id``, as
        :meth:`EventBus.emit <typed_events.EventBus.emit>` does. The event is accepted
        for all its listeners, typed and plain, or the call raises and none gets it.

        :raises pydantic.ValidationError: if the payload does not fit the event.
        :raises UnknownEventError: for an id no event declares.
        :raises EmitterNotRunningError: before this app's startup or after its shutdown.
        :raises QueueFullError: when the bus backend's bounded queue is full.
        """
        if not self._serving:
            raise EmitterNotRunningError(self._not_serving())
        self.bus.emit(event_id, *args, **kwargs)

    def _not_serving(self) -> str:
        if _serving.get(self.bus) is not None:
            return (
                "app.emit() was called on a Litestar app that has not started, while its "
                "EventBus runs for another app; a bus serves one app at a time: start this "
                "app (its lifespan runs the bus), or give each app its own EventBus"
            )
        return (
            "app.emit() was called before this Litestar app started or after it stopped: "
            "TypedEventsPlugin runs the bus in the app's lifespan; emit from request "
            "handlers, lifespan hooks or listeners (in tests, inside `with TestClient(app):`)"
        )

    async def __aenter__(self) -> TypedEmitterBackend:
        bus = self.bus
        if _serving.get(bus) is not None:
            raise EmitterNotRunningError(
                "this app's EventBus already runs for another Litestar app, which is still "
                "serving; a bus runs in one app's lifespan at a time: give each app its own "
                "EventBus(...) and TypedEventsPlugin, or stop the other app first"
            )
        if bus.state is not BusState.STOPPED:
            raise EmitterNotRunningError(
                f"TypedEventsPlugin starts the app's EventBus in the lifespan, and the bus is "
                f"already {bus.state}: some code entered `async with bus` itself; leave "
                "starting and stopping it to the plugin"
            )
        bus.set_extra_listeners(self.plain_listeners)
        _serving[bus] = self
        try:
            await bus.__aenter__()
        except BaseException:
            self._stopped()
            raise
        self._serving = True
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Still serving while the bus drains: follow-up emits reach every listener.
        try:
            await self.bus.__aexit__(exc_type, exc_value, traceback)
        finally:
            self._serving = False
            self._stopped()

    def _stopped(self) -> None:
        if _serving.get(self.bus) is self:
            del _serving[self.bus]
        self.bus.set_extra_listeners(())


def _backend_class_for(bus: EventBus) -> type[TypedEmitterBackend]:
    # Litestar instantiates `event_emitter_backend(listeners=...)` itself, so the bus
    # travels on a subclass made for it.
    bound_bus = bus

    class BoundTypedEmitterBackend(TypedEmitterBackend):
        bus = bound_bus

    return BoundTypedEmitterBackend


def wiring_of(app: Litestar) -> tuple[Sequence[Listener[..., Any]], Sequence[type[Event]]]:
    """The typed listeners and event models of a Litestar app, for ``typed-events check``.

    With :class:`TypedEventsPlugin`: the bus's listeners and events plus typed wrappers
    of the app's plain listeners. Without it: typed wrappers of the plain listeners
    alone, whose ids then resolve to the Event classes defined in the process.

    :param app: a built ``Litestar`` application.
    """
    emitter = app.event_emitter
    if isinstance(emitter, TypedEmitterBackend):
        plain = emitter.plain_listeners
        own = [item for item in emitter.bus.listeners if item not in emitter.bus.extra_listeners]
        return (*own, *plain), emitter.event_classes
    by_id = getattr(emitter, "listeners", {})
    found: dict[EventListener, None] = {}
    for listeners in by_id.values():
        # Litestar keeps a set per id; sort so reports come out in a stable order.
        ordered = sorted(listeners, key=lambda item: qualified_name(original_callable(item)))
        found.update(dict.fromkeys(ordered))
    return tuple(typed_listener(item) for item in found), ()
