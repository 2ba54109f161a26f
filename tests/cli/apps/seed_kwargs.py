"""The seed's mistake (Litestar events docs, "Passing Arguments to Listeners").

``user_deleted`` is emitted with ``email`` and ``reason``; each listener takes only one
of them and has no ``**kwargs``, so each call would fail with a TypeError at run time.
"""

from __future__ import annotations

from typed_events import Event, listener


class UserDeleted(Event, event_id="user_deleted"):
    email: str
    reason: str


@listener("user_deleted")
async def send_farewell_email_handler(email: str) -> None:
    """Takes the email only."""


@listener("user_deleted")
async def notify_customer_support(reason: str) -> None:
    """Takes the reason only."""


listeners = [send_farewell_email_handler, notify_customer_support]
