"""Typed events in a Litestar app: a plugin that puts an :class:`~typed_events.EventBus`
behind ``app.emit(...)`` and checks every listener when the app is built.

```python
bus = EventBus(listeners=[send_welcome], events=[UserCreated])
app = Litestar(route_handlers=[create_user], plugins=[TypedEventsPlugin(bus)])
```

- The bus runs in the app's lifespan: the plugin installs an event emitter backend
  that enters it at startup and drains it at shutdown.
- ``request.app.emit("user_created", email=...)`` validates the payload against the
  event model at the call site; handlers can also take the bus as a dependency
  (``bus: NamedDependency[EventBus]``; plain ``bus: EventBus`` before Litestar 2.25)
  and emit typed instances, which mypy checks.
- Plain ``litestar.events.listener`` functions in ``Litestar(listeners=[...])`` are
  checked against the same event models and keep running, so an app can migrate one
  listener at a time. A listener that cannot take its events makes ``Litestar(...)``
  raise :class:`~typed_events.ListenerSignatureError`.
- A payload that does not fit its event is the emitting code's bug: a 500, logged on
  logger ``typed_events.litestar``. Emit inside ``with client_payload():`` when the
  values come from the request, to answer 400 instead.

Needs the ``litestar`` extra: ``pip install 'typed-events[litestar]'``.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Generator, Mapping, Sequence
from contextlib import AsyncExitStack, contextmanager
from types import TracebackType
from typing import Any, ClassVar

from litestar import Litestar
from litestar.config.app import AppConfig
from litestar.di import Provide
from litestar.events import BaseEventEmitterBackend as LitestarEmitterBackend
from litestar.events import EventListener
from litestar.events import SimpleEventEmitter as LitestarSimpleEventEmitter
from litestar.exceptions import ImproperlyConfiguredException, ValidationException

# The protocol, not its 2.15+ base class InitPlugin: it works from Litestar 2.10 on.
from litestar.plugins import InitPluginProtocol
from litestar.utils.sync import AsyncCallable
from pydantic import ValidationError

from typed_events.bus import EventBus
from typed_events.errors import UnknownEventError
from typed_events.events import Event
from typed_events.listeners import Listener, listener, qualified_name

__all__ = [
    "TypedEmitterBackend",
    "TypedEventsPlugin",
    "client_payload",
    "typed_listener",
    "wiring_of",
]

logger = logging.getLogger("typed_events.litestar")


class TypedEventsPlugin(InitPluginProtocol):
    """Run ``bus`` as the app's event emitter: ``Litestar(plugins=[TypedEventsPlugin(bus)])``.

    On app construction it checks the plain ``litestar.events`` listeners of
    ``Litestar(listeners=[...])`` against the bus's event models (the bus checked its
    own listeners when it was built), installs :class:`TypedEmitterBackend`, provides
    the bus as the dependency ``dependency_key``, and logs rejected event payloads.

    :param bus: the typed bus; its listeners, events, backend and ``on_error`` apply.
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
            ``event_emitter_backend``, or already has a dependency named ``dependency_key``.
        """
        current = app_config.event_emitter_backend
        if current is not LitestarSimpleEventEmitter and current is not self.backend_class:
            raise ImproperlyConfiguredException(
                f"TypedEventsPlugin installs its own event_emitter_backend, and this app sets "
                f"event_emitter_backend={current.__qualname__}; remove it and choose the "
                "backend of the typed bus instead: EventBus(..., backend=...)"
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
        hooks.append(_log_rejected_payload)
        return app_config

    def _provide_bus(self) -> EventBus:
        return self.bus


class TypedEmitterBackend(LitestarEmitterBackend):
    """Litestar's ``event_emitter_backend`` that hands every emit to a typed bus.

    Installed by :class:`TypedEventsPlugin` (one subclass per plugin, bound to its
    bus); Litestar builds it with the app's plain listeners and enters it in the
    lifespan. Plain listeners run on a second, internal in-memory bus that shares the
    event models, so they are checked and validated like typed ones.

    :raises ListenerSignatureError: if a plain listener cannot take its events.
    :raises TypeError: if ``listeners`` holds something other than
        ``litestar.events.listener`` functions.
    """

    bus: ClassVar[EventBus]

    def __init__(self, listeners: Sequence[EventListener]) -> None:
        for item in listeners:
            if not isinstance(item, EventListener):
                raise TypeError(_not_a_litestar_listener(item))
        super().__init__(listeners=listeners)
        self.plain_listeners: tuple[Listener[..., Any], ...] = tuple(
            typed_listener(item) for item in dict.fromkeys(listeners)
        )
        self.plain_bus: EventBus | None = None
        if self.plain_listeners:
            self.plain_bus = EventBus(
                self.plain_listeners,
                events=list(self.bus.registry),
                on_error=self.bus.dispatcher.on_error,
            )
        self._exit_stack: AsyncExitStack | None = None

    @property
    def event_classes(self) -> tuple[type[Event], ...]:
        """Every event model the bus and the plain listeners know, without repeats."""
        plain = self.plain_bus.registry if self.plain_bus is not None else ()
        return tuple(dict.fromkeys([*self.bus.registry, *plain]))

    def emit(self, event_id: str, *args: Any, **kwargs: Any) -> None:
        """Validate the payload, then queue it for typed and plain listeners; never waits.

        Also takes an event instance or class in place of ``event_id``, as
        :meth:`EventBus.emit <typed_events.EventBus.emit>` does.

        :raises pydantic.ValidationError: if the payload does not fit the event.
        :raises UnknownEventError: for an id no event declares.
        :raises EmitterNotRunningError: before the app's startup or after its shutdown.
        """
        event = self.bus.validate(event_id, *args, **kwargs)
        self.bus.emit(event)
        if self.plain_bus is not None:
            self.plain_bus.emit(event)

    async def __aenter__(self) -> TypedEmitterBackend:
        async with AsyncExitStack() as stack:
            # The typed bus drains first at shutdown, while the plain one still runs:
            # follow-up `app.emit(...)` calls of typed listeners reach both.
            if self.plain_bus is not None:
                await stack.enter_async_context(self.plain_bus)
            await stack.enter_async_context(self.bus)
            self._exit_stack = stack.pop_all()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        stack, self._exit_stack = self._exit_stack, None
        if stack is not None:
            await stack.__aexit__(exc_type, exc_value, traceback)


def _backend_class_for(bus: EventBus) -> type[TypedEmitterBackend]:
    # Litestar instantiates `event_emitter_backend(listeners=...)` itself, so the bus
    # travels on a subclass made for it.
    bound_bus = bus

    class BoundTypedEmitterBackend(TypedEmitterBackend):
        bus = bound_bus

    return BoundTypedEmitterBackend


def typed_listener(event_listener: EventListener) -> Listener[..., Any]:
    """The typed listener for a ``litestar.events.listener`` function: same function,
    same ids, checked and delivered by typed-events (not Litestar's error wrapper).

    :raises TypeError: if ``event_listener`` is not a decorated ``EventListener``.
    """
    if not isinstance(event_listener, EventListener) or not hasattr(event_listener, "fn"):
        raise TypeError(_not_a_litestar_listener(event_listener))
    return listener(*sorted(event_listener.event_ids))(_original_callable(event_listener))


def _original_callable(event_listener: EventListener) -> Any:
    """The function the user decorated, under Litestar's wrappers."""
    func: Any = event_listener.fn
    # Litestar >= 2.5 wraps it in a closure that logs exceptions (litestar#2809).
    code = getattr(func, "__code__", None)
    closure = getattr(func, "__closure__", None)
    is_error_wrapper = getattr(func, "__qualname__", "").endswith(
        "wrap_in_error_handler.<locals>.wrapped"
    )
    if is_error_wrapper and code is not None and closure and "fn" in code.co_freevars:
        func = closure[code.co_freevars.index("fn")].cell_contents
    if isinstance(func, AsyncCallable):  # a sync function, run in a thread by Litestar
        func = func.func
    return func


def _not_a_litestar_listener(item: object) -> str:
    if isinstance(item, Listener):
        return (
            f"Litestar(listeners=[...]) got the typed listener {item.name}; typed listeners "
            "belong in EventBus(listeners=[...]), the bus you pass to TypedEventsPlugin(bus)"
        )
    return (
        f"Litestar(listeners=[...]) takes functions decorated with litestar.events.listener, "
        f"got {item!r}"
    )


def wiring_of(app: Litestar) -> tuple[Sequence[Listener[..., Any]], Sequence[type[Event]]]:
    """The typed listeners and event models of a Litestar app, for ``typed-events check``.

    With :class:`TypedEventsPlugin`: the bus's listeners and events plus typed wrappers
    of the app's plain listeners. Without it: typed wrappers of the plain listeners
    alone, whose ids then resolve to the Event classes defined in the process.

    :param app: a built ``Litestar`` application.
    """
    emitter = app.event_emitter
    if isinstance(emitter, TypedEmitterBackend):
        return (*emitter.bus.listeners, *emitter.plain_listeners), emitter.event_classes
    by_id = getattr(emitter, "listeners", {})
    plain: dict[EventListener, None] = {}
    for listeners in by_id.values():
        # Litestar keeps a set per id; sort so reports come out in a stable order.
        ordered = sorted(listeners, key=lambda item: qualified_name(_original_callable(item)))
        plain.update(dict.fromkeys(ordered))
    return tuple(typed_listener(item) for item in plain), ()


@contextmanager
def client_payload() -> Generator[None, None, None]:
    """Answer 400 instead of 500 when an event built from request data does not validate.

    ```python
    with client_payload():
        request.app.emit("password_changed", **data)
    ```

    Turns a :class:`pydantic.ValidationError` raised in the block into Litestar's
    ``ValidationException`` (400) with the validation errors in ``extra``.
    """
    try:
        yield
    except ValidationError as exc:
        raise ValidationException(
            detail=f"the request's data does not fit the event {exc.title}",
            extra=json.loads(exc.json(include_url=False)),
        ) from exc


async def _log_rejected_payload(exc: Exception, scope: Mapping[str, object]) -> None:
    """Litestar ``after_exception`` hook: one clear log line for a rejected emit.

    ``scope`` is the ASGI scope (http or websocket), read as a plain mapping.
    """
    where = f"{scope.get('method', scope['type'])} {scope.get('path', '')}".strip()
    if isinstance(exc, UnknownEventError):
        logger.error("%s: the handler emitted an unknown event (500): %s", where, exc)
        return
    if not isinstance(exc, ValidationError):
        return
    app = scope.get("litestar_app")
    emitter = getattr(app, "event_emitter", None)
    known = emitter.event_classes if isinstance(emitter, TypedEmitterBackend) else ()
    event_class = next((c for c in known if c.__name__ == exc.title), None)
    if event_class is None:
        return  # not an event model: Litestar's own handling applies
    errors = "; ".join(
        f"{'.'.join(map(str, error['loc'])) or '(payload)'}: {error['msg']} "
        f"(got {error.get('input')!r})"
        for error in exc.errors(include_url=False)
    )
    logger.error(
        '%s: the handler emitted an invalid "%s" payload (%s), answered 500: %s. '
        "Fix the emitting code; if these values come from the request, emit inside "
        "`with client_payload():` to answer 400.",
        where,
        event_class.event_id,
        event_class.__qualname__,
        errors,
    )
