"""SimpleEventEmitter: bounded, concurrent, ordered where asked, drains on exit, reports."""

from __future__ import annotations

import contextvars
import functools
import logging
import threading
from collections.abc import Generator
from typing import Any

import anyio
import anyio.lowlevel
import pytest

from typed_events import (
    Event,
    EventBus,
    Listener,
    QueueFullError,
    SimpleEventEmitter,
    listener,
)

pytestmark = pytest.mark.anyio


class Tick(Event, event_id="mem_tick"):
    n: int


class Note(Event, event_id="mem_note"):
    text: str


async def test_ten_thousand_events_emitted_then_exit_all_delivered() -> None:
    received: list[int] = []

    @listener(Tick)
    async def collect(n: int) -> None:
        received.append(n)

    bus = EventBus(listeners=[collect], backend=SimpleEventEmitter(max_pending=20_000))
    async with bus:
        for n in range(10_000):
            bus.emit(Tick, n=n)
    assert sorted(received) == list(range(10_000))
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean
    assert isinstance(bus.backend, SimpleEventEmitter)
    assert bus.backend.stats.emitted == 10_000
    assert bus.backend.stats.delivered == 10_000


async def test_a_listener_raising_every_time_does_not_stop_another(
    caplog: pytest.LogCaptureFixture,
) -> None:
    count = 0
    errors: list[tuple[str, str, str]] = []

    @listener(Tick)
    async def always_fails(n: int) -> None:
        raise RuntimeError(f"fail {n}")

    @listener(Tick)
    async def counter(n: int) -> None:
        nonlocal count
        count += 1

    def on_error(event: Event, failed: Listener[..., Any], exc: BaseException) -> None:
        errors.append((event.event_id, failed.name, str(exc)))

    bus = EventBus(listeners=[always_fails, counter], on_error=on_error)
    with caplog.at_level(logging.ERROR, logger="typed_events"):
        async with bus:
            for n in range(100):
                bus.emit(Tick(n=n))
    assert count == 100
    assert len(errors) == 100
    assert errors[0][0] == "mem_tick"
    assert errors[0][1].endswith("always_fails")
    record = caplog.records[0]
    assert "always_fails" in record.getMessage()
    assert "mem_tick" in record.getMessage()
    assert record.exc_info is not None


async def test_async_on_error_and_a_raising_on_error_are_handled(
    caplog: pytest.LogCaptureFixture,
) -> None:
    calls: list[str] = []

    @listener(Note)
    async def fails(text: str) -> None:
        raise ValueError(text)

    async def on_error(event: Event, failed: Listener[..., Any], exc: BaseException) -> None:
        await anyio.lowlevel.checkpoint()
        calls.append(str(exc))
        raise KeyError("handler bug")

    bus = EventBus(listeners=[fails], on_error=on_error)
    with caplog.at_level(logging.ERROR, logger="typed_events"):
        async with bus:
            bus.emit(Note(text="x"))
    assert calls == ["x"]
    assert any("on_error handler" in r.getMessage() for r in caplog.records)


async def test_retries_with_backoff_then_success() -> None:
    attempts: list[float] = []

    @listener(Note, retries=2, retry_backoff=0.01)
    async def flaky(text: str) -> str:
        attempts.append(anyio.current_time())
        if len(attempts) < 3:
            raise ConnectionError("try again")
        return "done"

    failures: list[BaseException] = []
    bus = EventBus(listeners=[flaky], on_error=lambda e, li, exc: failures.append(exc))
    async with bus:
        result = await bus.emit_and_wait(Note(text="x"))
    assert result.outcomes[0].result == "done"
    assert result.outcomes[0].attempts == 3
    assert failures == []
    # Backoff doubles: at least 0.01 s before the second attempt, 0.02 s before the third
    # (lower bounds only: a loaded machine makes any wait longer, never shorter).
    assert attempts[1] - attempts[0] >= 0.01
    assert attempts[2] - attempts[1] >= 0.02


async def test_on_error_is_called_once_after_the_last_retry() -> None:
    failures: list[BaseException] = []

    @listener(Note, retries=2, retry_backoff=0)
    async def broken(text: str) -> None:
        raise ValueError("always")

    bus = EventBus(listeners=[broken], on_error=lambda e, li, exc: failures.append(exc))
    async with bus:
        result = await bus.emit_and_wait(Note(text="x"))
    assert result.outcomes[0].attempts == 3
    assert [type(f) for f in failures] == [ValueError]


async def test_timeout_cancels_the_call_and_reports_timeout_error() -> None:
    failures: list[BaseException] = []

    @listener(Note, timeout=0.05)
    async def slow(text: str) -> None:
        await anyio.sleep(10)

    bus = EventBus(listeners=[slow], on_error=lambda e, li, exc: failures.append(exc))
    async with bus:
        bus.emit(Note(text="x"))
    assert [type(f) for f in failures] == [TimeoutError]


async def test_hung_listener_and_shutdown_timeout_exit_returns_with_a_report(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @listener(Note)
    async def hangs(text: str) -> None:
        await anyio.sleep_forever()

    backend = SimpleEventEmitter(max_concurrency=1, shutdown_timeout=0.1)
    bus = EventBus(listeners=[hangs], backend=backend)
    with caplog.at_level(logging.WARNING, logger="typed_events"):
        async with bus:
            bus.emit(Note(text="running"))
            bus.emit(Note(text="queued"))
            await anyio.sleep(0.01)
    report = bus.shutdown_report
    assert report is not None
    assert not report.clean
    assert report.timed_out
    assert report.cancelled == (hangs.name,)
    assert [e.text for e in report.undelivered] == ["running", "queued"]  # type: ignore[attr-defined]
    assert [c.reason for c in report.calls] == ["cancelled", "not started"]
    assert backend.stats.dropped == 2
    assert "not delivered" in caplog.text
    assert "hangs" in caplog.text


async def test_full_queue_sync_emit_raises_and_emit_async_waits_for_room() -> None:
    gate = anyio.Event()
    handled: list[int] = []

    @listener(Tick)
    async def blocked(n: int) -> None:
        await gate.wait()
        handled.append(n)

    backend = SimpleEventEmitter(max_pending=3, max_concurrency=1)
    bus = EventBus(listeners=[blocked], backend=backend)
    async with bus:
        for n in range(3):
            bus.emit(Tick(n=n))
        with pytest.raises(QueueFullError, match=r"full \(3 events pending\).*max_pending") as info:
            bus.emit(Tick(n=99))
        assert isinstance(info.value, RuntimeError)
        assert backend.stats.rejected == 1
        accepted = anyio.Event()

        async def emit_when_room() -> None:
            await bus.emit_async(Tick(n=3))
            accepted.set()

        async with anyio.create_task_group() as group:
            group.start_soon(emit_when_room)
            await anyio.sleep(0.02)
            assert not accepted.is_set()  # emit_async is waiting for room
            gate.set()
            await accepted.wait()
    assert sorted(handled) == [0, 1, 2, 3]


async def test_concurrency_is_bounded() -> None:
    running = 0
    peak = 0

    @listener(Tick)
    async def work(n: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.001)
        running -= 1

    bus = EventBus(listeners=[work], backend=SimpleEventEmitter(max_concurrency=4))
    async with bus:
        for n in range(50):
            bus.emit(Tick(n=n))
    assert peak == 4


async def test_listeners_begin_in_registration_order() -> None:
    began: list[tuple[int, str]] = []

    def make(name: str) -> Any:
        async def record(event: Tick) -> None:
            began.append((event.n, name))
            await anyio.lowlevel.checkpoint()

        record.__qualname__ = name
        return listener(Tick)(record)

    names = [f"l{i}" for i in range(8)]
    bus = EventBus(listeners=[make(n) for n in names])
    async with bus:
        for n in range(20):
            bus.emit(Tick(n=n))
        for n in range(20, 25):
            await bus.emit_and_wait(Tick(n=n))
    for n in range(25):
        assert [name for m, name in began if m == n] == names


async def test_ordered_listener_handles_one_at_a_time_in_emit_order() -> None:
    seen: list[int] = []
    active = 0

    @listener(Tick, ordered=True)
    async def sequential(n: int) -> None:
        nonlocal active
        active += 1
        assert active == 1
        await anyio.sleep(0.001 * (n % 3))
        seen.append(n)
        active -= 1

    bus = EventBus(listeners=[sequential], backend=SimpleEventEmitter(max_concurrency=8))
    async with bus:
        for n in range(30):
            bus.emit(Tick(n=n))
    assert seen == list(range(30))


async def test_ordered_listener_backlog_is_reported_at_shutdown() -> None:
    @listener(Tick, ordered=True)
    async def stuck(n: int) -> None:
        await anyio.sleep_forever()

    bus = EventBus(
        listeners=[stuck], backend=SimpleEventEmitter(max_concurrency=4, shutdown_timeout=0.05)
    )
    async with bus:
        for n in range(3):
            bus.emit(Tick(n=n))
        await anyio.sleep(0.01)
    report = bus.shutdown_report
    assert report is not None
    assert [(c.event.n, c.reason) for c in report.calls] == [  # type: ignore[attr-defined]
        (0, "cancelled"),
        (1, "not started"),
        (2, "not started"),
    ]


async def test_contextvars_of_the_emitter_reach_async_and_sync_listeners() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    seen: list[tuple[str, str]] = []

    @listener(Note)
    async def async_listener(text: str) -> None:
        await anyio.lowlevel.checkpoint()
        seen.append(("async", request_id.get("unset")))
        request_id.set("changed-by-listener")  # must not leak to other listeners

    @listener(Note)
    def sync_listener(text: str) -> None:
        assert threading.current_thread() is not threading.main_thread()
        seen.append(("sync", request_id.get("unset")))

    bus = EventBus(listeners=[async_listener, sync_listener])
    async with bus:
        request_id.set("req-42")
        bus.emit(Note(text="x"))
        request_id.set("req-43")
        await bus.emit_and_wait(Note(text="y"))
    assert sorted(seen) == [
        ("async", "req-42"),
        ("async", "req-43"),
        ("sync", "req-42"),
        ("sync", "req-43"),
    ]
    assert request_id.get() == "req-43"


class Counter:
    """A callable object listener (Litestar crashes on these)."""

    def __init__(self) -> None:
        self.calls = 0

    async def __call__(self, text: str) -> None:
        self.calls += 1
        raise LookupError("callable object failed")


async def _prefixed(prefix: str, text: str) -> None:
    raise ArithmeticError(prefix + text)


async def test_partial_and_callable_object_listeners_that_raise_are_isolated() -> None:
    failures: list[tuple[str, type[BaseException]]] = []
    counter = Counter()
    object_listener = listener(Note)(counter)
    partial_listener = listener(Note)(functools.partial(_prefixed, "p:"))
    ok: list[str] = []

    @listener(Note)
    async def healthy(text: str) -> None:
        ok.append(text)

    bus = EventBus(
        listeners=[object_listener, partial_listener, healthy],
        on_error=lambda e, li, exc: failures.append((li.name, type(exc))),
    )
    async with bus:
        bus.emit(Note(text="a"))
        bus.emit(Note(text="b"))
    assert counter.calls == 2
    assert ok == ["a", "b"]
    assert sorted(failures) == sorted(
        [
            ("tests.core.test_memory_backend.Counter", LookupError),
            ("tests.core.test_memory_backend.Counter", LookupError),
            ("partial(tests.core.test_memory_backend._prefixed)", ArithmeticError),
            ("partial(tests.core.test_memory_backend._prefixed)", ArithmeticError),
        ]
    )


async def test_follow_up_emits_from_listeners_during_the_drain_are_delivered() -> None:
    chain: list[int] = []
    bus: EventBus

    @listener(Tick)
    async def relay(n: int) -> None:
        chain.append(n)
        await anyio.lowlevel.checkpoint()
        if n < 20:
            bus.emit(Tick(n=n + 1))

    bus = EventBus(listeners=[relay])
    async with bus:
        bus.emit(Tick(n=0))
    assert chain == list(range(21))
    assert bus.shutdown_report is not None
    assert bus.shutdown_report.clean


async def test_one_queue_item_per_event_not_per_listener() -> None:
    gate = anyio.Event()

    def make(i: int) -> Any:
        async def wait(event: Tick) -> None:
            await gate.wait()

        wait.__qualname__ = f"wait{i}"
        return listener(Tick)(wait)

    backend = SimpleEventEmitter(max_pending=2, max_concurrency=16)
    bus = EventBus(listeners=[make(i) for i in range(5)], backend=backend)
    async with bus:
        bus.emit(Tick(n=1))
        bus.emit(Tick(n=2))  # five listeners each, still only two pending events
        with pytest.raises(QueueFullError):
            bus.emit(Tick(n=3))
        gate.set()


async def test_sync_listener_runs_in_a_worker_thread() -> None:
    threads: list[bool] = []

    @listener(Note)
    def blocking(text: str) -> None:
        threads.append(threading.current_thread() is threading.main_thread())

    bus = EventBus(listeners=[blocking])
    async with bus:
        bus.emit(Note(text="x"))
    assert threads == [False]


async def test_bound_method_listener_receives_the_event() -> None:
    class Service:
        def __init__(self) -> None:
            self.seen: list[str] = []

        @listener(Note)
        async def on_note(self, event: Note) -> None:
            self.seen.append(event.text)

    service = Service()
    bus = EventBus(listeners=[service.on_note])
    async with bus:
        bus.emit(Note(text="method"))
    assert service.seen == ["method"]


def test_emitter_arguments_are_validated() -> None:
    with pytest.raises(ValueError, match="max_pending"):
        SimpleEventEmitter(max_pending=0)
    with pytest.raises(ValueError, match="max_concurrency"):
        SimpleEventEmitter(max_concurrency=0)
    with pytest.raises(ValueError, match="shutdown_timeout"):
        SimpleEventEmitter(shutdown_timeout=-1)
    with pytest.raises(ValueError, match="shutdown_timeout"):
        SimpleEventEmitter(shutdown_timeout=float("nan"))
    with pytest.raises(ValueError, match="max_pending must be an int >= 1, got True"):
        SimpleEventEmitter(max_pending=True)
    assert SimpleEventEmitter(shutdown_timeout=float("inf")).shutdown_timeout == float("inf")


class _Ready:
    """An awaitable that is not a coroutine (as some frameworks' helpers return)."""

    def __await__(self) -> Generator[Any, None, str]:
        yield from anyio.lowlevel.checkpoint().__await__()
        return "awaited"


async def test_async_marked_callables_returning_other_awaitables_or_values() -> None:
    def returns_awaitable(text: str) -> _Ready:
        return _Ready()

    def returns_value(text: str) -> str:
        return "plain"

    awaitable_listener = listener(Note)(returns_awaitable)
    value_listener = listener(Note)(returns_value)
    # What Python 3.12's inspect.markcoroutinefunction declares: "call me and await".
    awaitable_listener.is_async = value_listener.is_async = True
    bus = EventBus(listeners=[awaitable_listener, value_listener])
    async with bus:
        bus.emit(Note(text="queued"))  # through the worker's inline path
        result = await bus.emit_and_wait(Note(text="x"))  # through Dispatcher.attempt
    assert [o.result for o in result.outcomes] == ["awaited", "plain"]
    assert isinstance(bus.backend, SimpleEventEmitter)
    assert bus.stats.delivered == 4  # the queued emit and emit_and_wait: one set of counters


class Normalized(Event, event_id="mem_normalized"):
    email: str

    def __init__(self, **data: Any) -> None:
        data["email"] = str(data.get("email", "")).lower()
        super().__init__(**data)


async def test_an_event_with_its_own_init_still_runs_it_in_every_emit_form() -> None:
    seen: list[str] = []

    @listener(Normalized)
    async def record(email: str) -> None:
        seen.append(email)

    bus = EventBus(listeners=[record])
    async with bus:
        bus.emit(Normalized, email="A@Example.com")
        bus.emit("mem_normalized", email="B@Example.com")
    assert seen == ["a@example.com", "b@example.com"]
