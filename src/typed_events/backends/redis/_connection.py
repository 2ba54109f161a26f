"""When Redis is away: which errors mean "try again", how long to wait, and what to log.

Part of :mod:`typed_events.backends.redis`.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anyio
from coredis import exceptions as errors

__all__ = [
    "RETRYABLE",
    "Backoff",
    "RedisError",
    "OutageWatch",
    "cause_of",
    "describe",
    "is_auth_failure",
    "is_missing_group",
    "sleep_unless",
]

logger = logging.getLogger("typed_events")

_Argument = TypeVar("_Argument")
_Result = TypeVar("_Result")

RedisError = errors.RedisError
"""Every error the client raises for Redis's refusals and lost connections."""

RETRYABLE: tuple[type[BaseException], ...] = (
    errors.ConnectionError,  # includes BusyLoadingError (AOF being loaded)
    TimeoutError,
    errors.ReadOnlyError,  # a failover in progress
    errors.TryAgainError,
    errors.ClusterDownError,
    errors.ClusterError,  # "Maximum retries exhausted.": redirects while slots move
    # A refused login (WRONGPASS, NOAUTH), at connect time or after a reconnect: an
    # outage too (an operator fixes the ACL and the backend goes on), logged as itself.
    errors.AuthenticationError,
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
    """``Type: message``, for logs and errors."""
    return f"{type(exc).__name__}: {exc}"


def is_auth_failure(exc: BaseException) -> bool:
    """True when Redis refused the login: a wrong or missing password, an unknown or
    disabled ACL user (``WRONGPASS``, ``NOAUTH``), at connect time or after a reconnect."""
    return isinstance(exc, errors.AuthenticationError)


def cause_of(exc: BaseException, user: str) -> str:
    """Why Redis cannot be used, in words, for logs and errors.

    :param user: the ACL user the backend logs in as (``default`` without one in the URL).
    """
    if is_auth_failure(exc):
        return (
            f"authentication failed for user {user!r} ({describe(exc)}); check the password "
            "and the ACL user in the URL"
        )
    if isinstance(exc, errors.ReplicationError):  # Redis answers; its replicas do not
        return f"not confirmed by a replica ({describe(exc)})"
    return f"Redis unavailable ({describe(exc)})"


def is_missing_group(exc: BaseException) -> bool:
    """True for Redis's NOGROUP error (or XINFO's "no such key"): the consumer group, or
    its stream, is gone."""
    if isinstance(exc, errors.StreamDuplicateConsumerGroupError):
        return False
    if isinstance(exc, errors.StreamConsumerGroupError):  # NOGROUP
        return True
    return isinstance(exc, errors.ResponseError) and (
        "NOGROUP" in str(exc) or "no such key" in str(exc)
    )


async def sleep_unless(event: anyio.Event, seconds: float) -> None:
    """Sleep ``seconds``, or less if ``event`` is set meanwhile."""
    with anyio.move_on_after(seconds):
        await event.wait()


class OutageWatch:
    """Rides out Redis outages for one user of Redis, logging when each begins and ends.

    Every failed attempt in between is silent, so an outage of minutes is two log lines.

    A change of cause within an outage (Redis comes back but refuses the login, say) is
    logged too; an authentication failure is named as one, with the user.

    :param who: names the user in the log, e.g. ``consumer group billing:app.on_paid``.
    :param user: the ACL user the backend logs in as.
    """

    def __init__(self, who: str, user: str = "default") -> None:
        self.who = who
        self.user = user
        self.cause: str | None = None  # why Redis cannot be used now; None: it can

    @property
    def ongoing(self) -> bool:
        """True while Redis cannot be used."""
        return self.cause is not None

    def failed(self, exc: BaseException, waiting: str = "") -> None:
        """Note an attempt that failed with a :data:`RETRYABLE` error.

        :param waiting: what waits meanwhile, for the log (e.g. ``5 event(s) waiting``).
        """
        cause = cause_of(exc, self.user)
        if _kind(cause) != _kind(self.cause):
            log = logger.error if is_auth_failure(exc) else logger.warning
            log("%s: %s%s; retrying with backoff", self.who, cause, waiting)
        self.cause = cause

    def succeeded(self, what: str = "") -> None:
        """Note an attempt that Redis answered."""
        if self.ongoing:
            self.cause = None
            logger.warning("%s reconnected to Redis%s", self.who, what)

    async def until_done(
        self, operation: Callable[[_Argument], Awaitable[_Result]], argument: _Argument
    ) -> _Result | None:
        """Run one Redis operation on a consumer group until Redis answers it.

        Outages are retried with backoff until the caller is cancelled (shutdown's
        deadline).

        :return: its result, or None if the group vanished (nothing is pending any more).
        :raises RedisError: for a refusal other than NOGROUP.
        """
        backoff = Backoff()
        while True:
            try:
                result = await operation(argument)
            except RETRYABLE as exc:
                self.failed(exc)
                await anyio.sleep(backoff.next_delay())
                continue
            except errors.RedisError as exc:
                if not is_missing_group(exc):
                    raise
                # The group vanished (Redis lost its data): nothing is pending any more;
                # the read loop recreates the group.
                return None
            self.succeeded()
            return result


def _kind(cause: str | None) -> str | None:
    """The kind of a cause (its words before the details), so one outage logs once."""
    return None if cause is None else cause.split(" (", 1)[0]
