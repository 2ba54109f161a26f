"""A correct app: every listener fits its events and every event has a listener."""

from __future__ import annotations

from typing import Any

from typed_events import Event, EventBus, listener


class UserCreated(Event, event_id="user_created"):
    """A user signed up."""

    email: str
    name: str = "anonymous"


class PasswordChanged(Event):
    email: str
    message: str


@listener(UserCreated, retries=3, timeout=5.0)
async def send_welcome(event: UserCreated) -> None:
    """Event style: receives the instance."""


@listener(UserCreated, PasswordChanged)
async def send_email(email: str, message: str = "Welcome", **kwargs: Any) -> None:
    """Kwargs style: receives the fields."""


@listener("password_changed", ordered=True)
def audit(email: str, **kwargs: Any) -> None:
    """Sync, by string id."""


bus = EventBus(listeners=[send_welcome, send_email, audit])
listeners = [send_welcome, send_email, audit]
