"""``emit_after_commit``: emit on the bus once the session's transaction has committed."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any, ParamSpec, overload

from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from typed_events.bus import EventBus
from typed_events.events import Event
from typed_events.sqlalchemy._commit_hooks import on_commit

__all__ = ["emit_after_commit"]

logger = logging.getLogger("typed_events")

P = ParamSpec("P")


@overload
def emit_after_commit(session: Session | AsyncSession, bus: EventBus, event: Event, /) -> None: ...
@overload
def emit_after_commit(
    session: Session | AsyncSession,
    bus: EventBus,
    event: Callable[P, Event],
    /,
    *args: P.args,
    **kwargs: P.kwargs,
) -> None: ...
@overload
def emit_after_commit(
    session: Session | AsyncSession, bus: EventBus, event: str, /, *args: Any, **kwargs: Any
) -> None: ...
def emit_after_commit(
    session: Session | AsyncSession,
    bus: EventBus,
    event: Event | Callable[..., Event] | str,
    /,
    *args: Any,
    **kwargs: Any,
) -> None:
    """Validate an event now; emit it on ``bus`` after ``session``'s transaction commits.

    The same three forms as :meth:`EventBus.emit <typed_events.EventBus.emit>`. If the
    transaction rolls back (or the session closes without committing) the event is
    dropped. Inside ``session.begin_nested()``, the event belongs to that savepoint: a
    savepoint that rolls back drops its own events only, and a released one still waits
    for the outermost commit. With an ``AsyncSession`` this stays a plain call.

    Not durable: a crash between the commit and the emit loses the event, and an emit
    that fails after the commit (the bus stopped, its queue full) is logged, not raised.
    Use :class:`~typed_events.sqlalchemy.Outbox` when the event must not be lost.

    :param session: a ``Session`` or ``AsyncSession``; with no transaction open, one is
        begun (as ``session.add`` would).
    :raises pydantic.ValidationError: if the payload does not fit the event.
    :raises UnknownEventError: for an id no event declares.
    :raises sqlalchemy.exc.InvalidRequestError: with no transaction and autobegin off.
    """
    instance = bus.validate(event, *args, **kwargs)

    def emit() -> None:
        try:
            bus.emit(instance)
        except Exception:
            logger.exception(
                "emit_after_commit: %s %r was committed but could not be emitted; it is "
                "lost (use typed_events.sqlalchemy.Outbox for events that must not be)",
                instance.event_id,
                instance,
            )

    on_commit(session, emit, caller="emit_after_commit()")
