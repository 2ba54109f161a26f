"""Every exception typed-events raises on purpose, in one place.

Each message says what went wrong, where, and how to fix it.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .signatures import SignatureProblem

__all__ = [
    "DuplicateEventError",
    "EmitterNotRunningError",
    "ListenerSignatureError",
    "QueueFullError",
    "TypedEventsError",
    "UnknownEventError",
]


class TypedEventsError(Exception):
    """Base class of the errors typed-events raises on purpose."""


class DuplicateEventError(TypedEventsError, ValueError):
    """Two different event classes claim one event id."""

    def __init__(self, event_id: str, classes: Iterable[type]) -> None:
        self.event_id = event_id
        self.classes = tuple(classes)
        names = " and ".join(f"{c.__module__}.{c.__qualname__}" for c in self.classes)
        super().__init__(
            f'event id "{event_id}" is claimed by {names}; '
            "give one of them another id (class X(Event, event_id=...)), "
            "or pass the one you mean in EventBus(events=[...])"
        )


class UnknownEventError(TypedEventsError, LookupError):
    """An event id that no registered event class declares."""

    def __init__(self, event_id: str, known: Iterable[str], where: str = "") -> None:
        self.event_id = event_id
        self.known = sorted(known)
        self.suggestion = closest(event_id, self.known)
        hint = f'did you mean "{self.suggestion}"? ' if self.suggestion else ""
        place = f" ({where})" if where else ""
        listing = ", ".join(f'"{k}"' for k in self.known) or "none"
        super().__init__(
            f'unknown event id "{event_id}"{place}: {hint}'
            f"known ids: {listing}. Define it with class X(Event, event_id={event_id!r}) "
            "and pass it in EventBus(events=[...]) or to a listener."
        )

    def __str__(self) -> str:
        # LookupError would quote the message like a dict key; keep it readable.
        return str(self.args[0])


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, if any is close enough to be a typo."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


class ListenerSignatureError(TypedEventsError, TypeError):
    """One or more listeners cannot accept the events they subscribe to.

    ``problems`` holds every finding; the message lists them one per line.
    """

    def __init__(self, problems: Iterable[SignatureProblem]) -> None:
        self.problems: list[SignatureProblem] = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} listener signature {noun}:\n{lines}")


class EmitterNotRunningError(TypedEventsError, RuntimeError):
    """The bus was used outside ``async with bus`` (before start, after stop, or twice)."""


class QueueFullError(TypedEventsError, RuntimeError):
    """A synchronous ``emit`` found the bounded queue full."""

    def __init__(self, max_pending: int) -> None:
        self.max_pending = max_pending
        super().__init__(
            f"the event queue is full ({max_pending} events pending); "
            "listeners are not keeping up. Use `await bus.emit_async(...)` to wait for room, "
            "or raise SimpleEventEmitter(max_pending=...)."
        )
