"""Routing: which listeners receive which event, resolved and checked once, at build time."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any, cast

from typed_events._signatures import Style, call_shape, check_listener
from typed_events._upcasting import chain_problems
from typed_events.errors import (
    ListenerSignatureError,
    ProblemKind,
    SignatureProblem,
    UnknownEventError,
    UsageError,
)
from typed_events.events import Event, EventRegistry, all_live_ids, resolve_live
from typed_events.listeners import Listener

__all__ = ["Routing", "Subscription"]


class Subscription:
    """One listener subscribed to one event class, with its call prepared once."""

    __slots__ = ("call", "event_class", "is_async", "listener", "ordered", "style")

    def __init__(self, listener: Listener[..., Any], event_class: type[Event], style: Style):
        self.listener = listener
        self.event_class = event_class
        self.style = style
        # Read on every delivery: plain attributes, not lookups through the listener.
        self.is_async = listener.is_async
        self.ordered = listener.options.ordered
        self.call: Callable[[Event], Any] = _prepared_call(listener.func, style)

    def __repr__(self) -> str:
        return f"<Subscription {self.listener.name} to {self.event_class.event_id}>"


def _prepared_call(func: Callable[..., Any], style: Style) -> Callable[[Event], Any]:
    """Call ``func`` with an event, in the listener's style."""
    if style is Style.EVENT:
        return func
    # Kwargs style: the field values themselves (not model_dump() output). A model's
    # __dict__ holds exactly its fields.
    return lambda event: func(**event.__dict__)


class Routing:
    """The checked wiring of a bus: its registry and, per event id, its subscriptions.

    Build it with :meth:`build` (raises on problems) or :meth:`inspect` (returns them).
    """

    def __init__(
        self,
        registry: EventRegistry,
        listeners: tuple[Listener[..., Any], ...],
        routes: dict[str, tuple[Subscription, ...]],
    ) -> None:
        self.registry = registry
        self.listeners = listeners
        self.routes = routes

    def subscriptions(self, event_id: str) -> tuple[Subscription, ...]:
        """The subscriptions for ``event_id``, in registration order (may be empty)."""
        return self.routes.get(event_id, ())

    @classmethod
    def build(
        cls, listeners: Iterable[Listener[..., Any]], events: Iterable[type[Event]] = ()
    ) -> Routing:
        """Resolve and check the wiring.

        :raises ListenerSignatureError: listing every problem found.
        :raises DuplicateEventError: if two classes claim one id.
        """
        routing, problems = cls.inspect(listeners, events)
        if problems:
            raise ListenerSignatureError(problems)
        return routing

    @classmethod
    def inspect(
        cls, listeners: Iterable[Listener[..., Any]], events: Iterable[type[Event]] = ()
    ) -> tuple[Routing, list[SignatureProblem]]:
        """Resolve and check the wiring, returning the problems instead of raising."""
        listeners = tuple(_require_listener(item) for item in listeners)
        registry = EventRegistry(events)
        for subscriber in listeners:
            for ref in subscriber.events:
                if not isinstance(ref, str):
                    registry.register(ref)
        problems: list[SignatureProblem] = []
        routes: dict[str, list[Subscription]] = {}
        for subscriber in listeners:
            resolved = [(ref, _resolve(ref, registry)) for ref in subscriber.events]
            names = {c.__name__: c for c in registry}
            shape = call_shape(subscriber.func, names)
            for ref, event_class in resolved:
                if event_class is None:
                    problems.append(_unknown_id_problem(subscriber, str(ref), registry))
                    continue
                found = check_listener(subscriber, event_class, shape)
                problems.extend(found)
                if not found:
                    subscriptions = routes.setdefault(event_class.event_id, [])
                    if all(s.listener is not subscriber for s in subscriptions):
                        subscriptions.append(Subscription(subscriber, event_class, shape.style))
        problems.extend(_chain_problems(registry))
        frozen = {event_id: tuple(subs) for event_id, subs in routes.items()}
        return cls(registry, listeners, frozen), problems


def _resolve(ref: type[Event] | str, registry: EventRegistry) -> type[Event] | None:
    if not isinstance(ref, str):
        return ref
    event_class = registry.get(ref)
    if event_class is None:
        event_class = resolve_live(ref)
        if event_class is not None:
            registry.register(event_class)
    return event_class


def _unknown_id_problem(
    subscriber: Listener[..., Any], event_id: str, registry: EventRegistry
) -> SignatureProblem:
    error = UnknownEventError(event_id, {*registry.ids(), *all_live_ids()})
    hint = f' (did you mean "{error.suggestion}"?)' if error.suggestion else ""
    return SignatureProblem(
        subscriber.name,
        subscriber.location,
        event_id,
        None,
        f"no event class declares this id{hint}",
        f"fix the id, or define `class X(Event, event_id={event_id!r})` and pass it in "
        "EventBus(events=[...])",
        ProblemKind.UNKNOWN_EVENT,
    )


def _chain_problems(registry: EventRegistry) -> list[SignatureProblem]:
    """Gaps and duplicates in the upcasters of every event the bus knows."""
    return [
        SignatureProblem(
            p.subject,
            p.location,
            p.event.event_id,
            None,
            f"version {p.version}: {p.message}",
            p.fix,
            ProblemKind.UPCASTER_CHAIN,
        )
        for event_class in registry
        for p in chain_problems(event_class)
    ]


def _require_listener(item: object) -> Listener[..., Any]:
    if isinstance(item, Listener):
        return cast("Listener[..., Any]", item)
    raise UsageError(
        f"EventBus(listeners=[...]) takes functions decorated with @listener(...), got {item!r}; "
        "decorate it: @listener(MyEvent)"
    )
