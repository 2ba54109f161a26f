"""The app the process tests run: ``typed-events outbox relay tests.sqlalchemy.relay_app:outbox``.

It reads ``OUTBOX_DATABASE_URL`` and ``OUTBOX_REDIS_URL``; ``OUTBOX_PUBLISH_DELAY``
(seconds) slows each publish down, so a test can kill the relay in the middle of a
backlog, and ``OUTBOX_BATCH_SIZE`` sets the rows per round.
"""

from __future__ import annotations

import os

import anyio
from sqlalchemy import create_engine

from typed_events import Event, EventBus
from typed_events.backends.redis import RedisStreamsBackend
from typed_events.sqlalchemy import Outbox

from .models import Numbered


class SlowBackend(RedisStreamsBackend):
    """Redis Streams, with a pause before each acknowledged write (one at a time, so a
    backlog takes at least ``delay`` seconds per row even though the relay publishes a
    batch concurrently)."""

    delay = float(os.environ.get("OUTBOX_PUBLISH_DELAY", "0"))
    lock = anyio.Lock()

    async def emit_async(self, event: Event) -> None:
        if self.delay:
            async with self.lock:
                await anyio.sleep(self.delay)
        await super().emit_async(event)


bus = EventBus(
    events=[Numbered],
    backend=SlowBackend(os.environ["OUTBOX_REDIS_URL"], service="relay", consume=False),
)
outbox = Outbox(
    bus,
    create_engine(os.environ["OUTBOX_DATABASE_URL"]),
    batch_size=int(os.environ.get("OUTBOX_BATCH_SIZE", "50")),
)
