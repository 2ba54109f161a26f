"""pyee's AsyncIOEventEmitter: ``emit`` calls each handler and wraps its coroutine in a task.

It validates nothing and holds no queue: every pending call is a live task. Sync
handlers run inline, inside ``emit``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from pyee.asyncio import AsyncIOEventEmitter

from .measure import (
    BATCH,
    EMAIL,
    EVENT_ID,
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
    paced,
    percentiles_us,
)


def _counting(tally: Tally) -> Callable[..., Any]:
    async def on_flagged(email: str, reason: str) -> None:
        tally.hit()

    return on_flagged


def _emitter(*handlers: Callable[..., Any]) -> AsyncIOEventEmitter:
    emitter = AsyncIOEventEmitter()
    for handler in handlers:
        emitter.add_listener(EVENT_ID, handler)
    return emitter


async def throughput(n: int, listeners: int) -> Metrics:
    """Emit ``n`` events (one task per handler call) until all are handled."""
    tallies = [Tally(n) for _ in range(listeners)]
    emitter = _emitter(*(_counting(t) for t in tallies))
    clock = Clock()
    for _ in range(n):
        emitter.emit(EVENT_ID, email=EMAIL, reason=REASON)
    for tally in tallies:
        await tally.finish()
    clock.stop()
    await emitter.wait_for_complete()
    return {
        **clock.rates(n),
        "emitted": n,
        "delivered": delivered(tallies),
    }


async def emit_cost(n: int) -> Metrics:
    """Time inside ``emit`` per call, in batches (see typed_events_bench.emit_cost)."""
    tally = Tally()
    emit = _emitter(_counting(tally)).emit
    batches = Batches()
    sent = 0
    while sent < n:
        size = min(BATCH, n - sent)
        start = now_ns()
        for _ in range(size):
            emit(EVENT_ID, email=EMAIL, reason=REASON)
        batches.add(now_ns() - start, size)
        sent += size
        await tally.wait_until(sent)
    return {
        "emit_us": batches.median_us(),
        "emit_us_mean": batches.mean_us(),
        "emitted": sent,
        "delivered": tally.count,
    }


async def burst(n: int, trace: bool) -> Metrics:
    """``n`` emits as fast as possible: every call not yet run is a pending task."""
    tally = Tally(n)
    emitter = _emitter(_counting(tally))
    with MemoryProbe(trace) as probe:
        clock = Clock()
        for _ in range(n):
            emitter.emit(EVENT_ID, email=EMAIL, reason=REASON)
        await tally.finish()
        clock.stop()
    return {
        **probe.metrics(),
        **clock.rates(n),
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_steady(n: int, rate: float, warmup: int) -> Metrics:
    """Emit-to-listener-start at a steady ``rate``."""
    tally = Tally(n)
    log = StartLog(n)
    emails = [email_of(i) for i in range(n)]

    async def on_flagged(email: str, reason: str) -> None:
        log.record(email)
        tally.hit()

    emit = _emitter(on_flagged).emit

    def emit_one(index: int) -> None:
        emit(EVENT_ID, email=emails[index], reason=REASON)

    emitted, achieved = await paced(n, rate, emit_one)
    await tally.finish()
    return {
        **latencies(emitted, log.starts, warmup),
        "achieved_rate": achieved,
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_one(n: int, warmup: int) -> Metrics:
    """One event at a time: emit, wait until the listener has run, repeat."""
    tally = Tally()
    emit = _emitter(_counting(tally)).emit
    samples: list[int] = []
    for index in range(n):
        start = now_ns()
        emit(EVENT_ID, email=EMAIL, reason=REASON)
        await tally.wait_until(index + 1)
        samples.append(now_ns() - start)
    return {**percentiles_us(samples[warmup:]), "emitted": n, "delivered": tally.count}


async def sync_throughput(n: int) -> Metrics:
    """``n`` events to one sync handler, which pyee calls inline (no thread)."""
    tally = Tally(n)

    def on_flagged(email: str, reason: str) -> None:
        tally.hit_threadsafe()

    emit = _emitter(on_flagged).emit
    clock = Clock()
    for _ in range(n):
        emit(EVENT_ID, email=EMAIL, reason=REASON)
    await tally.finish()
    clock.stop()
    return {**clock.rates(n), "emitted": n, "delivered": tally.count}
