"""Issue 13: plain ``litestar.events`` listeners are listeners of the bus itself.

One routing, one backend and its limits, one shutdown report; every emit path reaches
every listener of the id; an emit is accepted for all of them or raises for all. Each
test names the finding of the issue it pins. On asyncio and trio (the ``backend``
fixture), through Litestar's ``TestClient``, which runs the lifespan.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Any

import anyio
import pytest
from litestar import Litestar, Request, post
from litestar.di import NamedDependency
from litestar.events import listener as litestar_listener
from litestar.params import FromPath
from litestar.testing import TestClient
from litestar.types import AnyIOBackend

from typed_events import (
    EmitterNotRunningError,
    Event,
    EventBus,
    QueueFullError,
    SimpleEventEmitter,
    listener,
)
from typed_events.contrib.litestar import TypedEventsPlugin

Req = Request[Any, Any, Any]


class Ping(Event, event_id="lt_one_ping"):
    n: int


class Pong(Event, event_id="lt_one_pong"):
    n: int


def build(bus: EventBus, *plain: Any, handlers: tuple[Any, ...] = (), **options: Any) -> Litestar:
    options.setdefault("logging_config", None)
    return Litestar(
        list(handlers), listeners=list(plain), plugins=[TypedEventsPlugin(bus)], **options
    )


# -- finding 1: every emit path reaches plain listeners ---------------------------------


def test_every_emit_path_reaches_plain_listeners(backend: AnyIOBackend) -> None:
    plain_seen: list[int] = []
    outcomes: list[str] = []

    @litestar_listener("lt_one_ping")
    async def plain_record(n: int) -> None:
        plain_seen.append(n)

    @listener(Pong)
    async def typed_forward(event: Pong) -> None:
        bus.emit(Ping(n=event.n))  # from a typed listener

    @post("/paths")
    async def paths(bus: NamedDependency[EventBus], request: Req) -> None:
        bus.emit(Ping(n=1))
        await bus.emit_async(Ping, n=2)
        result = await bus.emit_and_wait("lt_one_ping", n=3)
        outcomes.extend(o.listener.name.rsplit(".", 1)[-1] for o in result.outcomes)
        bus.emit(Pong(n=4))
        request.app.emit("lt_one_ping", n=5)

    bus = EventBus([typed_forward], events=[Ping])
    with TestClient(build(bus, plain_record, handlers=(paths,)), backend=backend) as client:
        assert client.post("/paths").status_code == 201
    assert sorted(plain_seen) == [1, 2, 3, 4, 5]
    assert outcomes == ["plain_record"]


# -- finding 2: the bus backend's limits and report apply to plain listeners ------------


def test_max_concurrency_of_the_bus_backend_bounds_plain_listeners(backend: AnyIOBackend) -> None:
    running = peak = 0
    done: list[int] = []

    @litestar_listener("lt_one_ping")
    async def plain_busy(n: int) -> None:
        nonlocal running, peak
        running += 1
        peak = max(peak, running)
        await anyio.sleep(0.001)  # still running while the next calls could start
        running -= 1
        done.append(n)

    @post("/burst")
    async def burst(request: Req) -> None:
        for n in range(50):
            request.app.emit("lt_one_ping", n=n)

    bus = EventBus(events=[Ping], backend=SimpleEventEmitter(max_concurrency=2))
    with TestClient(build(bus, plain_busy, handlers=(burst,)), backend=backend) as client:
        assert client.post("/burst").status_code == 201
    assert sorted(done) == list(range(50))
    assert 1 <= peak <= 2


def test_a_plain_call_cut_by_the_shutdown_timeout_is_in_the_shutdown_report(
    backend: AnyIOBackend,
) -> None:
    @litestar_listener("lt_one_ping")
    async def plain_hangs(n: int) -> None:
        await anyio.sleep_forever()

    @post("/hang")
    async def hang(request: Req) -> None:
        request.app.emit("lt_one_ping", n=1)

    bus = EventBus(events=[Ping], backend=SimpleEventEmitter(shutdown_timeout=0.2))
    with TestClient(build(bus, plain_hangs, handlers=(hang,)), backend=backend) as client:
        assert client.post("/hang").status_code == 201
    report = bus.shutdown_report
    assert report is not None
    assert report.timed_out
    assert [name.rsplit(".", 1)[-1] for name in report.cancelled] == ["plain_hangs"]
    assert bus.stats.dropped == 1
    assert bus.stats.accepted == 1


# -- finding 3: accepted for all listeners, or refused for all -------------------------


def test_a_full_queue_refuses_the_event_for_typed_and_plain_listeners_alike(
    backend: AnyIOBackend,
) -> None:
    release = threading.Event()
    typed_seen: list[int] = []
    plain_seen: list[int] = []
    refusals: list[str] = []

    @listener(Ping)
    async def typed_record(n: int) -> None:
        typed_seen.append(n)

    @litestar_listener("lt_one_ping")
    def plain_blocks(n: int) -> None:  # sync: runs in a worker thread
        release.wait(10)
        plain_seen.append(n)

    @post("/ping/{n:int}")
    async def ping(n: FromPath[int], request: Req) -> None:
        try:
            request.app.emit("lt_one_ping", n=n)
        except QueueFullError as error:
            refusals.append(str(error))

    bus = EventBus([typed_record], backend=SimpleEventEmitter(max_pending=1))
    try:
        with TestClient(build(bus, plain_blocks, handlers=(ping,)), backend=backend) as client:
            assert client.post("/ping/1").status_code == 201
            assert client.post("/ping/2").status_code == 201  # the handler caught the refusal
            release.set()
    finally:
        release.set()
    assert typed_seen == [1]
    assert plain_seen == [1]
    assert len(refusals) == 1
    # The setting it names is one the user can reach: the bus's backend.
    assert "SimpleEventEmitter(max_pending=...)" in refusals[0]


def test_an_app_that_has_not_started_refuses_the_emit_for_every_listener(
    backend: AnyIOBackend,
) -> None:
    typed_seen: list[int] = []
    errors: list[str] = []

    @listener(Ping)
    async def typed_record(n: int) -> None:
        typed_seen.append(n)

    @litestar_listener("lt_one_ping")
    async def plain_record(n: int) -> None:
        raise AssertionError("never called")

    bus = EventBus([typed_record])
    idle_app = build(bus, plain_record)

    @post("/other")
    async def emit_on_the_idle_app() -> None:
        try:
            idle_app.emit("lt_one_ping", n=1)
        except EmitterNotRunningError as error:
            errors.append(str(error))

    serving_app = build(bus, handlers=(emit_on_the_idle_app,))
    with TestClient(serving_app, backend=backend) as client:
        assert client.post("/other").status_code == 201
    assert typed_seen == []
    assert errors == [
        "app.emit() was called on a Litestar app that has not started, while its EventBus "
        "runs for another app; a bus serves one app at a time: start this app (its "
        "lifespan runs the bus), or give each app its own EventBus"
    ]


# -- finding 4: a plain listener's follow-up emit during the shutdown drain -------------


def test_a_plain_listeners_follow_up_during_the_drain_reaches_both_kinds(
    backend: AnyIOBackend,
) -> None:
    shutting_down: list[anyio.Event] = []
    typed_pongs: list[int] = []
    plain_pongs: list[int] = []

    @asynccontextmanager
    async def mark_shutdown(app: Litestar) -> AsyncGenerator[None]:
        # Litestar leaves its lifespan managers before the event emitter: the bus
        # is about to drain when this exits.
        shutting_down.append(anyio.Event())
        yield
        shutting_down[0].set()

    @litestar_listener("lt_one_ping")
    async def plain_answer(n: int) -> None:
        await shutting_down[0].wait()
        await anyio.sleep(0.05)  # well into the drain: the bus waits for this call
        app.emit("lt_one_pong", n=n)

    @listener(Pong)
    async def typed_pong(n: int) -> None:
        typed_pongs.append(n)

    @litestar_listener("lt_one_pong")
    async def plain_pong(n: int) -> None:
        plain_pongs.append(n)

    @post("/ping")
    async def ping(request: Req) -> None:
        request.app.emit("lt_one_ping", n=7)

    bus = EventBus([typed_pong], events=[Ping])
    app = build(bus, plain_answer, plain_pong, handlers=(ping,), lifespan=[mark_shutdown])
    with TestClient(app, backend=backend) as client:
        assert client.post("/ping").status_code == 201
    assert typed_pongs == [7]
    assert plain_pongs == [7]
    assert bus.stats.failed == 0
    report = bus.shutdown_report
    assert report is not None
    assert report.clean


# -- finding 6: misuse messages -------------------------------------------------------


def test_two_plugins_in_one_app_are_refused_with_what_to_do() -> None:
    from litestar.exceptions import ImproperlyConfiguredException

    first, second = EventBus(events=[Ping]), EventBus(events=[Pong])
    with pytest.raises(ImproperlyConfiguredException) as caught:
        Litestar(plugins=[TypedEventsPlugin(first), TypedEventsPlugin(second)])
    message = str(caught.value)
    assert "two TypedEventsPlugins" in message
    assert "BoundTypedEmitterBackend" not in message
    assert "keep one TypedEventsPlugin(bus)" in message


def test_the_same_plugin_listed_twice_installs_once() -> None:
    plugin = TypedEventsPlugin(EventBus(events=[Ping]))
    app = Litestar(plugins=[plugin, plugin])
    assert isinstance(app.event_emitter, plugin.backend_class)


def test_a_second_app_starting_while_the_first_serves_its_bus_is_refused(
    backend: AnyIOBackend,
) -> None:
    bus = EventBus(events=[Ping])
    first, second = build(bus), build(bus)
    with TestClient(first, backend=backend):
        with (
            pytest.raises(EmitterNotRunningError, match="runs for another Litestar app") as caught,
            TestClient(second, backend=backend),
        ):
            pass  # pragma: no cover  # the startup raises
        assert "give each app its own EventBus(...) and TypedEventsPlugin" in str(caught.value)
    # Once the first has stopped, the second starts with the same bus.
    with TestClient(second, backend=backend):
        assert bus.running


def test_a_bus_entered_by_hand_is_refused_by_the_app_with_the_fix(backend: AnyIOBackend) -> None:
    bus = EventBus(events=[Ping])
    app = build(bus)

    async def main() -> None:
        async with bus:
            with pytest.raises(EmitterNotRunningError, match=r"entered `async with bus` itself"):
                await app.event_emitter.__aenter__()

    anyio.run(main, backend=backend)


def test_the_bus_routes_to_an_apps_plain_listeners_only_while_it_runs(
    backend: AnyIOBackend,
) -> None:
    @litestar_listener("lt_one_ping")
    async def plain_record(n: int) -> None: ...

    @litestar_listener("lt_one_ping")
    async def other_plain(n: int) -> None: ...

    bus = EventBus(events=[Ping])
    first, second = build(bus, plain_record), build(bus, other_plain)
    assert not bus.listeners
    runs: list[tuple[Litestar, str]] = [(first, "plain_record"), (second, "other_plain")]
    for app, expected in runs:
        with TestClient(app, backend=backend):
            assert [item.name.rsplit(".", 1)[-1] for item in bus.listeners] == [expected]
        assert not bus.listeners
