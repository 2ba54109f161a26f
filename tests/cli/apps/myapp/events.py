"""myapp/events.py: the events of a small app, its listeners and its bus."""

from __future__ import annotations

from typing import Any

from typed_events import Event, EventBus, listener


class UserCreated(Event, event_id="user_created"):
    """A user signed up."""

    email: str
    name: str = "anonymous"


class UserDeleted(Event, event_id="user_deleted"):
    """A user closed their account."""

    email: str
    reason: str


class PasswordChanged(Event):
    email: str
    message: str


@listener(UserCreated, retries=3, timeout=10.0)
async def send_welcome(event: UserCreated) -> None:
    """Send the welcome mail."""


@listener(UserCreated, PasswordChanged)
async def send_email(email: str, message: str = "Welcome", **kwargs: Any) -> None:
    """Send a mail about the account."""


@listener("user_deleted", ordered=True)
def notify_customer_support(reason: str, **kwargs: Any) -> None:
    """Open a support ticket (sync: runs in a worker thread)."""


bus = EventBus(
    listeners=[send_welcome, send_email, notify_customer_support],
    events=[UserCreated, PasswordChanged, UserDeleted],
)
