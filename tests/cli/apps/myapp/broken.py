"""myapp/broken.py: Litestar's events guide's listeners, without **kwargs; a typo in an id."""

from __future__ import annotations

from typing import Any

from typed_events import listener

from .events import UserDeleted

__all__ = ["UserDeleted", "listeners"]


@listener("user_deleted")
async def send_farewell_email_handler(email: str) -> None:
    """Takes the email, not the reason."""


@listener("user_deleted")
async def notify_customer_support(reason: str) -> None:
    """Takes the reason, not the email."""


@listener("user_creatd")
async def track_signup(email: str, **kwargs: Any) -> None:
    """Subscribed to a misspelt id."""


listeners = [send_farewell_email_handler, notify_customer_support, track_signup]
