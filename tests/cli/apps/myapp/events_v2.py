"""myapp/events_v2.py: the next version of myapp/events.py, for ``schema diff``."""

from __future__ import annotations

from typing import Any

from typed_events import Event, EventBus, listener


class UserCreated(Event, event_id="user_created"):
    """A user signed up."""

    email: str
    name: str = "anonymous"
    plan: str  # new and required: old producers do not send it
    locale: str = "en"  # new with a default: old messages still validate


class UserDeleted(Event, event_id="user_deleted"):
    """A user closed their account."""

    email: str
    reason: str | None = None  # optional, and may now be null


class UserRenamed(Event, event_id="user_renamed"):
    email: str
    name: str


@listener(UserCreated, UserRenamed)
async def send_welcome(email: str, **kwargs: Any) -> None:
    """Send a mail."""


@listener(UserDeleted)
def notify_customer_support(event: UserDeleted) -> None:
    """Open a support ticket."""


bus = EventBus(listeners=[send_welcome, notify_customer_support])
