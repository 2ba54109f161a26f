"""Litestar's events guide's warning, made an error at startup: listeners missing fields.

In Litestar this fails later, in a background task, as a logged TypeError. Here,
building the bus raises one ListenerSignatureError that lists both listeners.
"""

from __future__ import annotations

from typing import Any

from examples.events import UserDeleted
from typed_events import EventBus, Listener, ListenerSignatureError, listener


@listener(UserDeleted)
async def send_farewell_email_handler(email: str) -> None:
    """Missing **kwargs: UserDeleted also sends `reason`."""


@listener(UserDeleted)
async def notify_customer_support(reason: str) -> None:
    """Missing **kwargs: UserDeleted also sends `email`."""


listeners: list[Listener[..., Any]] = [send_farewell_email_handler, notify_customer_support]


def main() -> None:
    """Build the bus and show the error a broken app stops with at startup."""
    try:
        EventBus(listeners=listeners)
    except ListenerSignatureError as error:
        print(f"ListenerSignatureError: {error}")
    else:
        raise SystemExit("expected the registration check to fail")


if __name__ == "__main__":
    main()
