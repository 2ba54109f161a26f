"""Listeners whose annotations cannot take the fields' types."""

from __future__ import annotations

from typing import Any

from typed_events import Event, listener


class OrderPaid(Event, event_id="order_paid"):
    order_id: int
    coupon: str | None = None


@listener(OrderPaid)
async def record_payment(order_id: str, coupon: str | None = None) -> None:
    """order_id is an int field, annotated str here."""


@listener(OrderPaid)
async def apply_coupon(coupon: str, **kwargs: Any) -> None:
    """coupon may be None, annotated str here."""


listeners = [record_payment, apply_coupon]
