"""When Redis is away: which errors mean "try again", and how long to wait before it.

Part of :mod:`typed_events.backends.redis`.
"""

from __future__ import annotations

import random

import anyio
import redis.exceptions

__all__ = ["RETRYABLE", "Backoff", "describe", "is_missing_group", "sleep_unless"]

RETRYABLE: tuple[type[BaseException], ...] = (
    redis.exceptions.ConnectionError,  # includes BusyLoadingError (AOF being loaded)
    redis.exceptions.TimeoutError,
    redis.exceptions.ReadOnlyError,  # a failover in progress
    redis.exceptions.TryAgainError,
    redis.exceptions.ClusterDownError,
    OSError,
)
"""Errors that mean "Redis is not reachable right now": back off and try again."""


class Backoff:
    """Exponential backoff with jitter, for reconnecting: 50 ms doubling up to 5 s."""

    def __init__(self, first: float = 0.05, cap: float = 5.0) -> None:
        self.first = first
        self.cap = cap
        self.failures = 0

    def next_delay(self) -> float:
        """Seconds to wait after one more failure."""
        delay = min(self.cap, self.first * 2.0**self.failures)
        self.failures += 1
        return delay * random.uniform(0.5, 1.0)

    def reset(self) -> None:
        """Forget past failures (after a success)."""
        self.failures = 0


def describe(exc: BaseException) -> str:
    """``Type: message`` for logs (redis-py's repr hides the message)."""
    return f"{type(exc).__name__}: {exc}"


def is_missing_group(exc: BaseException) -> bool:
    """True for Redis's NOGROUP error: the consumer group (or its stream) is gone."""
    return isinstance(exc, redis.exceptions.ResponseError) and "NOGROUP" in str(exc)


async def sleep_unless(event: anyio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``event`` is set meanwhile."""
    with anyio.move_on_after(seconds):
        await event.wait()
