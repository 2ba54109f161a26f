"""The floor: validate the same Pydantic model, append to a deque, pop, await the listener.

One plain loop, no emitter: about as fast as Python can validate and deliver an event.
Its "emit" is the validation plus the append; its listener runs right after, so its
latency is the cost of that loop turn.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Coroutine
from typing import Any

import anyio.to_thread
from pydantic import BaseModel, ConfigDict

from .measure import (
    BATCH,
    EMAIL,
    REASON,
    Batches,
    Clock,
    MemoryProbe,
    Metrics,
    StartLog,
    Tally,
    delivered,
    email_of,
    latencies,
    now_ns,
    paced_async,
    percentiles_us,
)


class UserFlagged(BaseModel):
    """The payload as typed-events declares it: frozen, no extra fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    email: str
    reason: str


AsyncListener = Callable[[UserFlagged], Coroutine[Any, Any, None]]


def _counting(tally: Tally) -> AsyncListener:
    async def on_flagged(event: UserFlagged) -> None:
        tally.hit()

    return on_flagged


async def _loop(n: int, calls: list[AsyncListener]) -> None:
    queue: deque[UserFlagged] = deque()
    for _ in range(n):
        queue.append(UserFlagged(email=EMAIL, reason=REASON))
        event = queue.popleft()
        for call in calls:
            await call(event)


async def throughput(n: int, listeners: int) -> Metrics:
    """``n`` turns of the loop."""
    tallies = [Tally(n) for _ in range(listeners)]
    clock = Clock()
    await _loop(n, [_counting(t) for t in tallies])
    clock.stop()
    return {
        **clock.rates(n),
        "emitted": n,
        "delivered": delivered(tallies),
    }


async def emit_cost(n: int) -> Metrics:
    """Validate-and-append per call, in batches; also ``Model(**kw)`` and ``model_construct``."""
    tally = Tally()
    call = _counting(tally)
    queue: deque[UserFlagged] = deque()
    emits, builds, constructs = Batches(), Batches(), Batches()
    sent = 0
    while sent < n:
        size = min(BATCH, n - sent)
        start = now_ns()
        for _ in range(size):
            queue.append(UserFlagged(email=EMAIL, reason=REASON))
        emits.add(now_ns() - start, size)
        start = now_ns()
        for _ in range(size):
            UserFlagged(email=EMAIL, reason=REASON)
        builds.add(now_ns() - start, size)
        start = now_ns()
        for _ in range(size):
            UserFlagged.model_construct(email=EMAIL, reason=REASON)
        constructs.add(now_ns() - start, size)
        sent += size
        while queue:
            await call(queue.popleft())
    return {
        "emit_us": emits.median_us(),
        "emit_us_mean": emits.mean_us(),
        "model_validate_us": builds.median_us(),
        "model_construct_us": constructs.median_us(),
        "emitted": sent,
        "delivered": tally.count,
    }


async def burst(n: int, trace: bool) -> Metrics:
    """``n`` turns of the loop: memory stays flat since each event is gone before the next."""
    tally = Tally(n)
    with MemoryProbe(trace) as probe:
        clock = Clock()
        await _loop(n, [_counting(tally)])
        clock.stop()
    return {
        **probe.metrics(),
        **clock.rates(n),
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_steady(n: int, rate: float, warmup: int) -> Metrics:
    """Validate-to-listener-start at a steady ``rate``."""
    tally = Tally(n)
    log = StartLog(n)
    emails = [email_of(i) for i in range(n)]
    queue: deque[UserFlagged] = deque()

    async def on_flagged(event: UserFlagged) -> None:
        log.record(event.email)
        tally.hit()

    async def emit_one(index: int) -> None:
        queue.append(UserFlagged(email=emails[index], reason=REASON))
        await on_flagged(queue.popleft())

    emitted, achieved = await paced_async(n, rate, emit_one)
    return {
        **latencies(emitted, log.starts, warmup),
        "achieved_rate": achieved,
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_one(n: int, warmup: int) -> Metrics:
    """One loop turn at a time, then the same wait as the emitters (already resolved)."""
    tally = Tally()
    call = _counting(tally)
    queue: deque[UserFlagged] = deque()
    samples: list[int] = []
    for index in range(n):
        start = now_ns()
        queue.append(UserFlagged(email=EMAIL, reason=REASON))
        await call(queue.popleft())
        await tally.wait_until(index + 1)
        samples.append(now_ns() - start)
    return {**percentiles_us(samples[warmup:]), "emitted": n, "delivered": tally.count}


async def sync_throughput(n: int) -> Metrics:
    """The loop with a sync listener run in a worker thread, one call at a time."""
    tally = Tally(n)

    def on_flagged(event: UserFlagged) -> None:
        tally.hit_threadsafe()

    queue: deque[UserFlagged] = deque()
    clock = Clock()
    for _ in range(n):
        queue.append(UserFlagged(email=EMAIL, reason=REASON))
        await anyio.to_thread.run_sync(on_flagged, queue.popleft())
    await tally.finish()
    clock.stop()
    return {**clock.rates(n), "emitted": n, "delivered": tally.count}
