"""Events for the typing snippets (no deliberate errors here)."""

import datetime
import enum
import uuid
from typing import Final, Generic, Literal, TypeVar

from pydantic import BaseModel

from typed_events import Event

ORDER_PLACED: Final = "order_placed"


class UserCreated(Event, event_id="user_created"):
    email: str


class PasswordChanged(Event):
    email: str
    message: str = "changed"


class OrderPlaced(Event, event_id=ORDER_PLACED):
    order_id: int


# -- the corpus's richer events (tests/typing_snippets/corpus_valid.py) ---------------------


class Colour(enum.Enum):
    RED = "red"
    BLUE = "blue"


class Address(BaseModel):
    street: str
    city: str


Email = str
Scores = dict[str, list[int]]


class ProfileUpdated(Event):
    user_id: uuid.UUID
    at: datetime.datetime
    nickname: str | None = None
    colour: Colour = Colour.RED
    plan: Literal["free", "pro"] = "free"
    address: Address | None = None
    tags: list[str] = []
    scores: Scores = {}
    score: float = 0.0
    active: bool = True


class Invited(Event, event_id="invited"):
    email: Email
    count: int = 1


class UrgentPasswordChanged(PasswordChanged):
    level: int


T = TypeVar("T")


class Boxed(Event, Generic[T]):
    value: T
