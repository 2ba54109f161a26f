"""Litestar's SimpleEventEmitter, used directly: listeners in, ``async with``, ``emit``, exit.

It validates nothing: the payload travels as ``**kwargs``. Its stream is unbounded, and
each listener call is a new task.
"""

from __future__ import annotations

from typing import Any

from litestar.events import SimpleEventEmitter, listener

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


def _counting(tally: Tally) -> Any:
    @listener(EVENT_ID)
    async def on_flagged(email: str, reason: str) -> None:
        tally.hit()

    return on_flagged


def _logging(tally: Tally, log: StartLog) -> Any:
    @listener(EVENT_ID)
    async def on_flagged(email: str, reason: str) -> None:
        log.record(email)
        tally.hit()

    return on_flagged


async def throughput(n: int, listeners: int) -> Metrics:
    """Emit ``n`` events (the stream takes them all at once) until all are handled."""
    tallies = [Tally(n) for _ in range(listeners)]
    async with SimpleEventEmitter([_counting(t) for t in tallies]) as emitter:
        clock = Clock()
        for _ in range(n):
            emitter.emit(EVENT_ID, email=EMAIL, reason=REASON)
        for tally in tallies:
            await tally.finish()
        clock.stop()
    return {
        **clock.rates(n),
        "emitted": n,
        "delivered": delivered(tallies),
    }


async def emit_cost(n: int) -> Metrics:
    """Time inside ``emit`` per call, in batches (see typed_events_bench.emit_cost)."""
    tally = Tally()
    batches = Batches()
    sent = 0
    async with SimpleEventEmitter([_counting(tally)]) as emitter:
        emit = emitter.emit
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
    """``n`` emits as fast as possible: the unbounded stream holds whatever is not handled."""
    tally = Tally(n)
    async with SimpleEventEmitter([_counting(tally)]) as emitter:
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
    async with SimpleEventEmitter([_logging(tally, log)]) as emitter:
        emit = emitter.emit

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
    samples: list[int] = []
    async with SimpleEventEmitter([_counting(tally)]) as emitter:
        emit = emitter.emit
        for index in range(n):
            start = now_ns()
            emit(EVENT_ID, email=EMAIL, reason=REASON)
            await tally.wait_until(index + 1)
            samples.append(now_ns() - start)
    return {**percentiles_us(samples[warmup:]), "emitted": n, "delivered": tally.count}


async def sync_throughput(n: int) -> Metrics:
    """``n`` events to one sync listener, which Litestar runs in a worker thread per call."""
    tally = Tally(n)

    @listener(EVENT_ID)
    def on_flagged(email: str, reason: str) -> None:
        tally.hit_threadsafe()

    async with SimpleEventEmitter([on_flagged]) as emitter:
        clock = Clock()
        for _ in range(n):
            emitter.emit(EVENT_ID, email=EMAIL, reason=REASON)
        await tally.finish()
        clock.stop()
    return {**clock.rates(n), "emitted": n, "delivered": tally.count}
