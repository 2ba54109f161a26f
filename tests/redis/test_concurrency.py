"""How many listener calls one Redis consumer runs at once: max_concurrency, no more, and
ordered listeners one at a time, in order."""

from __future__ import annotations

import anyio
import pytest

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend

from .conftest import RedisServer
from .helpers import eventually

pytestmark = pytest.mark.redis


class Job(Event, event_id="job"):
    n: int


@pytest.mark.anyio
async def test_a_batch_runs_up_to_max_concurrency_calls_at_once_and_no_more(
    redis_server: RedisServer,
) -> None:
    running, peak, done = 0, 0, list[int]()
    release = anyio.Event()

    @listener(Job)
    async def work(event: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await release.wait()  # every call waits: the consumer must start the others
        running -= 1
        done.append(event.n)

    backend = RedisStreamsBackend(
        redis_server.url, service="jobs", batch_size=20, max_concurrency=4
    )
    bus = EventBus([work], backend=backend)
    async with bus:
        for n in range(20):
            bus.emit(Job(n=n))
        await eventually(lambda: running == 4, "four calls running")
        await anyio.sleep(0.1)  # had a fifth been started, it would be running by now
        assert (running, peak) == (4, 4)
        release.set()
        await eventually(lambda: len(done) == 20, "every job done")
    assert sorted(done) == list(range(20))
    assert peak == 4
    stats = bus.stats
    assert (stats.accepted, stats.delivered) == (20, 20)
    assert stats.delivered + stats.failed + stats.dropped + stats.redelivered == stats.accepted


@pytest.mark.anyio
async def test_a_quick_listener_handles_a_whole_batch_and_each_call_is_acknowledged(
    redis_server: RedisServer,
) -> None:
    done: list[int] = []

    @listener(Job)
    async def quick(event: Job) -> None:
        done.append(event.n)  # never waits

    backend = RedisStreamsBackend(redis_server.url, service="jobs", max_concurrency=8)
    bus = EventBus([quick], backend=backend)
    async with bus:
        for n in range(300):
            bus.emit(Job(n=n))
        await eventually(lambda: len(done) == 300, "every job done")
        client = redis_server.client()
        await eventually(
            lambda: int(client.xpending("typed-events:job", f"jobs:{quick.name}").pending) == 0,
            "every message acknowledged",
        )
    assert sorted(done) == list(range(300))
    assert bus.stats.delivered == 300


@pytest.mark.anyio
async def test_an_ordered_listener_runs_one_call_at_a_time_in_stream_order(
    redis_server: RedisServer,
) -> None:
    running, peak, done = 0, 0, list[int]()

    @listener(Job, ordered=True)
    async def in_order(event: Job) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.001)
        running -= 1
        done.append(event.n)

    backend = RedisStreamsBackend(redis_server.url, service="jobs", max_concurrency=8)
    bus = EventBus([in_order], backend=backend)
    async with bus:
        for n in range(50):
            bus.emit(Job(n=n))
        await eventually(lambda: len(done) == 50, "every job done")
    assert done == list(range(50))
    assert peak == 1
