"""What Litestar's own emitter guarantees still holds through the plugin, on asyncio and trio.

Litestar's ``TestClient(app, backend=...)`` runs the app, lifespan included, on the
chosen anyio backend; leaving the client runs the shutdown, which drains the bus.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import anyio
import pytest
from litestar import Litestar, Request, post
from litestar.events import listener as litestar_listener
from litestar.params import FromPath
from litestar.testing import TestClient
from litestar.types import AnyIOBackend

from typed_events import EmitterNotRunningError, Event, EventBus, listener
from typed_events.contrib.litestar import TypedEventsPlugin


class OrderPlaced(Event, event_id="lt_order_placed"):
    order_id: str
    quantity: int


class Ping(Event, event_id="lt_ping"):
    n: int


class Pong(Event, event_id="lt_pong"):
    n: int


Req = Request[Any, Any, Any]


@post("/order")
async def place_order(request: Req) -> None:
    request.app.emit("lt_order_placed", "o-1", quantity=3)  # positional and keyword
    request.app.emit("lt_order_placed", "o-2", 5)  # all positional


@post("/ping/{count:int}")
async def ping(count: FromPath[int], request: Req) -> None:
    for n in range(count):
        request.app.emit("lt_ping", n=n)


@post("/pong")
async def pong(request: Req) -> None:
    request.app.emit("lt_pong", n=7)


@post("/ping-from-thread", sync_to_thread=True)
def ping_from_thread(request: Req) -> None:
    request.app.emit("lt_ping", n=threading.get_ident())


HANDLERS = [place_order, ping, pong, ping_from_thread]


def build_app(*typed: Any, plain: tuple[Any, ...] = ()) -> Litestar:
    bus = EventBus(listeners=typed, events=[OrderPlaced, Ping, Pong])
    # logging_config=None: Litestar's default config replaces the root handlers, caplog's too.
    return Litestar(
        HANDLERS, listeners=list(plain), plugins=[TypedEventsPlugin(bus)], logging_config=None
    )


def test_positional_and_keyword_payloads_reach_every_listener(backend: AnyIOBackend) -> None:
    received: list[tuple[str, str, int]] = []

    @listener(OrderPlaced)
    async def typed_fields(order_id: str, quantity: int) -> None:
        received.append(("typed fields", order_id, quantity))

    @listener(OrderPlaced)
    async def typed_event(event: OrderPlaced) -> None:
        received.append(("typed event", event.order_id, event.quantity))

    @litestar_listener("lt_order_placed")
    async def plain(order_id: str, quantity: int) -> None:
        received.append(("plain", order_id, quantity))

    app = build_app(typed_fields, typed_event, plain=(plain,))
    with TestClient(app, backend=backend) as client:
        assert client.post("/order").status_code == 201
    assert sorted(received) == [
        ("plain", "o-1", 3),
        ("plain", "o-2", 5),
        ("typed event", "o-1", 3),
        ("typed event", "o-2", 5),
        ("typed fields", "o-1", 3),
        ("typed fields", "o-2", 5),
    ]


def test_a_hundred_emits_are_all_handled_by_shutdown(backend: AnyIOBackend) -> None:
    handled: list[int] = []
    plain_handled: list[int] = []

    @listener(Ping)
    async def slow(n: int) -> None:
        await anyio.sleep(0.01)  # still running when the request returns
        handled.append(n)

    @litestar_listener("lt_ping")
    async def plain_slow(n: int) -> None:
        await anyio.sleep(0.01)
        plain_handled.append(n)

    app = build_app(slow, plain=(plain_slow,))
    with TestClient(app, backend=backend) as client:
        assert client.post("/ping/100").status_code == 201
    assert sorted(handled) == list(range(100))
    assert sorted(plain_handled) == list(range(100))


def test_sync_and_async_listeners_on_one_event_all_run(backend: AnyIOBackend) -> None:
    ran: list[str] = []

    @listener(Pong)
    def typed_sync(n: int) -> None:
        ran.append("typed sync")

    @listener(Pong)
    async def typed_async(n: int) -> None:
        ran.append("typed async")

    @litestar_listener("lt_pong")
    def plain_sync(n: int) -> None:
        ran.append("plain sync")

    @litestar_listener("lt_pong")
    async def plain_async(n: int) -> None:
        ran.append("plain async")

    app = build_app(typed_sync, typed_async, plain=(plain_sync, plain_async))
    with TestClient(app, backend=backend) as client:
        assert client.post("/pong").status_code == 201
    assert sorted(ran) == ["plain async", "plain sync", "typed async", "typed sync"]


def test_one_listener_on_two_ids(backend: AnyIOBackend) -> None:
    seen: list[str] = []

    @listener(Ping, Pong)
    async def typed_both(event: Ping | Pong) -> None:
        seen.append(f"typed {event.event_id}")

    @litestar_listener("lt_ping", "lt_pong")
    async def plain_both(n: int) -> None:
        seen.append(f"plain n={n}")

    app = build_app(typed_both, plain=(plain_both,))
    with TestClient(app, backend=backend) as client:
        assert client.post("/ping/1").status_code == 201
        assert client.post("/pong").status_code == 201
    assert sorted(seen) == ["plain n=0", "plain n=7", "typed lt_ping", "typed lt_pong"]


def test_a_raising_listener_leaves_the_app_serving(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    survivors: list[int] = []

    @listener(Ping)
    async def explodes(n: int) -> None:
        raise RuntimeError(f"listener bug on {n}")

    @litestar_listener("lt_ping")
    def plain_explodes(n: int) -> None:
        raise ValueError(f"plain listener bug on {n}")

    @listener(Ping)
    async def survives(n: int) -> None:
        survivors.append(n)

    app = build_app(explodes, survives, plain=(plain_explodes,))
    with caplog.at_level(logging.ERROR), TestClient(app, backend=backend) as client:
        for _ in range(5):
            assert client.post("/ping/2").status_code == 201
    assert sorted(survivors) == [0, 0, 0, 0, 0, 1, 1, 1, 1, 1]
    failures = [r.getMessage() for r in caplog.records if r.name == "typed_events"]
    assert sum("explodes" in m and "'lt_ping'" in m for m in failures) == 20
    assert any("listener bug on 1" in m for m in failures)
    assert any("plain listener bug on 0" in m for m in failures)


def test_emit_from_a_sync_handler_in_a_worker_thread(backend: AnyIOBackend) -> None:
    threads: list[int] = []

    @listener(Ping)
    async def record(n: int) -> None:
        threads.append(n)

    app = build_app(record)
    with TestClient(app, backend=backend) as client:
        assert client.post("/ping-from-thread").status_code == 201
    assert len(threads) == 1
    assert threads[0] != threading.get_ident()  # emitted from Litestar's thread pool


def test_emit_before_startup_and_after_shutdown_is_an_error(backend: AnyIOBackend) -> None:
    @listener(Ping)
    async def record(n: int) -> None: ...

    app = build_app(record)
    with pytest.raises(EmitterNotRunningError, match="lifespan") as before:
        app.emit("lt_ping", n=1)
    # Litestar's own emitter raises a RuntimeError here too.
    assert isinstance(before.value, RuntimeError)
    with TestClient(app, backend=backend) as client:
        assert client.post("/ping/1").status_code == 201
    with pytest.raises(EmitterNotRunningError):
        app.emit("lt_ping", n=2)


def test_startup_hooks_can_emit_the_bus_is_already_running(backend: AnyIOBackend) -> None:
    # Litestar enters the emitter before the lifespan managers and on_startup hooks.
    seen: list[int] = []

    @listener(Ping)
    async def record(n: int) -> None:
        seen.append(n)

    def warm_up(app: Litestar) -> None:
        app.emit("lt_ping", n=42)

    bus = EventBus([record], events=[Ping])
    app = Litestar(plugins=[TypedEventsPlugin(bus)], on_startup=[warm_up], logging_config=None)
    with TestClient(app, backend=backend):
        pass
    assert seen == [42]


def test_follow_up_emits_during_shutdown_reach_plain_listeners(backend: AnyIOBackend) -> None:
    pongs: list[int] = []

    @listener(Ping)
    async def answer(n: int) -> None:
        await anyio.sleep(0.05)  # still running when the shutdown begins
        app.emit("lt_pong", n=n)

    @litestar_listener("lt_pong")
    async def plain_record(n: int) -> None:
        pongs.append(n)

    app = build_app(answer, plain=(plain_record,))
    with TestClient(app, backend=backend) as client:
        assert client.post("/ping/3").status_code == 201
    assert sorted(pongs) == [0, 1, 2]
