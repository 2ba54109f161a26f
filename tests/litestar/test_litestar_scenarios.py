"""Litestar's own event scenarios, through the plugin, in two modes, on asyncio and trio.

Written from the scenarios of Litestar's ``tests/unit/test_events.py`` and of its events
doc's examples (``tests/examples/test_events.py``): the same routes, emits and
assertions, with an event model per id. ``typed`` mode: every listener is a typed one
in ``EventBus(listeners=[...])``. ``mixed`` mode: the first listener of each scenario
(and every other one after it) stays a plain ``litestar.events`` listener in
``Litestar(listeners=[...])``, as in an app halfway through its migration. Where the
outcome differs from ``litestar.events``, the test says so and pins the difference.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any
from unittest.mock import MagicMock

import pytest
from litestar import Litestar, Request, get, post
from litestar.events import listener as litestar_listener
from litestar.exceptions import ImproperlyConfiguredException
from litestar.params import FromPath, JSONBody
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED
from litestar.testing import TestClient
from litestar.types import AnyIOBackend

from typed_events import EmitterNotRunningError, Event, EventBus, UnknownEventError, listener
from typed_events.contrib.litestar import TypedEmitterBackend, TypedEventsPlugin

Req = Request[Any, Any, Any]
Spec = tuple[tuple[str, ...], Callable[..., Any]]


class SampleEvent(Event, event_id="ls_test_event"):
    value: str = ""  # Litestar's test emits one positional argument, or none
    keyword: str = ""


class SampleEvent1(Event, event_id="ls_test_event_1"):
    pass


class SampleEvent2(Event, event_id="ls_test_event_2"):
    pass


class AsyncError(Event, event_id="ls_async_error_event"):
    pass


class SyncError(Event, event_id="ls_sync_error_event"):
    pass


class UserRegistered(Event, event_id="ls_user_registered"):
    """The simple example's ``user_created`` (its own app, its own model)."""

    email: str


class UserCreated(Event, event_id="ls_user_created"):
    email: str
    message: str = "Welcome aboard!"


class PasswordChanged(Event, event_id="ls_password_changed"):
    email: str
    message: str


class UserDeleted(Event, event_id="ls_user_deleted"):
    email: str
    reason: str


EVENTS: list[type[Event]] = [
    SampleEvent,
    SampleEvent1,
    SampleEvent2,
    AsyncError,
    SyncError,
    UserRegistered,
    UserCreated,
    PasswordChanged,
    UserDeleted,
]


@pytest.fixture(params=["typed", "mixed"])
def mode(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def app_with(mode: str, handlers: Sequence[Any], *specs: Spec) -> Litestar:
    """An app whose listeners are ``specs`` (ids, function), typed or plain by ``mode``."""
    typed: list[Any] = []
    plain: list[Any] = []
    for index, (ids, func) in enumerate(specs):
        if mode == "mixed" and index % 2 == 0:
            plain.append(litestar_listener(*ids)(func))
        else:
            typed.append(listener(*ids)(func))
    bus = EventBus(typed, events=EVENTS)
    return Litestar(
        list(handlers), listeners=plain, plugins=[TypedEventsPlugin(bus)], logging_config=None
    )


def recording(mock: MagicMock, *, sync: bool) -> Callable[..., Any]:
    if sync:

        def sync_listener(*args: Any, **kwargs: Any) -> None:
            mock(*args, **kwargs)

        return sync_listener

    async def async_listener(*args: Any, **kwargs: Any) -> None:
        mock(*args, **kwargs)

    return async_listener


# -- tests/unit/test_events.py ----------------------------------------------------------


@pytest.mark.parametrize("sync", [True, False], ids=["sync", "async"])
def test_event_listener(sync: bool, mode: str, backend: AnyIOBackend) -> None:
    mock = MagicMock()

    @get("/", sync_to_thread=False)
    def route_handler(request: Req) -> None:
        request.app.emit("ls_test_event", "positional", keyword="keyword-value")

    app = app_with(mode, [route_handler], (("ls_test_event",), recording(mock, sync=sync)))
    with TestClient(app, backend=backend) as client:
        assert client.get("/").status_code == HTTP_200_OK
    # Differs from litestar.events, which calls mock("positional", keyword=...): the
    # positional argument fills the model's first field, and listeners get fields by name.
    mock.assert_called_once_with(value="positional", keyword="keyword-value")


def test_shutdown_awaits_pending(mode: str, backend: AnyIOBackend) -> None:
    mock = MagicMock()

    @post("/", sync_to_thread=False)
    def route_handler(request: Req) -> None:
        for _ in range(100):
            request.app.emit("ls_test_event")

    app = app_with(mode, [route_handler], (("ls_test_event",), recording(mock, sync=False)))
    with TestClient(app, backend=backend) as client:
        assert client.post("/").status_code == HTTP_201_CREATED
    assert mock.call_count == 100


def test_multiple_event_listeners(mode: str, backend: AnyIOBackend) -> None:
    mock = MagicMock()

    @get("/", sync_to_thread=False)
    def route_handler(request: Req) -> None:
        request.app.emit("ls_test_event")

    app = app_with(
        mode,
        [route_handler],
        (("ls_test_event",), recording(mock, sync=False)),
        (("ls_test_event",), recording(mock, sync=True)),
    )
    with TestClient(app, backend=backend) as client:
        assert client.get("/").status_code == HTTP_200_OK
    assert mock.call_count == 2


def test_multiple_event_ids(mode: str, backend: AnyIOBackend) -> None:
    mock = MagicMock()

    def event_handler() -> None:
        mock()

    @get("/{event_id:int}", sync_to_thread=False)
    def route_handler(request: Req, event_id: FromPath[int]) -> None:
        request.app.emit(f"ls_test_event_{event_id}")

    app = app_with(mode, [route_handler], (("ls_test_event_1", "ls_test_event_2"), event_handler))
    with TestClient(app, backend=backend) as client:
        assert client.get("/1").status_code == HTTP_200_OK
        assert client.get("/2").status_code == HTTP_200_OK
    assert mock.call_count == 2


def test_raises_when_decorator_called_without_callable(mode: str) -> None:
    if mode == "mixed":  # Litestar's own decorator, unchanged
        with pytest.raises(ImproperlyConfiguredException):
            litestar_listener("ls_test_even")(True)  # type: ignore[arg-type]  # the mistake under test
    else:  # differs: typed_events.listener raises TypeError, with what it got
        with pytest.raises(TypeError, match="decorates a callable, got True"):
            listener("ls_test_even")(True)  # type: ignore[arg-type]  # the mistake under test


def test_raises_when_not_initialized(mode: str) -> None:
    app = app_with(mode, [], (("ls_test_event",), recording(MagicMock(), sync=False)))
    with pytest.raises(RuntimeError) as caught:
        app.emit("x")
    assert isinstance(caught.value, EmitterNotRunningError)


def test_emit_of_an_id_without_listener(mode: str, backend: AnyIOBackend) -> None:
    mock = MagicMock()
    app = app_with(mode, [], (("ls_test_event",), recording(mock, sync=False)))
    with TestClient(app, backend=backend):
        # Differs: litestar.events raises ImproperlyConfiguredException for any id without
        # a listener. Here an id no event declares raises UnknownEventError (with a
        # suggestion), and a declared event with no listener is a no-op (litestar#4263).
        with pytest.raises(UnknownEventError, match='did you mean "ls_test_event"'):
            app.emit("ls_test_evnt")
        app.emit("ls_test_event_1")
    mock.assert_not_called()


def test_event_listener_raises_exception(mode: str, backend: AnyIOBackend) -> None:
    mock = MagicMock()
    error_mock = MagicMock()

    async def async_raising_listener(*args: Any, **kwargs: Any) -> None:
        error_mock()
        raise ValueError("test")

    def sync_raising_listener(*args: Any, **kwargs: Any) -> None:
        error_mock()
        raise ValueError("test")

    @get("/async-error", sync_to_thread=False)
    def route_handler_1(request: Req) -> None:
        request.app.emit("ls_async_error_event")

    @get("/sync-error", sync_to_thread=False)
    def route_handler_2(request: Req) -> None:
        request.app.emit("ls_sync_error_event")

    @get("/no-error", sync_to_thread=False)
    def route_handler_3(request: Req) -> None:
        request.app.emit("ls_test_event")

    app = app_with(
        mode,
        [route_handler_1, route_handler_2, route_handler_3],
        (("ls_test_event",), recording(mock, sync=False)),
        (("ls_test_event",), recording(mock, sync=True)),
        (("ls_async_error_event",), async_raising_listener),
        (("ls_sync_error_event",), sync_raising_listener),
    )
    with TestClient(app, backend=backend) as client:
        assert client.get("/async-error").status_code == HTTP_200_OK
        assert client.get("/sync-error").status_code == HTTP_200_OK
        assert client.get("/no-error").status_code == HTTP_200_OK
    assert error_mock.call_count == 2
    assert mock.call_count == 2


# -- tests/examples/test_events.py (the events doc's three examples) --------------------


def test_listener_receives_emitted_event(mode: str, backend: AnyIOBackend) -> None:
    sent: list[str] = []

    async def send_welcome_email_handler(email: str) -> None:
        sent.append(email)

    @post("/users")
    async def create_user_handler(data: JSONBody[dict[str, str]], request: Req) -> None:
        request.app.emit("ls_user_registered", email=data["email"])

    app = app_with(
        mode, [create_user_handler], (("ls_user_registered",), send_welcome_email_handler)
    )
    user = {"first_name": "Jane", "last_name": "Doe", "email": "jane@example.com"}
    with TestClient(app, backend=backend) as client:
        assert client.post("/users", json=user).status_code == HTTP_201_CREATED
    assert sent == ["jane@example.com"]


def test_listener_for_multiple_events(mode: str, backend: AnyIOBackend) -> None:
    sent: list[tuple[str, str]] = []

    async def send_email_handler(email: str, message: str) -> None:
        sent.append((email, message))

    @post("/user-created")
    async def user_created(request: Req) -> None:
        request.app.emit("ls_user_created", email="jane@example.com")

    @post("/password-changed")
    async def password_changed(request: Req) -> None:
        request.app.emit(
            "ls_password_changed", email="jane@example.com", message="Your password was changed."
        )

    app = app_with(
        mode,
        [user_created, password_changed],
        (("ls_user_created", "ls_password_changed"), send_email_handler),
    )
    with TestClient(app, backend=backend) as client:
        assert client.post("/user-created").status_code == HTTP_201_CREATED
        assert client.post("/password-changed").status_code == HTTP_201_CREATED
    assert sent == [
        ("jane@example.com", "Welcome aboard!"),
        ("jane@example.com", "Your password was changed."),
    ]


def test_multiple_listeners_for_same_event(mode: str, backend: AnyIOBackend) -> None:
    farewells: list[str] = []
    tickets: list[str] = []

    async def send_farewell_email_handler(email: str, **kwargs: Any) -> None:
        farewells.append(email)

    async def notify_customer_support(reason: str, **kwargs: Any) -> None:
        tickets.append(reason)

    @post("/users")
    async def delete_user_handler(data: JSONBody[dict[str, str]], request: Req) -> None:
        request.app.emit("ls_user_deleted", email=data["email"], reason=data["reason"])

    app = app_with(
        mode,
        [delete_user_handler],
        (("ls_user_deleted",), send_farewell_email_handler),
        (("ls_user_deleted",), notify_customer_support),
    )
    body = {"email": "jane@example.com", "reason": "left the company"}
    with TestClient(app, backend=backend) as client:
        assert client.post("/users", json=body).status_code == HTTP_201_CREATED
    assert farewells == ["jane@example.com"]
    assert tickets == ["left the company"]


def test_mixed_mode_really_mixes(mode: str) -> None:
    async def first(**kwargs: Any) -> None: ...

    async def second(**kwargs: Any) -> None: ...

    app = app_with(mode, [], (("ls_user_deleted",), first), (("ls_user_deleted",), second))
    emitter = app.event_emitter
    assert isinstance(emitter, TypedEmitterBackend)
    plain = [item.func for item in emitter.plain_listeners]
    typed = [item.func for item in emitter.bus.listeners]
    assert (plain, typed) == (([first], [second]) if mode == "mixed" else ([], [first, second]))
