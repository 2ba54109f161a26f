"""Events with and without a partition key, on the Redis backend (never started here)."""

from __future__ import annotations

import os

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend


class OrderPlaced(Event, event_id="order_placed", partition_key="order_id"):
    order_id: str
    total_cents: int


class StockCounted(Event, event_id="stock_counted"):
    sku: str


@listener(OrderPlaced, ordered=True)
async def ship(event: OrderPlaced) -> None:
    """Ordered: one holder per partition, so one order's events in emit order."""


@listener(OrderPlaced)
async def email(event: OrderPlaced) -> None:
    """Unordered: reads every partition."""


@listener(StockCounted, ordered=True)
async def recount(event: StockCounted) -> None:
    """Ordered, but the event has no key: one stream, ordered in one process only."""


# The tests point it at their private redis-server.
url = os.environ.get("SHOP_REDIS_URL", "redis://127.0.0.1:6379/0")
bus = EventBus([ship, email, recount], backend=RedisStreamsBackend(url, service="shop"))
