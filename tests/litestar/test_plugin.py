"""TypedEventsPlugin: checks when the app is built, the bus dependency, rejected payloads."""

from __future__ import annotations

import logging
from typing import Any

import pytest
from litestar import Litestar, Request, get, post
from litestar.di import NamedDependency, Provide
from litestar.events import SimpleEventEmitter as LitestarSimpleEventEmitter
from litestar.events import listener as litestar_listener
from litestar.exceptions import ImproperlyConfiguredException
from litestar.params import JSONBody
from litestar.testing import TestClient
from litestar.types import AnyIOBackend
from pydantic import BaseModel

from typed_events import Event, EventBus, ListenerSignatureError, listener
from typed_events.contrib.litestar import TypedEventsPlugin, client_payload
from typed_events.testing import capture_events

from .problems import summary


class AccountOpened(Event, event_id="lt_account_opened"):
    owner: str
    balance: int


class AccountClosed(Event, event_id="lt_account_closed"):
    owner: str


class Only(Event, event_id="lt_declared_elsewhere"):
    """Declared in the process but not passed to the bus: plain listeners still resolve it."""

    note: str


Req = Request[Any, Any, Any]


@listener(AccountOpened)
async def typed_opened(event: AccountOpened) -> None: ...


def make_app(bus: EventBus | None = None, **options: Any) -> Litestar:
    bus = bus if bus is not None else EventBus([typed_opened], events=[AccountClosed])
    options.setdefault("route_handlers", HANDLERS)
    options.setdefault("logging_config", None)  # leave logging to pytest's caplog
    return Litestar(plugins=[TypedEventsPlugin(bus)], **options)


@post("/open")
async def open_account(data: JSONBody[dict[str, Any]], request: Req) -> None:
    request.app.emit("lt_account_opened", **data)


@post("/open-checked")
async def open_account_checked(data: JSONBody[dict[str, Any]], request: Req) -> None:
    with client_payload():
        request.app.emit("lt_account_opened", **data)


@post("/typo")
async def emit_typo(request: Req) -> None:
    request.app.emit("lt_acount_opened", owner="ada", balance=1)


class Form(BaseModel):
    age: int


@post("/not-an-event")
async def not_an_event(request: Req) -> None:
    Form.model_validate({"age": "old"})


@post("/typed")
async def typed_emit(bus: NamedDependency[EventBus]) -> None:
    bus.emit(AccountOpened, owner="ada", balance=10)


HANDLERS = [open_account, open_account_checked, emit_typo, not_an_event, typed_emit]


# -- checks when the app is built ------------------------------------------------------


def test_plain_listeners_are_checked_against_the_event_models_when_the_app_is_built() -> None:
    @litestar_listener("lt_account_opened", "lt_account_closed")
    async def wrong_type(owner: int, **kwargs: Any) -> None: ...

    @litestar_listener("lt_account_opened")
    async def missing_kwargs(owner: str) -> None: ...

    with pytest.raises(ListenerSignatureError) as caught:
        make_app(listeners=[wrong_type, missing_kwargs])
    found = set(summary(caught.value))
    assert found == {
        ("wrong_type", "lt_account_closed", "owner"),
        ("wrong_type", "lt_account_opened", "owner"),
        ("missing_kwargs", "lt_account_opened", "balance"),
    }
    assert "test_plugin.py:" in str(caught.value)


def test_a_plain_listener_on_an_undeclared_id_gets_a_suggestion() -> None:
    @litestar_listener("lt_acount_closed")
    async def typo(owner: str) -> None: ...

    with pytest.raises(ListenerSignatureError, match='did you mean "lt_account_closed"'):
        make_app(listeners=[typo])


def test_plain_listeners_resolve_ids_of_events_the_bus_does_not_list(
    backend: AnyIOBackend,
) -> None:
    notes: list[str] = []

    @litestar_listener("lt_declared_elsewhere")
    async def record(note: str) -> None:
        notes.append(note)

    @get("/note")
    async def note(request: Req) -> None:
        request.app.emit("lt_declared_elsewhere", "hello")

    app = make_app(route_handlers=[note], listeners=[record])
    with TestClient(app, backend=backend) as client:
        assert client.get("/note").status_code == 200
    assert notes == ["hello"]


def test_a_broken_typed_listener_fails_when_the_bus_is_built() -> None:
    @listener(AccountOpened)
    async def broken(owner: str) -> None: ...

    with pytest.raises(ListenerSignatureError, match='field "balance"'):
        EventBus([broken])


def test_a_typed_listener_in_litestar_listeners_is_refused_with_the_fix() -> None:
    with pytest.raises(TypeError, match=r"typed listeners belong in EventBus\(listeners"):
        make_app(listeners=[typed_opened])


def test_the_plugin_needs_a_bus() -> None:
    with pytest.raises(TypeError, match=r"takes an EventBus"):
        TypedEventsPlugin([typed_opened])  # type: ignore[arg-type]


def test_another_event_emitter_backend_is_refused() -> None:
    class CustomEmitter(LitestarSimpleEventEmitter):
        pass

    with pytest.raises(ImproperlyConfiguredException, match="CustomEmitter"):
        make_app(event_emitter_backend=CustomEmitter)


def test_the_dependency_name_is_configurable_and_clashes_are_refused(backend: AnyIOBackend) -> None:
    with pytest.raises(ImproperlyConfiguredException, match='dependency "bus"'):
        make_app(dependencies={"bus": Provide(lambda: 1, sync_to_thread=False)})

    @post("/renamed")
    async def renamed(events: NamedDependency[EventBus]) -> None:
        events.emit(AccountClosed(owner="ada"))

    bus = EventBus([typed_opened], events=[AccountClosed])
    app = Litestar(
        [renamed], plugins=[TypedEventsPlugin(bus, dependency_key="events")], logging_config=None
    )
    with capture_events(bus) as captured, TestClient(app, backend=backend) as client:
        assert client.post("/renamed").status_code == 201
    captured.assert_emitted(AccountClosed, owner="ada")
    assert "bus" not in Litestar(plugins=[TypedEventsPlugin(bus, dependency_key=None)]).dependencies


def test_handlers_get_the_bus_as_a_dependency(backend: AnyIOBackend) -> None:
    bus = EventBus([typed_opened], events=[AccountClosed])
    with capture_events(bus) as captured, TestClient(make_app(bus), backend=backend) as c:
        assert c.post("/typed").status_code == 201
    captured.assert_emitted(AccountOpened, owner="ada", balance=10)


# -- rejected payloads ----------------------------------------------------------------


def test_an_invalid_payload_is_a_500_with_one_clear_log_line(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), TestClient(make_app(), backend=backend) as client:
        response = client.post("/open", json={"owner": "ada", "balance": "lots"})
    assert response.status_code == 500
    lines = [r.getMessage() for r in caplog.records if r.name == "typed_events.litestar"]
    assert lines == [
        'POST /open: the handler emitted an invalid "lt_account_opened" payload (AccountOpened), '
        "answered 500: balance: Input should be a valid integer, unable to parse string as an "
        "integer (got 'lots'). Fix the emitting code; if these values come from the request, "
        "emit inside `with client_payload():` to answer 400."
    ]


def test_an_unknown_id_is_a_500_with_a_suggestion_in_the_log(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), TestClient(make_app(), backend=backend) as client:
        assert client.post("/typo").status_code == 500
    lines = [r.getMessage() for r in caplog.records if r.name == "typed_events.litestar"]
    assert len(lines) == 1
    assert lines[0].startswith("POST /typo: the handler emitted an unknown event (500)")
    assert 'did you mean "lt_account_opened"?' in lines[0]


def test_client_payload_answers_400_with_the_validation_errors(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), TestClient(make_app(), backend=backend) as client:
        response = client.post("/open-checked", json={"owner": "ada", "balance": "lots"})
        extra_field = client.post("/open-checked", json={"owner": "ada", "balance": 1, "x": 1})
        good = client.post("/open-checked", json={"owner": "ada", "balance": 1})
    assert response.status_code == 400
    body = response.json()
    assert body["detail"] == (
        'the request\'s data does not fit the event "lt_account_opened" (AccountOpened)'
    )
    assert [(e["loc"], e["type"]) for e in body["extra"]] == [(["balance"], "int_parsing")]
    assert extra_field.status_code == 400
    assert [e["type"] for e in extra_field.json()["extra"]] == ["extra_forbidden"]
    assert good.status_code == 201
    assert not [r for r in caplog.records if r.name == "typed_events.litestar"]


def test_other_validation_errors_are_left_to_litestar(
    backend: AnyIOBackend, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR), TestClient(make_app(), backend=backend) as client:
        assert client.post("/not-an-event").status_code == 500
    assert not [r for r in caplog.records if r.name == "typed_events.litestar"]


def test_typed_forms_also_go_through_app_emit(backend: AnyIOBackend) -> None:
    bus = EventBus([typed_opened], events=[AccountClosed])
    app = make_app(bus)
    with capture_events(bus) as captured, TestClient(app, backend=backend):
        app.emit(AccountOpened(owner="ada", balance=1))  # type: ignore[arg-type]
        app.emit(AccountClosed, owner="ada")  # type: ignore[arg-type]
    captured.assert_emitted(AccountOpened, owner="ada", balance=1)
    captured.assert_emitted(AccountClosed, owner="ada")
