"""Events with nested models, containers, literals and odd ids, for the schema export."""

from __future__ import annotations

import datetime
from enum import StrEnum
from typing import Literal

from pydantic import BaseModel, Field

from typed_events import Event, EventBus, listener


class Address(BaseModel):
    street: str
    city: str
    country: str = "NL"


class Plan(StrEnum):
    FREE = "free"
    PRO = "pro"


class CustomerMoved(Event, event_id="crm:customer.moved"):
    """A customer gave a new address."""

    customer_id: int = Field(ge=1)
    old: Address | None = None
    new: Address
    at: datetime.datetime
    tags: tuple[str, ...] = ()


class PlanChanged(Event, event_id="crm:plan.changed"):
    customer_id: int
    plan: Plan
    source: Literal["web", "api"] = "web"


@listener(CustomerMoved)
async def update_shipping(event: CustomerMoved) -> None:
    """Uses the new address."""


bus = EventBus(listeners=[update_shipping], events=[PlanChanged])
