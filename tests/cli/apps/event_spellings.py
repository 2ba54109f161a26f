"""Listeners meant to take the event, spelled so that they are not recognized as such."""

from __future__ import annotations

from typed_events import Event, listener


class ParcelShipped(Event, event_id="parcel_shipped"):
    parcel_id: int
    carrier: str


@listener(ParcelShipped)
async def notify_buyer(*, event: ParcelShipped) -> None:
    """Keyword-only: the event is passed positionally."""


@listener(ParcelShipped)
async def track(event: ParcelShipped | None) -> None:
    """An event is never None."""


listeners = [notify_buyer, track]
