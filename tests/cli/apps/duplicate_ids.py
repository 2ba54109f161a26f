"""Two event classes claiming one id."""

from __future__ import annotations

from typed_events import Event, listener


class ShipmentSent(Event, event_id="shipment"):
    tracking: str


class ShipmentArrived(Event, event_id="shipment"):
    tracking: str


@listener(ShipmentSent)
async def on_sent(event: ShipmentSent) -> None:
    """Subscribes to one of them."""


@listener(ShipmentArrived)
async def on_arrived(event: ShipmentArrived) -> None:
    """Subscribes to the other."""


listeners = [on_sent, on_arrived]
