"""A plain Litestar app (no plugin) with the seed's listener mistake, and typed event models."""

from __future__ import annotations

from litestar import Litestar
from litestar.events import listener

from typed_events import Event


class TicketClosed(Event, event_id="ticket_closed"):
    ticket: int
    reason: str


@listener("ticket_closed")
async def notify_reporter(ticket: int) -> None:
    """Has no parameter for "reason" and no **kwargs."""


app = Litestar(listeners=[notify_reporter])
