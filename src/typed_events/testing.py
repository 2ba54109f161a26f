"""Test helpers: capture the events a bus emits and assert on them with types.

```python
with capture_events(bus) as captured:
    await client.post("/users", json={...})
captured.assert_emitted(UserCreated, email="a@example.com")
```
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from contextlib import contextmanager
from typing import Any, TypeVar

from typed_events.bus import EventBus
from typed_events.events import Event

__all__ = ["CapturedEvents", "capture_events"]

E = TypeVar("E", bound=Event)


class CapturedEvents:
    """The validated events a bus emitted while capturing, in emit order."""

    def __init__(self) -> None:
        self.events: list[Event] = []

    def record(self, event: Event) -> None:
        """Append ``event``; the bus calls this on every validated emit."""
        self.events.append(event)

    def of_type(self, event_class: type[E]) -> list[E]:
        """The captured instances of ``event_class`` (subclasses included), in emit order."""
        return [e for e in self.events if isinstance(e, event_class)]

    def assert_emitted(self, event_class: type[E], /, **fields: Any) -> E:
        """Assert an ``event_class`` event with these field values was emitted; return it.

        Only the fields given are compared. With several matches, the first is returned.

        :raises AssertionError: listing what was emitted instead.
        :raises TypeError: if a field name is not a field of ``event_class``.
        """
        unknown = sorted(set(fields) - set(event_class.model_fields))
        if unknown:
            raise TypeError(
                f"{event_class.__qualname__} has no field(s) {', '.join(unknown)}; "
                f"its fields are: {', '.join(event_class.model_fields)}"
            )
        candidates = self.of_type(event_class)
        for event in candidates:
            if all(getattr(event, name) == value for name, value in fields.items()):
                return event
        wanted = ", ".join(f"{k}={v!r}" for k, v in fields.items())
        seen = "\n".join(f"  {e!r}" for e in self.events) or "  (nothing)"
        raise AssertionError(
            f"no {event_class.__qualname__}({wanted}) was emitted; emitted events:\n{seen}"
        )

    def assert_not_emitted(self, event_class: type[Event]) -> None:
        """Assert no ``event_class`` event was emitted."""
        found = self.of_type(event_class)
        if found:
            raise AssertionError(
                f"expected no {event_class.__qualname__}, but {len(found)} were emitted: {found!r}"
            )

    def clear(self) -> None:
        """Forget what was captured so far."""
        self.events.clear()

    def __len__(self) -> int:
        return len(self.events)

    def __iter__(self) -> Iterator[Event]:
        return iter(self.events)


@contextmanager
def capture_events(bus: EventBus) -> Generator[CapturedEvents, None, None]:
    """Record every event ``bus`` validates and accepts while the block runs.

    Listeners still run; capturing only watches.
    """
    captured = CapturedEvents()
    remove = bus.add_observer(captured.record)
    try:
        yield captured
    finally:
        remove()
