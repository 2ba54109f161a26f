"""Plain listeners on Redis Streams: consumer groups like typed ones (asyncio only).

RedisStreamsBackend runs on asyncio (redis-py), so these tests run there alone; the
redis-server is the private one of ``tests/redis/conftest.py``.
"""

from __future__ import annotations

import threading
from typing import Any

import pytest
from litestar import Litestar, Request, post
from litestar.di import NamedDependency
from litestar.events import listener as litestar_listener
from litestar.testing import TestClient

from tests.redis.conftest import RedisServer, redis_server
from typed_events import EmitterNotRunningError, Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend
from typed_events.contrib.litestar import TypedEventsPlugin
from typed_events.errors import RedisUnavailableError

__all__ = ["redis_server"]  # the fixture, imported for the tests below

Req = Request[Any, Any, Any]


class Parcel(Event, event_id="lt_redis_parcel"):
    n: int


plain_seen: list[int] = []
typed_seen: list[int] = []
all_seen = threading.Condition()


@litestar_listener("lt_redis_parcel")
async def plain_parcel(n: int) -> None:
    with all_seen:
        plain_seen.append(n)
        all_seen.notify_all()


@listener(Parcel)
async def typed_parcel(n: int) -> None:
    with all_seen:
        typed_seen.append(n)
        all_seen.notify_all()


@post("/parcels")
async def send_parcels(request: Req, bus: NamedDependency[EventBus]) -> None:
    request.app.emit("lt_redis_parcel", n=1)
    await bus.emit_async(Parcel(n=2))


def test_plain_listeners_get_their_own_consumer_group(redis_server: RedisServer) -> None:
    plain_seen.clear()
    typed_seen.clear()
    backend = RedisStreamsBackend(redis_server.url, service="shop", claim_idle=1.0)
    bus = EventBus([typed_parcel], backend=backend)
    app = Litestar(
        [send_parcels],
        listeners=[plain_parcel],
        plugins=[TypedEventsPlugin(bus)],
        logging_config=None,
    )
    with TestClient(app, backend="asyncio") as client:
        assert client.post("/parcels").status_code == 201
        with all_seen:
            delivered = all_seen.wait_for(
                lambda: len(plain_seen) == 2 and len(typed_seen) == 2, timeout=20
            )
    assert delivered, (plain_seen, typed_seen)
    assert sorted(plain_seen) == sorted(typed_seen) == [1, 2]
    groups = {
        info["name"].decode()
        for info in redis_server.client().groups(backend.stream_key("lt_redis_parcel"))
    }
    module = "tests.litestar.test_redis"
    assert groups == {f"shop:{module}.plain_parcel", f"shop:{module}.typed_parcel"}


def test_a_startup_that_fails_leaves_the_bus_as_it_was() -> None:
    # Nothing listens on port 1: the backend refuses to start, the app's startup raises.
    bus = EventBus(backend=RedisStreamsBackend("redis://127.0.0.1:1/0", service="shop"))
    app = Litestar(listeners=[plain_parcel], plugins=[TypedEventsPlugin(bus)], logging_config=None)
    with pytest.raises(RedisUnavailableError), TestClient(app, backend="asyncio"):
        pass  # pragma: no cover  # the startup raises
    assert not bus.listeners  # the app's plain listener is not left on the bus
    assert not bus.running
    with pytest.raises(EmitterNotRunningError, match="before this Litestar app started"):
        app.emit("lt_redis_parcel", n=1)
