"""Events for the typing snippets (no deliberate errors here)."""

from typing import Final

from typed_events import Event

ORDER_PLACED: Final = "order_placed"


class UserCreated(Event, event_id="user_created"):
    email: str


class PasswordChanged(Event):
    email: str
    message: str = "changed"


class OrderPlaced(Event, event_id=ORDER_PLACED):
    order_id: int
