"""Example 3 of Litestar's events guide: two listeners on one event, each taking what it needs."""

from __future__ import annotations

from typing import Any

import anyio

from examples.events import UserDeleted
from typed_events import EventBus, listener

log: list[str] = []


@listener(UserDeleted)
async def send_farewell_email_handler(email: str, **kwargs: Any) -> None:
    """Takes the email; **kwargs accepts the reason it does not need."""
    log.append(f"farewell mail to {email}")


@listener(UserDeleted)
def notify_customer_support(reason: str, **kwargs: Any) -> None:
    """A sync listener: runs in a worker thread, so it may block."""
    log.append(f"support ticket: {reason}")


bus = EventBus(listeners=[send_farewell_email_handler, notify_customer_support])


async def main() -> None:
    """One emit, both listeners run (the first begins first)."""
    async with bus:
        result = await bus.emit_and_wait("user_deleted", email="ada@example.com", reason="deleted")
    print(*log, sep="\n")
    print("all listeners ok:", result.ok)


if __name__ == "__main__":
    anyio.run(main)
