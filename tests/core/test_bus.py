"""EventBus: the three emit forms, validation at the call site, lifecycle, threads."""

from __future__ import annotations

import contextvars
import threading
from typing import Any

import anyio
import pytest
from pydantic import ValidationError

from typed_events import (
    DuplicateEventError,
    EmitterNotRunningError,
    Event,
    EventBus,
    UnknownEventError,
    listener,
)

pytestmark = pytest.mark.anyio


class UserCreated(Event, event_id="bus_user_created"):
    email: str


class PasswordChanged(Event, event_id="bus_password_changed"):
    email: str
    message: str


class UserDeleted(Event, event_id="bus_user_deleted"):
    email: str
    reason: str


def recording_bus(**kwargs: Any) -> tuple[EventBus, list[Event]]:
    seen: list[Event] = []

    @listener(UserCreated, PasswordChanged, UserDeleted)
    async def record(event: UserCreated | PasswordChanged | UserDeleted) -> None:
        seen.append(event)

    return EventBus(listeners=[record], **kwargs), seen


async def test_three_emit_forms_deliver_the_same_validated_instance() -> None:
    bus, seen = recording_bus()
    async with bus:
        bus.emit(UserCreated(email="a@example.com"))
        bus.emit(UserCreated, email="b@example.com")
        bus.emit("bus_user_created", email="c@example.com")
    assert [e for e in seen if isinstance(e, UserCreated)] == [
        UserCreated(email="a@example.com"),
        UserCreated(email="b@example.com"),
        UserCreated(email="c@example.com"),
    ]


async def test_litestar_positional_form_fills_fields_in_declaration_order() -> None:
    bus, seen = recording_bus()
    async with bus:
        bus.emit("bus_user_deleted", "a@example.com", "spam")
        bus.emit("bus_user_deleted", "b@example.com", reason="moved")
    assert seen == [
        UserDeleted(email="a@example.com", reason="spam"),
        UserDeleted(email="b@example.com", reason="moved"),
    ]


async def test_positional_form_errors_are_clear() -> None:
    bus, _ = recording_bus()
    async with bus:
        with pytest.raises(TypeError, match="at most 2 positional"):
            bus.emit("bus_user_deleted", "a", "b", "c")
        with pytest.raises(TypeError, match="both by position and by keyword"):
            bus.emit("bus_user_deleted", "a", email="b", reason="c")
        with pytest.raises(TypeError, match="either an instance or the class"):
            bus.emit(UserCreated(email="a"), email="b")  # type: ignore[call-overload]
        with pytest.raises(TypeError, match="takes an Event instance"):
            bus.emit(42)  # type: ignore[call-overload]


async def test_invalid_payload_raises_validation_error_at_the_call_site() -> None:
    bus, seen = recording_bus()
    async with bus:
        with pytest.raises(ValidationError):
            bus.emit("bus_user_created", emial="typo@example.com")
        not_a_string: Any = 123
        with pytest.raises(ValidationError):
            bus.emit(UserCreated, email=not_a_string)
        with pytest.raises(ValidationError):
            bus.emit("bus_user_created")
    assert seen == []


async def test_unknown_id_suggests_the_close_match() -> None:
    bus, _ = recording_bus()
    async with bus:
        with pytest.raises(UnknownEventError, match='did you mean "bus_user_created"') as info:
            bus.emit("bus_user_creatd", email="a@example.com")
    assert info.value.suggestion == "bus_user_created"
    assert isinstance(info.value, LookupError)


async def test_events_are_frozen_for_every_listener() -> None:
    event = UserCreated(email="a@example.com")
    with pytest.raises(ValidationError):
        event.email = "b@example.com"  # type: ignore[misc]
    with pytest.raises(ValidationError):
        UserCreated(email="a", extra="forbidden")  # type: ignore[call-arg]


async def test_known_event_without_listener_is_a_noop() -> None:
    class Quiet(Event, event_id="bus_quiet"):
        value: int

    bus = EventBus(events=[Quiet])
    async with bus:
        bus.emit("bus_quiet", value=1)
        bus.emit(Quiet(value=2))
        await bus.emit_async(Quiet, value=3)
        result = await bus.emit_and_wait(Quiet(value=4))
    assert result.outcomes == []
    assert result.ok


async def test_emit_outside_async_with_is_an_error_before_and_after() -> None:
    bus, _ = recording_bus()
    with pytest.raises(EmitterNotRunningError, match="async with bus"):
        bus.emit(UserCreated(email="a@example.com"))
    async with bus:
        pass
    with pytest.raises(EmitterNotRunningError):
        bus.emit(UserCreated, email="a@example.com")
    with pytest.raises(EmitterNotRunningError):
        await bus.emit_and_wait(UserCreated(email="a@example.com"))
    assert isinstance(EmitterNotRunningError("x"), RuntimeError)


async def test_second_concurrent_async_with_is_refused_and_restart_works() -> None:
    bus, seen = recording_bus()
    async with bus as entered:
        assert entered is bus
        with pytest.raises(EmitterNotRunningError, match="already running"):
            await bus.__aenter__()
        bus.emit(UserCreated(email="first@example.com"))
    async with bus:
        bus.emit(UserCreated(email="second@example.com"))
    assert len(seen) == 2


async def test_emit_and_wait_returns_outcomes_in_registration_order() -> None:
    @listener(UserCreated)
    async def first(event: UserCreated) -> str:
        await anyio.sleep(0.01)
        return "first:" + event.email

    @listener(UserCreated)
    def second(email: str) -> str:
        raise ValueError("boom " + email)

    @listener(UserCreated)
    async def third(email: str) -> int:
        return len(email)

    bus = EventBus(listeners=[first, second, third])
    async with bus:
        result = await bus.emit_and_wait("bus_user_created", email="ab")
    assert [o.listener for o in result.outcomes] == [first, second, third]
    assert result.outcomes[0].result == "first:ab"
    assert isinstance(result.outcomes[1].exception, ValueError)
    assert result.outcomes[2].result == 2
    assert not result.ok
    assert [type(e) for e in result.exceptions] == [ValueError]


async def test_two_classes_with_one_id_in_one_bus_name_both() -> None:
    class A(Event, event_id="bus_clash"):
        x: int

    class B(Event, event_id="bus_clash"):
        y: int

    @listener(A)
    async def on_a(event: A) -> None: ...

    with pytest.raises(DuplicateEventError) as info:
        EventBus(listeners=[on_a], events=[B])
    message = str(info.value)
    assert "test_bus" in message
    assert ".A" in message
    assert ".B" in message

    bus = EventBus(listeners=[on_a])
    async with bus:
        with pytest.raises(DuplicateEventError):
            bus.emit(B(y=1))


async def test_string_ids_resolve_to_live_classes_and_ambiguity_is_an_error() -> None:
    class One(Event, event_id="bus_ambiguous"):
        x: int

    class Two(Event, event_id="bus_ambiguous"):
        x: int

    @listener("bus_ambiguous")
    async def handler(x: int) -> None: ...

    with pytest.raises(DuplicateEventError):
        EventBus(listeners=[handler])
    # Naming the class decides it.
    EventBus(listeners=[handler], events=[One])
    assert Two.event_id == "bus_ambiguous"


async def test_emit_from_another_thread_keeps_that_threads_contextvars() -> None:
    request_id: contextvars.ContextVar[str] = contextvars.ContextVar("request_id")
    seen: list[tuple[str, str]] = []

    @listener(UserCreated)
    async def record(event: UserCreated) -> None:
        seen.append((event.email, request_id.get("unset")))

    bus = EventBus(listeners=[record])

    def handler_in_thread() -> None:
        request_id.set("req-thread")
        assert threading.current_thread() is not threading.main_thread()
        bus.emit(UserCreated, email="thread@example.com")

    async with bus:
        await anyio.to_thread.run_sync(handler_in_thread)
    assert seen == [("thread@example.com", "req-thread")]


async def test_emit_from_a_plain_thread_after_the_loop_finished_is_an_error() -> None:
    bus, _ = recording_bus()
    async with bus:
        pass
    errors: list[BaseException] = []

    def late() -> None:
        try:
            bus.emit(UserCreated(email="late@example.com"))
        except BaseException as exc:
            errors.append(exc)

    thread = threading.Thread(target=late)
    thread.start()
    thread.join()
    assert [type(e) for e in errors] == [EmitterNotRunningError]


def test_a_dropped_redefinition_does_not_clash_with_the_live_class() -> None:
    import gc

    def define() -> type[Event]:
        class Probe(Event, event_id="bus_probe"):
            x: int

        return Probe

    gc.disable()
    try:
        define()  # dropped at once, but reference cycles keep it until a collection
        live = define()

        @listener("bus_probe")
        async def handler(x: int) -> None: ...

        bus = EventBus(listeners=[handler])
    finally:
        gc.enable()
    assert bus.registry.resolve("bus_probe") is live
