"""The middleware contract (DESIGN 10): order, attempts, failures, contexts, every entry point."""

from __future__ import annotations

import contextvars
from collections.abc import Callable
from typing import Any

import anyio
import pytest

from typed_events import Event, EventBus, Listener, Middleware, listener
from typed_events.middleware import CallNext, EmitNext, current_attempt

pytestmark = pytest.mark.anyio

tenant: contextvars.ContextVar[str | None] = contextvars.ContextVar("tenant", default=None)
around: contextvars.ContextVar[str | None] = contextvars.ContextVar("around", default=None)


class Paid(Event, event_id="paid"):
    amount: int


class Recorder(Middleware):
    """Records what it sees in ``log``; sets ``around`` to its name around each hook."""

    def __init__(self, name: str, log: list[str]) -> None:
        self.name, self.log = name, log

    def on_emit(self, event: Event, call_next: EmitNext) -> None:
        self.log.append(f"{self.name} emit in tenant={tenant.get()}")
        token = around.set(self.name)
        try:
            call_next(event)
        finally:
            around.reset(token)
        self.log.append(f"{self.name} emit out")

    async def on_call(self, event: Event, listener: Listener[..., Any], call_next: CallNext) -> Any:
        self.log.append(f"{self.name} call in attempt={current_attempt()} tenant={tenant.get()}")
        token = around.set(self.name)
        try:
            return await call_next(event, listener)
        except Exception as exc:
            self.log.append(f"{self.name} call raised {exc!r}")
            raise
        finally:
            around.reset(token)
            self.log.append(f"{self.name} call out")


async def test_first_middleware_is_outermost_for_emit_and_call() -> None:
    log: list[str] = []

    @listener(Paid)
    async def book(event: Paid) -> None:
        log.append(f"listener around={around.get()}")

    async with EventBus([book], middleware=[Recorder("a", log), Recorder("b", log)]) as bus:
        bus.emit(Paid(amount=1))
    assert log == [
        "a emit in tenant=None",
        "b emit in tenant=None",
        "b emit out",
        "a emit out",
        "a call in attempt=1 tenant=None",
        "b call in attempt=1 tenant=None",
        "listener around=b",  # what the innermost hook set is what the listener sees
        "b call out",
        "a call out",
    ]


async def test_on_call_sees_every_attempt_and_each_failure_passes_through_it() -> None:
    log: list[str] = []

    @listener(Paid, retries=2, retry_backoff=0)
    async def flaky(event: Paid) -> str:
        if current_attempt() < 3:
            raise ValueError(f"attempt {current_attempt()}")
        return "done"

    bus = EventBus([flaky], middleware=[Recorder("m", log)], on_error=lambda *a: None)
    async with bus:
        result = await bus.emit_and_wait(Paid(amount=1))
    assert result.outcomes[0].result == "done"
    assert result.outcomes[0].attempts == 3
    assert [line for line in log if "call" in line] == [
        "m call in attempt=1 tenant=None",
        "m call raised ValueError('attempt 1')",
        "m call out",
        "m call in attempt=2 tenant=None",
        "m call raised ValueError('attempt 2')",
        "m call out",
        "m call in attempt=3 tenant=None",
        "m call out",
    ]
    assert bus.stats.delivered == 1


async def test_raising_in_on_call_fails_the_attempt_like_the_listener_raising() -> None:
    calls: list[int] = []
    errors: list[tuple[str, BaseException]] = []

    class Refuse(Middleware):
        async def on_call(
            self, event: Event, listener: Listener[..., Any], call_next: CallNext
        ) -> Any:
            if current_attempt() == 1:
                raise PermissionError("not on the first attempt")
            return await call_next(event, listener)

    @listener(Paid, retries=1, retry_backoff=0)
    async def book(event: Paid) -> None:
        calls.append(current_attempt())

    @listener(Paid)
    async def audit(event: Paid) -> None:
        calls.append(0)

    def on_error(event: Event, listener: Listener[..., Any], exc: BaseException) -> None:
        errors.append((listener.name, exc))

    bus = EventBus([book, audit], middleware=[Refuse()], on_error=on_error)
    async with bus:
        bus.emit(Paid(amount=1))
    assert calls == [2]  # book ran on its retry; audit, with no retries, never ran
    [(name, exc)] = errors
    assert name == audit.name
    assert isinstance(exc, PermissionError)
    stats = bus.stats
    assert (stats.delivered, stats.failed, stats.accepted) == (1, 1, 2)


async def test_raising_in_on_emit_raises_to_the_emitter_and_nothing_is_queued() -> None:
    called: list[Paid] = []

    class RequireTenant(Middleware):
        def on_emit(self, event: Event, call_next: EmitNext) -> None:
            if tenant.get() is None:
                raise LookupError(f"{event.event_id} emitted outside a tenant")
            call_next(event)

    @listener(Paid)
    async def book(event: Paid) -> None:
        called.append(event)

    async with EventBus([book], middleware=[RequireTenant()]) as bus:
        with pytest.raises(LookupError, match="paid emitted outside a tenant"):
            bus.emit(Paid(amount=1))
        with pytest.raises(LookupError):
            await bus.emit_async(Paid(amount=2))
        with pytest.raises(LookupError):
            await bus.emit_and_wait(Paid(amount=3))
        token = tenant.set("acme")
        try:
            bus.emit(Paid(amount=4))
        finally:
            tenant.reset(token)
    assert called == [Paid(amount=4)]
    assert bus.stats.accepted == 1


async def test_on_call_runs_in_the_emitters_context_on_every_entry_point() -> None:
    """A hook reads the emitter's contextvars (the tenant), and what on_emit set around
    call_next reaches on_call and the listener, for emit, emit_async and emit_and_wait."""
    log: list[str] = []
    seen: list[tuple[int, str | None, str | None]] = []

    @listener(Paid)
    async def book(event: Paid) -> None:
        seen.append((event.amount, tenant.get(), around.get()))

    @listener(Paid)
    def book_sync(event: Paid) -> None:  # a worker thread, same context
        seen.append((-event.amount, tenant.get(), around.get()))

    class EmitOnly(Middleware):
        def on_emit(self, event: Event, call_next: EmitNext) -> None:
            token = around.set("emit")
            try:
                call_next(event)
            finally:
                around.reset(token)

    async with EventBus([book, book_sync], middleware=[EmitOnly(), Recorder("m", log)]) as bus:
        token = tenant.set("acme")
        try:
            bus.emit(Paid(amount=1))
            await bus.emit_async(Paid(amount=2))
            await bus.emit_and_wait(Paid(amount=3))
        finally:
            tenant.reset(token)
    # The listener sees the innermost on_call's value ("m"); without on_call middleware
    # it would see on_emit's ("emit"): checked next.
    assert sorted(seen) == sorted((sign * n, "acme", "m") for n in (1, 2, 3) for sign in (1, -1))
    assert all("tenant=acme" in line for line in log if " in " in line)


@pytest.mark.parametrize("entry", ["emit", "emit_async", "emit_and_wait"])
async def test_what_on_emit_sets_around_call_next_reaches_the_listener(entry: str) -> None:
    seen: list[str | None] = []

    @listener(Paid)
    async def book(event: Paid) -> None:
        seen.append(around.get())

    class Around(Middleware):
        def on_emit(self, event: Event, call_next: EmitNext) -> None:
            token = around.set("set in on_emit")
            try:
                call_next(event)
            finally:
                around.reset(token)

    async with EventBus([book], middleware=[Around()]) as bus:
        emit: Callable[[Paid], Any] = getattr(bus, entry)
        pending = emit(Paid(amount=1))
        if pending is not None:
            await pending
        assert around.get() is None  # restored in the emitter
    assert seen == ["set in on_emit"]


async def test_a_middleware_that_does_not_call_next_holds_the_event_back() -> None:
    called: list[int] = []

    class DropOdd(Middleware):
        def on_emit(self, event: Event, call_next: EmitNext) -> None:
            if isinstance(event, Paid) and event.amount % 2 == 0:
                call_next(event)

    @listener(Paid)
    async def book(event: Paid) -> None:
        called.append(event.amount)

    async with EventBus([book], middleware=[DropOdd()]) as bus:
        bus.emit(Paid(amount=1))
        await bus.emit_async(Paid(amount=3))
        result = await bus.emit_and_wait(Paid(amount=5))
        assert result.outcomes == []
        bus.emit(Paid(amount=2))
    assert called == [2]


async def test_emit_async_through_middleware_still_waits_for_room() -> None:
    """emit_async's backend step starts inside on_emit and finishes after it."""
    from typed_events import SimpleEventEmitter

    order: list[str] = []
    release = anyio.Event()

    @listener(Paid)
    async def slow(event: Paid) -> None:
        await release.wait()
        order.append(f"handled {event.amount}")

    class Note(Middleware):
        def on_emit(self, event: Event, call_next: EmitNext) -> None:
            call_next(event)
            order.append(f"emitted {getattr(event, 'amount', '?')}")

    backend = SimpleEventEmitter(max_pending=1)
    async with EventBus([slow], backend=backend, middleware=[Note()]) as bus:
        bus.emit(Paid(amount=1))
        async with anyio.create_task_group() as group:

            async def second() -> None:
                await bus.emit_async(Paid(amount=2))
                order.append("emit_async returned")

            group.start_soon(second)
            await anyio.wait_all_tasks_blocked()
            order.append("released")
            release.set()
    assert order == [
        "emitted 1",
        "emitted 2",  # on_emit has returned; the backend is still waiting for room
        "released",
        "handled 1",
        "emit_async returned",
        "handled 2",
    ]


async def test_middleware_must_be_middleware_objects() -> None:
    with pytest.raises(TypeError, match=r"takes typed_events\.Middleware objects"):
        EventBus(middleware=[object()])  # type: ignore[list-item]


async def test_current_attempt_is_one_outside_any_retry() -> None:
    assert current_attempt() == 1


async def test_outgoing_is_shared_by_nested_blocks_and_ends_with_the_emit() -> None:
    from typed_events.envelope import current_outgoing, outgoing

    assert current_outgoing() is None
    with outgoing() as outer:
        outer.extensions["traceparent"] = "00-..."
        with outgoing() as inner:  # a second middleware around the same emit
            assert inner is outer
        assert current_outgoing() is outer
        copied = contextvars.copy_context()  # what a listener's context is made from
    assert current_outgoing() is None
    # The listener's copy outlives the emit: a follow-up emit there starts afresh.
    assert copied.run(current_outgoing) is None

    def follow_up() -> Any:
        with outgoing() as message:
            return message

    assert copied.run(follow_up) is not outer
