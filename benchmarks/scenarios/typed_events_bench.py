"""typed-events: EventBus with the default in-memory SimpleEventEmitter, validated emits."""

from __future__ import annotations

from typing import Any

from typed_events import Event, EventBus, listener

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


class UserFlagged(Event, event_id=EVENT_ID):
    email: str
    reason: str


def _counting(tally: Tally) -> Any:
    @listener(UserFlagged)
    async def on_flagged(event: UserFlagged) -> None:
        tally.hit()

    return on_flagged


def _logging(tally: Tally, log: StartLog) -> Any:
    @listener(UserFlagged)
    async def on_flagged(event: UserFlagged) -> None:
        log.record(event.email)
        tally.hit()

    return on_flagged


async def throughput(n: int, listeners: int) -> Metrics:
    """Emit ``n`` validated events (waiting for room when full) until all are handled."""
    tallies = [Tally(n) for _ in range(listeners)]
    async with EventBus(listeners=[_counting(t) for t in tallies]) as bus:
        clock = Clock()
        for _ in range(n):
            await bus.emit_async(UserFlagged, email=EMAIL, reason=REASON)
        for tally in tallies:
            await tally.finish()
        clock.stop()
    return {
        **clock.rates(n),
        "emitted": n,
        "delivered": delivered(tallies),
    }


async def emit_cost(n: int) -> Metrics:
    """Time inside ``emit`` per call, for each of the three forms, in batches.

    Each batch is timed as a whole (a clock read per call would cost as much as the
    call), then the listener catches up untimed; the forms take turns batch by batch,
    so drift in the machine affects all three alike. Instances for the instance form
    are built before its batch: that form's figure is what ``emit`` itself costs.
    """
    tally = Tally()
    forms = ("instance", "class", "id")
    batches = {form: Batches() for form in forms}
    calls = dict.fromkeys(forms, 0)
    sent = 0
    async with EventBus(listeners=[_counting(tally)]) as bus:
        emit = bus.emit
        batch = 0
        while sent < 3 * n:
            form = forms[batch % 3]
            size = min(BATCH, n - calls[form])
            if form == "instance":
                events = [UserFlagged(email=EMAIL, reason=REASON) for _ in range(size)]
                start = now_ns()
                for event in events:
                    emit(event)
            elif form == "class":
                start = now_ns()
                for _ in range(size):
                    emit(UserFlagged, email=EMAIL, reason=REASON)
            else:
                start = now_ns()
                for _ in range(size):
                    emit(EVENT_ID, email=EMAIL, reason=REASON)
            batches[form].add(now_ns() - start, size)
            calls[form] += size
            sent += size
            batch += 1
            await tally.wait_until(sent)
    return {
        **{f"emit_us_{form}": batches[form].median_us() for form in forms},
        **{f"emit_mean_us_{form}": batches[form].mean_us() for form in forms},
        "emitted": sent,
        "delivered": tally.count,
    }


async def burst(n: int, trace: bool) -> Metrics:
    """``n`` emits as fast as possible with the awaitable emit, which waits for room."""
    tally = Tally(n)
    async with EventBus(listeners=[_counting(tally)]) as bus:
        with MemoryProbe(trace) as probe:
            clock = Clock()
            for _ in range(n):
                await bus.emit_async(UserFlagged, email=EMAIL, reason=REASON)
            await tally.finish()
            clock.stop()
    return {
        **probe.metrics(),
        **clock.rates(n),
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_steady(n: int, rate: float, warmup: int) -> Metrics:
    """Emit-to-listener-start at a steady ``rate`` (sync ``emit``, id-less class form)."""
    tally = Tally(n)
    log = StartLog(n)
    emails = [email_of(i) for i in range(n)]
    async with EventBus(listeners=[_logging(tally, log)]) as bus:
        emit = bus.emit

        def emit_one(index: int) -> None:
            emit(UserFlagged, email=emails[index], reason=REASON)

        emitted, achieved = await paced(n, rate, emit_one)
        await tally.finish()
    return {
        **latencies(emitted, log.starts, warmup),
        "achieved_rate": achieved,
        "emitted": n,
        "delivered": tally.count,
    }


async def latency_one(n: int, warmup: int) -> Metrics:
    """One event at a time: emit, wait until the listener has run, repeat.

    Also measures ``emit_and_wait`` (which runs the listeners in the caller's task)
    as ``and_wait_*``.
    """
    tally = Tally()
    samples: list[int] = []
    waited: list[int] = []
    async with EventBus(listeners=[_counting(tally)]) as bus:
        emit = bus.emit
        for index in range(n):
            start = now_ns()
            emit(UserFlagged, email=EMAIL, reason=REASON)
            await tally.wait_until(index + 1)
            samples.append(now_ns() - start)
        for _ in range(n):
            start = now_ns()
            await bus.emit_and_wait(UserFlagged, email=EMAIL, reason=REASON)
            waited.append(now_ns() - start)
    round_trip = percentiles_us(samples[warmup:])
    and_wait = percentiles_us(waited[warmup:])
    return {
        **round_trip,
        **{f"and_wait_{key}": value for key, value in and_wait.items()},
        "emitted": 2 * n,
        "delivered": tally.count,
    }


async def sync_throughput(n: int) -> Metrics:
    """``n`` events to one sync listener, which the bus runs in worker threads."""
    tally = Tally(n)

    @listener(UserFlagged)
    def on_flagged(event: UserFlagged) -> None:
        tally.hit_threadsafe()

    async with EventBus(listeners=[on_flagged]) as bus:
        clock = Clock()
        for _ in range(n):
            await bus.emit_async(UserFlagged, email=EMAIL, reason=REASON)
        await tally.finish()
        clock.stop()
    return {**clock.rates(n), "emitted": n, "delivered": tally.count}
