"""What the pipeline reports: outcomes of listener calls, and the counters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from typed_events.events import Event
from typed_events.listeners import Listener

__all__ = [
    "CallEnd",
    "Counters",
    "DeliveryStats",
    "DispatchResult",
    "ErrorHandler",
    "ListenerOutcome",
]

ErrorHandler = Callable[[Event, Listener[..., Any], BaseException], Awaitable[None] | None]
"""``on_error(event, listener, exception)``: sync or async."""


class CallEnd(StrEnum):
    """How one accepted listener call ended; also the ``outcome`` field of log records."""

    DELIVERED = "delivered"  # the listener returned
    FAILED = "failed"  # it raised on its last attempt (logged, passed to on_error)
    DROPPED = "dropped"  # it never completed: the backend stopped first
    REDELIVERED = "redelivered"  # a durable backend gives it another delivery later
    RETRYING = "retrying"  # log records only: an attempt failed, another follows


@dataclass(frozen=True)
class DeliveryStats:
    """A snapshot of a bus's counters; nothing is dropped without counting it.

    After the bus has stopped, ``delivered + failed + dropped + redelivered == accepted``.
    """

    emitted: int = 0  # events accepted that had at least one listener
    accepted: int = 0  # listener calls accepted (an event with 3 listeners: 3)
    delivered: int = 0  # calls that returned
    failed: int = 0  # calls that finally raised (after their retries)
    dropped: int = 0  # calls not completed when the backend stopped
    redelivered: int = 0  # failed deliveries a durable backend retries later
    rejected: int = 0  # emits refused with QueueFullError

    @property
    def settled(self) -> int:
        """Calls that ended one way or another."""
        return self.delivered + self.failed + self.dropped + self.redelivered


class Counters:
    """The live, mutable counters behind :class:`DeliveryStats` (backends bump them)."""

    __slots__ = tuple(DeliveryStats.__dataclass_fields__)

    def __init__(self) -> None:
        for name in self.__slots__:
            setattr(self, name, 0)

    emitted: int
    accepted: int
    delivered: int
    failed: int
    dropped: int
    redelivered: int
    rejected: int

    def snapshot(self) -> DeliveryStats:
        """A frozen copy."""
        return DeliveryStats(*(getattr(self, name) for name in self.__slots__))


@dataclass(frozen=True)
class ListenerOutcome:
    """What one listener did with one event: its return value or its exception."""

    listener: Listener[..., Any]
    result: Any = None
    exception: BaseException | None = None
    attempts: int = 1

    @property
    def ok(self) -> bool:
        """True if the listener returned without raising."""
        return self.exception is None


@dataclass(frozen=True)
class DispatchResult:
    """The outcome of every listener for one event, in registration order."""

    event: Event
    outcomes: list[ListenerOutcome] = field(default_factory=list["ListenerOutcome"])

    @property
    def ok(self) -> bool:
        """True if every listener succeeded (also when there were none)."""
        return all(outcome.ok for outcome in self.outcomes)

    @property
    def exceptions(self) -> list[BaseException]:
        """The exceptions of the listeners that failed."""
        return [o.exception for o in self.outcomes if o.exception is not None]
