"""Issue 13, finding 5: a rejected payload is matched to its event by class identity.

A ``pydantic.ValidationError`` names its model by ``__name__`` only; the plugin's log
line and ``client_payload()`` find the class itself (through the bus's validation or
pydantic's frames), so a handler's own model that shares an event's name is left to
Litestar, and of two events both named ``Created`` the right id is named.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest
from litestar import Litestar, Request, WebSocket, post, websocket
from litestar.di import NamedDependency
from litestar.exceptions import WebSocketDisconnect
from litestar.params import JSONBody
from litestar.testing import TestClient
from litestar.types import AnyIOBackend
from pydantic import BaseModel

from typed_events import Event, EventBus
from typed_events.contrib.litestar import TypedEventsPlugin, client_payload

Req = Request[Any, Any, Any]


class Created(Event, event_id="lt_user_created"):
    email: str


def _order_created() -> type[Event]:
    class Created(Event, event_id="lt_order_created"):  # the same class name, another event
        order_id: int

    return Created


OrderCreated: Any = _order_created()  # a class made at run time: typed loosely


def log_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.name == "typed_events.litestar"]


def serve(*handlers: Any) -> Litestar:
    bus = EventBus(events=[Created, OrderCreated])
    return Litestar(list(handlers), plugins=[TypedEventsPlugin(bus)], logging_config=None)


def _by_app_emit(request: Req, bus: EventBus) -> None:
    request.app.emit("lt_order_created", order_id="many")


def _by_bus_and_class(request: Req, bus: EventBus) -> None:
    bus.emit(OrderCreated, order_id="many")


def _by_bus_and_id(request: Req, bus: EventBus) -> None:
    bus.emit("lt_order_created", order_id="many")


def _by_building_the_instance(request: Req, bus: EventBus) -> None:
    bus.emit(OrderCreated(order_id="many"))


@pytest.mark.parametrize(
    "emit",
    [_by_app_emit, _by_bus_and_class, _by_bus_and_id, _by_building_the_instance],
    ids=["app.emit", "bus.emit(cls)", "bus.emit(id)", "instance"],
)
def test_of_two_events_named_alike_the_log_names_the_one_emitted(
    emit: Callable[[Req, EventBus], None], backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    @post("/order")
    async def order(request: Req, bus: NamedDependency[EventBus]) -> None:
        emit(request, bus)

    with caplog.at_level(logging.ERROR), TestClient(serve(order), backend=backend) as client:
        assert client.post("/order").status_code == 500
    (line,) = log_lines(caplog)
    assert line.startswith(
        'POST /order: the handler emitted an invalid "lt_order_created" payload '
        "(_order_created.<locals>.Created), answered 500: order_id: Input should be a valid "
        "integer"
    )


def test_a_handlers_own_model_named_like_an_event_is_left_to_litestar(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    class Created(BaseModel):  # the handler's form, named like the event
        email: int

    @post("/form")
    async def form() -> None:
        Created.model_validate({"email": "not a number"})

    @post("/form-checked")
    async def form_checked() -> None:
        with client_payload():
            Created(email="not a number")  # type: ignore[arg-type]  # the bug under test

    app = serve(form, form_checked)
    with caplog.at_level(logging.ERROR), TestClient(app, backend=backend) as client:
        assert client.post("/form").status_code == 500
        # Not an event: client_payload() lets it through, so it stays a 500.
        assert client.post("/form-checked").status_code == 500
    assert log_lines(caplog) == []


def test_client_payload_names_the_event_by_its_id(backend: AnyIOBackend) -> None:
    @post("/order")
    async def order(data: JSONBody[dict[str, Any]], request: Req) -> None:
        with client_payload():
            request.app.emit("lt_order_created", **data)

    with TestClient(serve(order), backend=backend) as client:
        response = client.post("/order", json={"order_id": "many"})
    assert response.status_code == 400
    assert response.json()["detail"] == (
        'the request\'s data does not fit the event "lt_order_created" '
        "(_order_created.<locals>.Created)"
    )


# -- websockets: Litestar closes with 4500, client_payload() does not change it ----------


@websocket("/ws")
async def ws_emit(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    data = await socket.receive_json()
    socket.app.emit("lt_user_created", **data)
    await socket.send_json({"ok": True})


@websocket("/ws-checked")
async def ws_emit_checked(socket: WebSocket[Any, Any, Any]) -> None:
    await socket.accept()
    data = await socket.receive_json()
    with client_payload():
        socket.app.emit("lt_user_created", **data)
    await socket.send_json({"ok": True})


def test_a_bad_payload_in_a_websocket_closes_it_with_4500_and_one_log_line(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    app = serve(ws_emit, ws_emit_checked)
    with caplog.at_level(logging.ERROR), TestClient(app, backend=backend) as client:
        with client.websocket_connect("/ws") as socket:
            socket.send_json({"email": "ada@example.com"})
            assert socket.receive_json() == {"ok": True}
        with client.websocket_connect("/ws") as socket:
            socket.send_json({"email": 42})
            with pytest.raises(WebSocketDisconnect) as closed:
                socket.receive_json()
    assert closed.value.code == 4500
    (line,) = log_lines(caplog)
    assert line.startswith(
        'websocket /ws: the handler emitted an invalid "lt_user_created" payload '
        "(Created), closed the websocket (4500): email: Input should be a valid string"
    )
    assert "client_payload() does not apply to websockets" in line


def test_client_payload_in_a_websocket_still_closes_it_with_4500(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    app = serve(ws_emit, ws_emit_checked)
    with (
        caplog.at_level(logging.ERROR),
        TestClient(app, backend=backend) as client,
        client.websocket_connect("/ws-checked") as socket,
    ):
        socket.send_json({"email": 42})
        with pytest.raises(WebSocketDisconnect) as closed:
            socket.receive_json()
    # Not 4400: Litestar closes a websocket with 4500 for any exception of the handler.
    assert closed.value.code == 4500
    assert closed.value.detail == (
        'the request\'s data does not fit the event "lt_user_created" (Created)'
    )
    assert log_lines(caplog) == []
