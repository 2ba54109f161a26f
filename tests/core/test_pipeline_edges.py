"""The delivery pipeline at its edges (issue 11's holes 1-10), on asyncio and trio.

Each test goes through the public API only and counts what happened: every accepted call
ends delivered, failed or dropped, and the counters add up.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Awaitable
from typing import Any
from unittest.mock import AsyncMock

import anyio
import anyio.lowlevel
import pytest

from typed_events import (
    DeliveryStats,
    Event,
    EventBus,
    Listener,
    QueueFullError,
    SimpleEventEmitter,
    listener,
)

pytestmark = pytest.mark.anyio


class Ping(Event, event_id="edge_ping"):
    n: int


def assert_settled(stats: DeliveryStats) -> None:
    """Nothing lost, nothing silent: every accepted call ended one way."""
    assert stats.delivered + stats.failed + stats.dropped + stats.redelivered == stats.accepted


# -- hole 1: every callable shape that returns an awaitable is awaited --------------------


class Handlers:
    seen: list[str] = []  # noqa: RUF012  # shared on purpose: the class-level listeners write here

    @listener(Ping)
    @staticmethod
    async def static(n: int) -> None:
        await anyio.lowlevel.checkpoint()
        Handlers.seen.append(f"static {n}")

    @listener(Ping)
    @classmethod
    async def klass(cls, n: int) -> None:
        await anyio.lowlevel.checkpoint()
        cls.seen.append(f"classmethod {n}")


class AsyncCallable:
    def __init__(self, seen: list[str]) -> None:
        self.seen = seen

    async def __call__(self, n: int) -> None:
        await anyio.lowlevel.checkpoint()
        self.seen.append(f"object {n}")


async def test_every_awaitable_returning_shape_is_awaited() -> None:
    seen: list[str] = []
    Handlers.seen = seen

    async def target(n: int) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(f"wrapped {n}")

    @functools.wraps(target)
    def sync_wrapper(n: int) -> Awaitable[None]:
        return target(n)

    async def coroutine_for(n: int) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(f"lambda {n}")

    def returns_coroutine(n: int) -> Awaitable[None]:  # plain def: runs in a thread first
        return coroutine_for(n)

    mock = AsyncMock(return_value=None)
    listeners: list[Listener[..., Any]] = [
        Handlers.static,
        Handlers.klass,
        listener(Ping)(sync_wrapper),
        listener(Ping)(returns_coroutine),
        listener(Ping)(functools.partial(AsyncCallable(seen))),
        listener(Ping)(AsyncCallable(seen)),
        listener(Ping)(mock),
    ]
    bus = EventBus(listeners=listeners)
    async with bus:
        bus.emit(Ping(n=1))
        result = await bus.emit_and_wait(Ping(n=2))
    assert result.ok, result.exceptions
    for n in (1, 2):
        for kind in ("static", "classmethod", "wrapped", "lambda", "object"):
            assert f"{kind} {n}" in seen
    assert seen.count("object 1") == 2  # the partial and the object itself
    assert mock.await_count == 2
    assert bus.stats.delivered == 14
    assert_settled(bus.stats)


def test_a_class_is_refused_as_a_listener() -> None:
    class NotAListener:
        def __init__(self, n: int) -> None:
            self.n = n

    with pytest.raises(TypeError, match="is a class; a listener is a function"):
        listener(Ping)(NotAListener)


def test_generator_functions_are_refused_with_the_fix() -> None:
    async def agen(n: int) -> Any:
        yield n

    def gen(n: int) -> Any:
        yield n

    with pytest.raises(TypeError, match=r"async generator function.*without `yield`"):
        listener(Ping)(agen)
    with pytest.raises(TypeError, match=r"is a generator function"):
        listener(Ping)(gen)


# -- hole 2: a CancelledError raised inside a listener is a failed call --------------------


# asyncio only: on trio a Cancelled only ever comes from a cancelled scope.
@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_listeners_own_cancelled_error_is_a_failure_and_is_retried() -> None:
    attempts: list[int] = []
    errors: list[BaseException] = []

    @listener(Ping, retries=1, retry_backoff=0)
    async def awaits_a_cancelled_future(n: int) -> None:
        attempts.append(n)
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        future.cancel()
        await future  # someone else's cancellation, raised here

    @listener(Ping)
    async def fine(n: int) -> None:
        pass

    def on_error(event: Event, failed: Listener[..., Any], exc: BaseException) -> None:
        errors.append(exc)

    bus = EventBus(listeners=[awaits_a_cancelled_future, fine], on_error=on_error)
    async with bus:
        bus.emit(Ping(n=1))
        result = await bus.emit_and_wait(Ping(n=2))
    assert [o.ok for o in result.outcomes] == [False, True]
    assert isinstance(result.outcomes[0].exception, asyncio.CancelledError)
    assert sorted(attempts) == [1, 1, 2, 2]  # each call retried once
    assert len(errors) == 2
    assert bus.stats.failed == 2
    assert bus.stats.delivered == 2
    assert_settled(bus.stats)


async def test_a_cancelled_error_raised_before_any_await_is_a_failure() -> None:
    @listener(Ping)
    async def raises_at_once(n: int) -> None:
        raise anyio.get_cancelled_exc_class()()

    bus = EventBus(listeners=[raises_at_once])
    async with bus:
        bus.emit(Ping(n=1))
    assert bus.stats.failed == 1
    assert_settled(bus.stats)


# -- hole 3: cancelled from outside with events queued: shielded drain, then report -------


async def test_cancelling_the_app_drains_shielded_then_reports_what_was_left(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled: list[int] = []

    @listener(Ping)
    async def slow(n: int) -> None:
        await anyio.sleep(0.01 if n < 5 else 30)
        handled.append(n)

    bus = EventBus(
        listeners=[slow], backend=SimpleEventEmitter(max_concurrency=1, shutdown_timeout=0.5)
    )
    with caplog.at_level(logging.WARNING, logger="typed_events"):
        with anyio.CancelScope() as scope:
            async with bus:
                for n in range(7):
                    bus.emit(Ping(n=n))
                scope.cancel()  # the app is cancelled with seven events queued
                await anyio.sleep(10)
    assert scope.cancelled_caught
    assert handled == [0, 1, 2, 3, 4]  # drained while shielded, up to shutdown_timeout
    report = bus.shutdown_report
    assert report is not None
    assert report.timed_out
    assert [(c.event.n, str(c.reason)) for c in report.calls] == [  # type: ignore[attr-defined]
        (5, "cancelled"),
        (6, "not started"),
    ]
    assert bus.stats.dropped == 2
    assert_settled(bus.stats)
    assert any("not delivered" in r.getMessage() for r in caplog.records)


# -- hole 4: BaseException from a listener or on_error: prompt stop, original exception ---


class Halt(BaseException):
    """A custom BaseException, as a framework might raise."""


@pytest.mark.parametrize("kind", [KeyboardInterrupt, SystemExit, Halt])
async def test_a_base_exception_in_a_listener_stops_the_bus_at_once(
    kind: type[BaseException],
) -> None:
    @listener(Ping)
    async def interrupts(n: int) -> None:
        if n == 1:
            raise kind("stop")

    @listener(Ping)
    async def hangs(n: int) -> None:
        await anyio.sleep(30)

    bus = EventBus(listeners=[interrupts, hangs], backend=SimpleEventEmitter(shutdown_timeout=60))

    async def serve() -> None:
        async with bus:
            bus.emit(Ping(n=0))
            bus.emit(Ping(n=1))
            await anyio.sleep(60)

    with anyio.fail_after(30):  # a hang guard: without the prompt stop this takes 60 s
        with pytest.raises(kind) as caught:
            await serve()
    assert type(caught.value) is kind  # unwrapped: no ExceptionGroup, on trio too
    report = bus.shutdown_report
    assert report is not None
    assert report.interrupted_by is caught.value
    assert report.timed_out  # the drain was cut short, not waited out
    assert {str(c.reason) for c in report.calls} == {"cancelled"}
    assert sorted(c.listener for c in report.calls) == [hangs.name, hangs.name]
    assert bus.stats.failed == 1
    assert_settled(bus.stats)


async def test_a_base_exception_in_on_error_stops_the_bus_at_once() -> None:
    @listener(Ping)
    async def fails(n: int) -> None:
        raise ValueError(n)

    def on_error(event: Event, failed: Listener[..., Any], exc: BaseException) -> None:
        raise SystemExit(3)

    bus = EventBus(listeners=[fails], on_error=on_error)

    async def serve() -> None:
        async with bus:
            bus.emit(Ping(n=0))
            await anyio.sleep(60)

    with anyio.fail_after(30), pytest.raises(SystemExit) as caught:
        await serve()
    assert caught.value.code == 3
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.interrupted_by is caught.value


# -- hole 6: on_error is bounded and never occupies a worker ------------------------------


async def test_a_hung_on_error_is_abandoned_and_never_blocks_other_listeners(
    caplog: pytest.LogCaptureFixture,
) -> None:
    handled: list[int] = []
    all_handled = anyio.Event()

    @listener(Ping)
    async def fails(n: int) -> None:
        raise ValueError(n)

    @listener(Ping)
    async def works(n: int) -> None:
        handled.append(n)
        if len(handled) == 20:
            all_handled.set()

    async def hangs(event: Event, failed: Listener[..., Any], exc: BaseException) -> None:
        await anyio.sleep(60)

    bus = EventBus(
        listeners=[fails, works],
        on_error=hangs,
        on_error_timeout=0.2,
        backend=SimpleEventEmitter(max_concurrency=1),
    )
    with caplog.at_level(logging.ERROR, logger="typed_events"):
        async with bus:
            for n in range(20):
                bus.emit(Ping(n=n))
            with anyio.fail_after(5):  # one worker: on_error runs beside it
                await all_handled.wait()
            result = await bus.emit_and_wait(Ping(n=99))  # bounded, not hung
    assert [o.ok for o in result.outcomes] == [False, True]
    assert bus.stats.failed == 21
    assert bus.stats.delivered == 21
    assert_settled(bus.stats)
    timeouts = [r for r in caplog.records if getattr(r, "outcome", None) == "on_error timeout"]
    assert len(timeouts) == 21


async def test_a_sync_on_error_that_blocks_is_bounded_too() -> None:
    import time

    @listener(Ping)
    async def fails(n: int) -> None:
        raise ValueError(n)

    def blocks(event: Event, failed: Listener[..., Any], exc: BaseException) -> None:
        time.sleep(1)

    bus = EventBus(listeners=[fails], on_error=blocks, on_error_timeout=0.1)
    async with bus:
        with anyio.fail_after(0.9):
            await bus.emit_and_wait(Ping(n=1))
    assert bus.stats.failed == 1


# -- hole 7: one backend, one bus -----------------------------------------------------------


def test_a_backend_given_to_a_second_bus_is_refused_before_it_is_attached() -> None:
    @listener(Ping)
    async def a(n: int) -> None:
        pass

    backend = SimpleEventEmitter()
    first = EventBus(listeners=[a], backend=backend)
    with pytest.raises(ValueError, match="already belongs to another EventBus"):
        EventBus(listeners=[a], backend=backend)
    assert backend.dispatcher is first.dispatcher


# -- hole 8: emit_async from a listener with the queue full: no deadlock -------------------


async def test_emit_async_from_a_listener_with_a_full_queue_raises_instead_of_deadlocking() -> None:
    errors: list[BaseException] = []

    @listener(Ping)
    async def fans_out(n: int) -> None:
        if n == 0:
            await bus.emit_async(Ping(n=1))  # the queue holds only this event: full

    def on_error(event: Event, failed: Listener[..., Any], exc: BaseException) -> None:
        errors.append(exc)

    bus = EventBus(
        listeners=[fans_out],
        on_error=on_error,
        backend=SimpleEventEmitter(max_pending=1, max_concurrency=1),
    )
    with anyio.fail_after(5):
        async with bus:
            bus.emit(Ping(n=0))
    [error] = errors
    assert isinstance(error, QueueFullError)
    assert "inside a listener while the queue is full" in str(error)
    assert bus.stats.rejected == 1
    assert_settled(bus.stats)


# -- hole 9: emit_and_wait honours ordered=True ---------------------------------------------


async def test_emit_and_wait_waits_behind_an_ordered_listeners_backlog() -> None:
    order: list[int] = []

    @listener(Ping, ordered=True)
    async def in_order(n: int) -> int:
        await anyio.sleep(0.01)
        order.append(n)
        return n

    bus = EventBus(listeners=[in_order])
    async with bus:
        for n in range(5):
            bus.emit(Ping(n=n))
        result = await bus.emit_and_wait(Ping(n=99))
        assert order == [0, 1, 2, 3, 4, 99]  # behind the backlog, not beside it
    assert result.outcomes[0].result == 99
    assert_settled(bus.stats)


# -- hole 10: refused at build, with the fix --------------------------------------------------


def test_emit_of_the_base_event_class_is_refused() -> None:
    bus = EventBus(events=[Ping])
    with pytest.raises(TypeError, match="Event subclass"):
        bus.validate(Event)


def test_on_error_that_cannot_take_three_arguments_is_refused() -> None:
    def two(event: Event, exc: BaseException) -> None:
        pass

    with pytest.raises(TypeError, match=r"on_error\(event, listener, exception\)"):
        EventBus(events=[Ping], on_error=two)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="must be callable"):
        EventBus(events=[Ping], on_error="log")  # type: ignore[arg-type]


def test_wrongly_typed_options_are_refused() -> None:
    with pytest.raises(TypeError, match="ordered must be True or False"):
        listener(Ping, ordered="yes")  # type: ignore[call-overload]
    with pytest.raises(ValueError, match="retries must be an int"):
        listener(Ping, retries=1.5)  # type: ignore[call-overload]


def test_stacked_decorators_with_different_options_are_refused_not_dropped() -> None:
    class Pong(Event, event_id="edge_pong"):
        n: int

    async def handler(n: int) -> None:
        pass

    with pytest.raises(TypeError, match="decorated twice with different options"):
        listener(Ping, retries=3)(listener(Pong, timeout=1.0)(handler))
    kept = listener(Ping)(listener(Pong, retries=3)(handler))
    assert kept.options.retries == 3  # the one set of options given is kept


# -- the counters add up, whatever happens --------------------------------------------------


async def test_the_counters_add_up_across_every_ending() -> None:
    @listener(Ping, retries=1, retry_backoff=0)
    async def flaky(n: int) -> None:
        if n % 3 == 0:
            raise ValueError(n)

    @listener(Ping, timeout=0.05)
    async def slow(n: int) -> None:
        await anyio.sleep(0.1 if n % 4 == 0 else 0)

    @listener(Ping)
    def sync(n: int) -> None:
        pass

    bus = EventBus(listeners=[flaky, slow, sync], backend=SimpleEventEmitter(max_pending=50))
    async with bus:
        for n in range(40):
            bus.emit(Ping(n=n))
        for n in range(5):
            await bus.emit_and_wait(Ping(n=n))
    stats = bus.stats
    numbers = [*range(40), *range(5)]
    assert stats.accepted == len(numbers) * 3
    flaky_failures = sum(1 for n in numbers if n % 3 == 0)
    slow_timeouts = sum(1 for n in numbers if n % 4 == 0)
    assert stats.failed == flaky_failures + slow_timeouts
    assert stats.delivered == stats.accepted - stats.failed
    assert_settled(stats)


@pytest.mark.parametrize("anyio_backend", ["asyncio"])
async def test_a_native_task_cancel_of_the_app_drains_shielded_too() -> None:
    handled: list[int] = []

    @listener(Ping)
    async def slow(n: int) -> None:
        await anyio.sleep(0.01 if n < 5 else 30)
        handled.append(n)

    bus = EventBus(
        listeners=[slow], backend=SimpleEventEmitter(max_concurrency=1, shutdown_timeout=0.5)
    )

    async def app() -> None:
        async with bus:
            for n in range(7):
                bus.emit(Ping(n=n))
            await anyio.sleep(30)

    task = asyncio.get_running_loop().create_task(app())
    await anyio.sleep(0.001)
    task.cancel()  # as a server's signal handler does: Task.cancel, not a cancel scope
    with pytest.raises(asyncio.CancelledError):
        await task
    assert handled == [0, 1, 2, 3, 4]
    assert bus.stats.dropped == 2
    assert_settled(bus.stats)
