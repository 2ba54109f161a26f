"""myapp/orders.py: an event whose list a listener could change under another one."""

from __future__ import annotations

from typed_events import Event, EventBus, listener


class OrderPlaced(Event, event_id="order_placed"):
    order_id: int
    items: list[str]


@listener(OrderPlaced)
async def reserve_stock(event: OrderPlaced) -> None:
    """Reads event.items; `event.items.clear()` here would empty it for every listener."""


bus = EventBus(listeners=[reserve_stock])
