"""Plain ``litestar.events`` listeners, seen as typed listeners of the bus."""

from __future__ import annotations

from typing import Any

from litestar.events import EventListener
from litestar.utils.sync import AsyncCallable

from typed_events.listeners import Listener, listener

__all__ = ["not_a_litestar_listener", "original_callable", "typed_listener"]


def typed_listener(event_listener: EventListener) -> Listener[..., Any]:
    """The typed listener for a ``litestar.events.listener`` function: same function,
    same ids, checked and delivered by typed-events (not Litestar's error wrapper).

    :raises TypeError: if ``event_listener`` is not a decorated ``EventListener``.
    """
    if not isinstance(event_listener, EventListener) or not hasattr(event_listener, "fn"):
        raise TypeError(not_a_litestar_listener(event_listener))
    return listener(*sorted(event_listener.event_ids))(original_callable(event_listener))


def original_callable(event_listener: EventListener) -> Any:
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


def not_a_litestar_listener(item: object) -> str:
    """The message for something in ``Litestar(listeners=[...])`` that is not a plain listener."""
    if isinstance(item, Listener):
        return (
            f"Litestar(listeners=[...]) got the typed listener {item.name}; typed listeners "
            "belong in EventBus(listeners=[...]), the bus you pass to TypedEventsPlugin(bus)"
        )
    return (
        f"Litestar(listeners=[...]) takes functions decorated with litestar.events.listener, "
        f"got {item!r}"
    )
