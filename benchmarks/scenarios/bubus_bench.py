"""bubus: a Pydantic event bus that records history and runs events one at a time.

With its default ``max_history_size`` it refuses a ``dispatch`` once 100 events are
pending, so the scenarios keep at most ``WINDOW`` in flight (awaiting the oldest) except
the burst, which shows the refusals. It is slow enough that run.py caps its event
counts (see ``CAPS`` there).
"""

from __future__ import annotations

import logging
from collections import deque
from collections.abc import Callable
from typing import Any

from bubus import BaseEvent, EventBus

from .measure import (
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
    paced,
    percentiles_us,
)

WINDOW = 50  # events in flight at most, below bubus's refusal threshold of 100

# bubus logs every dispatch at INFO; keep the default WARNING level so nothing prints.
logging.getLogger("bubus").setLevel(logging.WARNING)


class UserFlagged(BaseEvent[None]):
    email: str
    reason: str


def _counting(tally: Tally) -> Callable[..., Any]:
    async def on_flagged(event: UserFlagged) -> None:
        tally.hit()

    return on_flagged


def _bus(*handlers: Callable[..., Any]) -> EventBus:
    bus = EventBus()
    for index, handler in enumerate(handlers):
        # bubus warns when two handlers share a name.
        handler.__name__ = handler.__qualname__ = f"on_flagged_{index}"
        bus.on(UserFlagged, handler)
    return bus


async def _dispatch_windowed(bus: EventBus, n: int) -> None:
    in_flight: deque[UserFlagged] = deque()
    for _ in range(n):
        if len(in_flight) >= WINDOW:
            await in_flight.popleft()
        in_flight.append(bus.dispatch(UserFlagged(email=EMAIL, reason=REASON)))


async def throughput(n: int, listeners: int) -> Metrics:
    """``n`` dispatches, at most ``WINDOW`` in flight, until all are handled."""
    tallies = [Tally(n) for _ in range(listeners)]
    bus = _bus(*(_counting(t) for t in tallies))
    clock = Clock()
    await _dispatch_windowed(bus, n)
    for tally in tallies:
        await tally.finish()
    clock.stop()
    await bus.stop(clear=True)
    return {
        **clock.rates(n),
        "emitted": n,
        "delivered": delivered(tallies),
    }


async def emit_cost(n: int) -> Metrics:
    """Time inside ``dispatch(UserFlagged(...))`` per call (it validates), in small batches."""
    tally = Tally()
    bus = _bus(_counting(tally))
    batches = Batches()
    sent = 0
    while sent < n:
        size = min(WINDOW, n - sent)
        start = now_ns()
        for _ in range(size):
            bus.dispatch(UserFlagged(email=EMAIL, reason=REASON))
        batches.add(now_ns() - start, size)
        sent += size
        await tally.wait_until(sent)
    await bus.stop(clear=True)
    return {
        "emit_us": batches.median_us(),
        "emit_us_mean": batches.mean_us(),
        "emitted": sent,
        "delivered": tally.count,
    }


async def burst(n: int, trace: bool) -> Metrics:
    """``n`` dispatches as fast as possible; the refused ones are counted, not retried."""
    tally = Tally()
    bus = _bus(_counting(tally))
    rejected = 0
    with MemoryProbe(trace) as probe:
        clock = Clock()
        for _ in range(n):
            try:
                bus.dispatch(UserFlagged(email=EMAIL, reason=REASON))
            except RuntimeError:  # "EventBus at capacity: ... pending events (100 max)"
                rejected += 1
        tally.target = n - rejected
        await tally.finish()
        clock.stop()
    await bus.stop(clear=True)
    return {
        **probe.metrics(),
        **clock.rates(n),
        "emitted": n,
        "delivered": tally.count,
        "rejected": rejected,
    }


async def latency_steady(n: int, rate: float, warmup: int) -> Metrics:
    """Dispatch-to-handler-start at a steady ``rate``; refused dispatches are counted."""
    log = StartLog(n)
    tally = Tally()
    emails = [email_of(i) for i in range(n)]
    rejected = 0

    async def on_flagged(event: UserFlagged) -> None:
        log.record(event.email)
        tally.hit()

    bus = _bus(on_flagged)

    def emit_one(index: int) -> None:
        nonlocal rejected
        try:
            bus.dispatch(UserFlagged(email=emails[index], reason=REASON))
        except RuntimeError:
            rejected += 1

    emitted, achieved = await paced(n, rate, emit_one)
    tally.target = n - rejected
    await tally.finish()
    await bus.stop(clear=True)
    return {
        **latencies(emitted, log.starts, warmup),
        "achieved_rate": achieved,
        "emitted": n,
        "delivered": tally.count,
        "rejected": rejected,
    }


async def latency_one(n: int, warmup: int) -> Metrics:
    """One event at a time: dispatch, wait until the handler has run, repeat."""
    tally = Tally()
    bus = _bus(_counting(tally))
    samples: list[int] = []
    for index in range(n):
        start = now_ns()
        bus.dispatch(UserFlagged(email=EMAIL, reason=REASON))
        await tally.wait_until(index + 1)
        samples.append(now_ns() - start)
    await bus.stop(clear=True)
    return {**percentiles_us(samples[warmup:]), "emitted": n, "delivered": tally.count}


async def sync_throughput(n: int) -> Metrics:
    """``n`` events to one sync handler, which bubus calls on the event loop (no thread)."""
    tally = Tally(n)

    def on_flagged(event: UserFlagged) -> None:
        tally.hit_threadsafe()

    bus = _bus(on_flagged)
    clock = Clock()
    await _dispatch_windowed(bus, n)
    await tally.finish()
    clock.stop()
    await bus.stop(clear=True)
    return {**clock.rates(n), "emitted": n, "delivered": tally.count}
