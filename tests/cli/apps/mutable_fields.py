"""Events a listener could change under another one, and subclasses that nobody receives."""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field

from typed_events import Event, EventBus, listener


class Address(BaseModel):
    city: str


class Label(BaseModel):
    model_config = ConfigDict(frozen=True)

    text: str
    colors: list[str]


@dataclass(frozen=True)
class Money:
    cents: int


class OrderPlaced(Event, event_id="order_placed"):
    order_id: int
    items: list[str]
    quantities: dict[str, list[int]]
    codes: set[str] | None = None
    address: Address
    label: Label
    history: tuple[list[int], ...] = ()
    frozen_items: tuple[str, ...] = ()
    totals: Mapping[str, int] = {}
    flags: frozenset[str] = frozenset()
    price: Money = Money(0)


@dataclass
class Crate:
    weight: int


@dataclass(frozen=True)
class Parcel:
    sizes: list[int]


class Node(BaseModel):
    """A frozen tree: walked once per path, its own children are not walked again."""

    model_config = ConfigDict(frozen=True)

    tags: list[str]
    children: tuple[Node, ...] = ()


class StockCounted(Event, event_id="stock_counted"):
    counts: Counter[str]
    crate: Crate
    parcel: Parcel
    tree: Node
    waiting: deque[int]
    limited: Annotated[list[int], Field(max_length=3)]
    batches: Sequence[set[int]]
    names: Sequence[str] = ()


class RushOrderPlaced(OrderPlaced, event_id="rush_order_placed"):
    """A subclass: its own id, so the listeners of order_placed never receive it."""

    deadline: str


class GiftOrderPlaced(OrderPlaced, event_id="gift_order_placed"):
    """A subclass the bus knows, still without a listener."""


class Unheard(Event, event_id="unheard"):
    """No listener receives it: its list is nobody's to change."""

    items: list[str]


@listener(OrderPlaced)
async def ship(event: OrderPlaced) -> None:
    """Receives order_placed only."""


@listener(StockCounted)
def restock(**kwargs: object) -> None:
    """Kwargs style receives the same list objects as every other listener."""


bus = EventBus(listeners=[ship, restock], events=[GiftOrderPlaced, Unheard])
