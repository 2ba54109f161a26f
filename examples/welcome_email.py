"""Example 1 of Litestar's events guide: send a welcome email when a user is created."""

from __future__ import annotations

import anyio
import anyio.lowlevel

from examples.events import UserCreated
from typed_events import EventBus, listener

outbox: list[str] = []


@listener(UserCreated)
async def send_welcome_email_handler(event: UserCreated) -> None:
    """Event style: the listener gets the validated, frozen event."""
    await anyio.lowlevel.checkpoint()  # stands in for talking to the mail server
    outbox.append(f"welcome mail to {event.email}")


bus = EventBus(listeners=[send_welcome_email_handler])


async def main() -> None:
    """Emit like a request handler would, then drain on exit."""
    async with bus:
        bus.emit("user_created", email="ada@example.com")  # the Litestar form, validated now
    print(*outbox, sep="\n")


if __name__ == "__main__":
    anyio.run(main)
