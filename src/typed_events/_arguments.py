"""What the bus is given, checked and prepared: emit arguments, ``on_error``, middleware."""

from __future__ import annotations

import inspect
from collections.abc import Callable
from typing import Any

from pydantic import BaseModel

from typed_events.errors import DuplicateEventError, UnknownEventError, UsageError
from typed_events.events import Event, EventRegistry, resolve_live
from typed_events.middleware import Middleware

__all__ = [
    "builder",
    "fill_positional",
    "require_error_handler",
    "require_middleware",
    "validate_any",
]


def fill_positional(
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


def builder(event_class: type[Event]) -> Callable[[dict[str, Any]], Event]:
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


def require_error_handler(on_error: object) -> None:
    """Refuse an ``on_error`` that cannot be called as ``on_error(event, listener, exc)``."""
    if on_error is None:
        return
    if not callable(on_error):
        raise UsageError(
            f"on_error must be callable as on_error(event, listener, exception), got {on_error!r}"
        )
    try:
        inspect.signature(on_error).bind(None, None, None)
    except TypeError as error:
        raise UsageError(
            f"on_error={on_error!r} cannot be called as on_error(event, listener, exception) "
            f"({error}); give it three parameters, e.g. "
            "`def on_error(event: Event, listener: Listener[..., Any], exc: BaseException)`"
        ) from None
    except ValueError:
        return  # no signature to read (a builtin): undecidable, so accepted


def require_middleware(item: object) -> Middleware:
    """Refuse what is not a :class:`~typed_events.Middleware`."""
    if isinstance(item, Middleware):
        return item
    raise UsageError(
        f"EventBus(middleware=[...]) takes typed_events.Middleware objects, got {item!r}; "
        "subclass Middleware and override on_emit and/or on_call"
    )


def validate_any(
    registry: EventRegistry,
    event: Event | Callable[..., Event] | str,
    args: tuple[Any, ...],
    kwargs: dict[str, Any],
) -> Event:
    """Any of the three emit forms, validated: the general path behind the bus's fast ones.

    :raises UsageError: for the Event base class, or an instance with extra arguments.
    :raises UnknownEventError: for an id no event declares.
    :raises DuplicateEventError: for another class with a registered id.
    """
    if event is Event or type(event) is Event:
        raise UsageError(
            "emit() got the Event base class; emit an Event subclass (class "
            "UserCreated(Event): ...), an instance of one, or an event id"
        )
    if isinstance(event, Event):
        if args or kwargs:
            raise UsageError(
                f"emit() got an {type(event).__qualname__} instance and extra arguments; "
                "pass either an instance or the class (or id) with its fields"
            )
        registered = registry.get(event.event_id)
        if registered is not None and registered is not type(event):
            raise DuplicateEventError(event.event_id, (registered, type(event)))
        return event
    if isinstance(event, str):
        event_class = registry.get(event) or resolve_live(event)
        if event_class is None:
            raise UnknownEventError(event, registry.ids(), "in emit()")
    elif isinstance(event, type) and issubclass(event, Event):
        event_class = event
        registered = registry.get(event_class.event_id)
        if registered is not None and registered is not event_class:
            raise DuplicateEventError(event_class.event_id, (registered, event_class))
    else:
        raise UsageError(
            f"emit() takes an Event instance, an Event class or an event id, got {event!r}"
        )
    if args:
        kwargs = fill_positional(event_class, args, kwargs)
    return event_class(**kwargs)
