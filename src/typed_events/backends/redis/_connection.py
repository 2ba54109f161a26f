"""When Redis is away: which errors mean "try again", how long to wait, and what to log.

Part of :mod:`typed_events.backends.redis`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
import redis.exceptions

__all__ = ["RETRYABLE", "Backoff", "OutageWatch", "describe", "is_missing_group", "sleep_unless"]

logger = logging.getLogger("typed_events")

_Argument = TypeVar("_Argument")
_Result = TypeVar("_Result")

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


class OutageWatch:
    """Rides out Redis outages for one user of Redis, logging when each begins and ends.

    Every failed attempt in between is silent, so an outage of minutes is two log lines.

    :param who: names the user in the log, e.g. ``consumer group billing:app.on_paid``.
    """

    def __init__(self, who: str) -> None:
        self.who = who
        self.ongoing = False

    def failed(self, exc: BaseException) -> None:
        """Note an attempt that failed with a :data:`RETRYABLE` error."""
        if not self.ongoing:
            self.ongoing = True
            logger.warning(
                "%s: Redis unavailable (%s); retrying with backoff", self.who, describe(exc)
            )

    def succeeded(self) -> None:
        """Note an attempt that Redis answered."""
        if self.ongoing:
            self.ongoing = False
            logger.warning("%s reconnected to Redis", self.who)

    async def until_done(
        self, operation: Callable[[_Argument], Awaitable[_Result]], argument: _Argument
    ) -> _Result | None:
        """Run one Redis operation on a consumer group until Redis answers it.

        Outages are retried with backoff until the caller is cancelled (shutdown's
        deadline).

        :return: its result, or None if the group vanished (nothing is pending any more).
        :raises redis.exceptions.RedisError: for a refusal other than NOGROUP.
        """
        backoff = Backoff()
        while True:
            try:
                result = await operation(argument)
            except RETRYABLE as exc:
                self.failed(exc)
                await anyio.sleep(backoff.next_delay())
                continue
            except redis.exceptions.ResponseError as exc:
                if not is_missing_group(exc):
                    raise
                # The group vanished (Redis lost its data): nothing is pending any more;
                # the read loop recreates the group.
                return None
            self.succeeded()
            return result
