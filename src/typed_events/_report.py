"""What a backend reports when it stops: the listener calls it could not deliver."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from typed_events.events import Event

__all__ = ["ShutdownReport", "UndeliveredCall", "UndeliveredReason"]


class UndeliveredReason(StrEnum):
    """Why a listener call did not complete before the backend stopped."""

    NOT_STARTED = "not started"  # accepted, still queued (or waiting in an ordered lane)
    CANCELLED = "cancelled"  # it was running and was cancelled
    NOT_WRITTEN = "not written"  # a durable backend never got the event written


@dataclass(frozen=True)
class UndeliveredCall:
    """A listener call that did not complete before the backend stopped."""

    event: Event
    listener: str
    reason: UndeliveredReason

    @property
    def dropped(self) -> bool:
        """True for an accepted listener call that is lost (not an unwritten event)."""
        return self.reason is not UndeliveredReason.NOT_WRITTEN


@dataclass(frozen=True)
class ShutdownReport:
    """What a backend could not deliver when it stopped; empty when it drained fully.

    :param calls: every call not delivered, by listener and reason.
    :param timed_out: the drain ran out of time (or was cut short by an interruption).
    :param interrupted_by: the ``BaseException`` that stopped the bus, if one did.
    """

    calls: tuple[UndeliveredCall, ...] = ()
    timed_out: bool = False
    interrupted_by: BaseException | None = None

    @property
    def clean(self) -> bool:
        """True if every accepted event reached every listener."""
        return not self.calls

    @property
    def undelivered(self) -> tuple[Event, ...]:
        """The events that did not reach at least one listener, in emit order."""
        return tuple({id(c.event): c.event for c in self.calls}.values())

    @property
    def cancelled(self) -> tuple[str, ...]:
        """Names of the listeners whose running calls were cancelled."""
        return tuple(
            dict.fromkeys(c.listener for c in self.calls if c.reason is UndeliveredReason.CANCELLED)
        )

    def __str__(self) -> str:
        if self.clean:
            return "all events delivered"
        lines = [f"{len(self.undelivered)} event(s) not fully delivered:"]
        lines += [f"  - {c.event.event_id} -> {c.listener}: {c.reason}" for c in self.calls]
        return "\n".join(lines)
