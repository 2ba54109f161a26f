"""Small helpers shared by the in-process Redis tests."""

from __future__ import annotations

import time
from collections.abc import Callable

import anyio
import pytest

from tests.redis.blocking import BlockingRedis
from typed_events.backends.redis._dead_letter import DeadLetter


async def eventually(condition: Callable[[], bool], what: str, within: float = 30.0) -> None:
    """Wait until ``condition()`` holds; ``within`` seconds only guards against a hang."""
    with anyio.move_on_after(within):
        while not condition():  # noqa: ASYNC110  # polling state that other tasks change
            await anyio.sleep(0.01)
        return
    pytest.fail(f"gave up after {within}s waiting for {what}")


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
    """Sync twin of :func:`eventually`: poll ``condition()`` until true (a test waiting for
    a subprocess); the timeout only guards against a hang and fails with ``what``."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            pytest.fail(f"gave up after {timeout}s waiting for {what}")
        time.sleep(0.05)


def dead_letters(client: BlockingRedis, prefix: str = "typed-events:") -> list[DeadLetter]:
    """Every entry of the dead-letter stream, oldest first."""
    entries = client.xrange(f"{prefix}dead-letter")
    return [DeadLetter.from_entry(e.identifier, e.field_values) for e in entries]
