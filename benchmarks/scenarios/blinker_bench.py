"""blinker: ``send_async`` awaits every receiver inline, so the emitter pays for the listener.

Its figures are not comparable with queueing emitters (emit cost includes the
listener; latency is nil because nothing is queued): the report shows them apart.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Coroutine
from typing import Any

import anyio.to_thread
from blinker import Signal

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


def _counting(tally: Tally) -> Callable[..., Any]:
    async def on_flagged(sender: object, email: str, reason: str) -> None:
        tally.hit()

    return on_flagged


def _signal(*receivers: Callable[..., Any]) -> Signal:
    signal = Signal()
    for receiver in receivers:
        # weak=False: these receivers are closures that nothing else keeps alive.
        signal.connect(receiver, weak=False)
    return signal


async def throughput(n: int, listeners: int) -> Metrics:
    """``n`` awaited sends; each returns once every receiver has run."""
    tallies = [Tally(n) for _ in range(listeners)]
    send = _signal(*(_counting(t) for t in tallies)).send_async
    clock = Clock()
    for _ in range(n):
        await send(None, email=EMAIL, reason=REASON)
    for tally in tallies:
        await tally.finish()
    clock.stop()
    return {
        **clock.rates(n),
        "emitted": n,
        "delivered": delivered(tallies),
    }


async def emit_cost(n: int) -> Metrics:
    """Time inside ``await send_async`` per call, listener included."""
    tally = Tally()
    send = _signal(_counting(tally)).send_async
    batches = Batches()
    sent = 0
    while sent < n:
        size = min(BATCH, n - sent)
        start = now_ns()
        for _ in range(size):
            await send(None, email=EMAIL, reason=REASON)
        batches.add(now_ns() - start, size)
        sent += size
    return {
        "emit_us": batches.median_us(),
        "emit_us_mean": batches.mean_us(),
        "emitted": sent,
        "delivered": tally.count,
    }


async def burst(n: int, trace: bool) -> Metrics:
    """``n`` sends as fast as possible: nothing accumulates, the sender waits for each."""
    tally = Tally(n)
    send = _signal(_counting(tally)).send_async
    with MemoryProbe(trace) as probe:
        clock = Clock()
        for _ in range(n):
            await send(None, email=EMAIL, reason=REASON)
        await tally.finish()
        clock.stop()
    return {
        **probe.metrics(),
        **clock.rates(n),
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_steady(n: int, rate: float, warmup: int) -> Metrics:
    """Send-to-receiver-start at a steady ``rate`` (inline: the receiver starts at once)."""
    tally = Tally(n)
    log = StartLog(n)
    emails = [email_of(i) for i in range(n)]

    async def on_flagged(sender: object, email: str, reason: str) -> None:
        log.record(email)
        tally.hit()

    send = _signal(on_flagged).send_async

    async def emit_one(index: int) -> None:
        await send(None, email=emails[index], reason=REASON)

    emitted, achieved = await paced_async(n, rate, emit_one)
    await tally.finish()
    return {
        **latencies(emitted, log.starts, warmup),
        "achieved_rate": achieved,
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_one(n: int, warmup: int) -> Metrics:
    """One send at a time, until its receiver has run."""
    tally = Tally()
    send = _signal(_counting(tally)).send_async
    samples: list[int] = []
    for index in range(n):
        start = now_ns()
        await send(None, email=EMAIL, reason=REASON)
        await tally.wait_until(index + 1)
        samples.append(now_ns() - start)
    return {**percentiles_us(samples[warmup:]), "emitted": n, "delivered": tally.count}


def _in_thread(func: Callable[..., Any]) -> Callable[..., Coroutine[Any, Any, Any]]:
    async def run(*args: Any, **kwargs: Any) -> Any:
        return await anyio.to_thread.run_sync(functools.partial(func, *args, **kwargs))

    return run


async def sync_throughput(n: int) -> Metrics:
    """``n`` sends to a sync receiver run in a worker thread, one at a time (inline await)."""
    tally = Tally(n)

    def on_flagged(sender: object, email: str, reason: str) -> None:
        tally.hit_threadsafe()

    send = _signal(on_flagged).send_async
    clock = Clock()
    for _ in range(n):
        await send(None, _sync_wrapper=_in_thread, email=EMAIL, reason=REASON)
    await tally.finish()
    clock.stop()
    return {**clock.rates(n), "emitted": n, "delivered": tally.count}
