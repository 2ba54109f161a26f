"""Example 2 of Litestar's events guide: one listener on two events."""

from __future__ import annotations

from typing import Any

import anyio

from examples.events import PasswordChanged, UserCreated
from typed_events import EventBus, listener

outbox: list[str] = []


@listener(UserCreated, PasswordChanged)
async def send_email_handler(email: str, message: str = "Welcome!", **kwargs: Any) -> None:
    """Kwargs style: the fields arrive as keyword arguments; defaults fill the gaps."""
    outbox.append(f"to {email}: {message}")


bus = EventBus(listeners=[send_email_handler])


async def main() -> None:
    """Both events reach the one listener."""
    async with bus:
        bus.emit(UserCreated(email="ada@example.com"))
        bus.emit(PasswordChanged, email="ada@example.com", message="Password updated")
    print(*sorted(outbox), sep="\n")


if __name__ == "__main__":
    anyio.run(main)
