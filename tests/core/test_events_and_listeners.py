"""Event declaration, the registry, and the listener decorator."""

from __future__ import annotations

import functools
from typing import Any

import pytest

from typed_events import (
    DuplicateEventError,
    Event,
    EventRegistry,
    Listener,
    ListenerOptions,
    UnknownEventError,
    listener,
)
from typed_events.events import event_id_from_name


class UserCreated(Event, event_id="ev_user_created"):
    email: str


class PasswordChanged(Event):
    email: str
    message: str


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("PasswordChanged", "password_changed"),
        ("HTTPRequestDone", "http_request_done"),
        ("Order2Shipped", "order2_shipped"),
        ("A", "a"),
    ],
)
def test_event_id_is_derived_from_the_class_name(name: str, expected: str) -> None:
    assert event_id_from_name(name) == expected


def test_event_ids_given_and_derived() -> None:
    assert UserCreated.event_id == "ev_user_created"
    assert PasswordChanged.event_id == "password_changed"
    assert UserCreated.model_config.get("frozen") is True
    assert UserCreated.model_config.get("extra") == "forbid"


def test_bad_event_id_is_refused() -> None:
    with pytest.raises(TypeError, match="non-empty string"):

        class Bad(Event, event_id=""):
            pass


def test_registry_maps_ids_and_refuses_duplicates() -> None:
    registry = EventRegistry([UserCreated, PasswordChanged])
    registry.register(UserCreated)  # same class twice: harmless
    assert registry.ids() == ["ev_user_created", "password_changed"]
    assert registry.resolve("password_changed") is PasswordChanged
    assert "ev_user_created" in registry
    assert list(registry) == [UserCreated, PasswordChanged]
    assert len(registry) == 2
    assert "ev_user_created" in repr(registry)

    class Impostor(Event, event_id="ev_user_created"):
        email: str

    with pytest.raises(DuplicateEventError, match="Impostor") as info:
        registry.register(Impostor)
    assert info.value.classes == (UserCreated, Impostor)
    with pytest.raises(UnknownEventError, match='did you mean "password_changed"'):
        registry.resolve("pasword_changed")
    with pytest.raises(TypeError, match="Event subclass"):
        registry.register(int)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="not Event itself"):
        registry.register(Event)


def test_unknown_error_without_a_close_match_lists_known_ids() -> None:
    error = UnknownEventError("zzz", ["alpha", "beta"])
    assert error.suggestion is None
    assert '"alpha", "beta"' in str(error)


def test_decorated_listener_still_calls_the_function() -> None:
    @listener(UserCreated)
    def greet(email: str) -> str:
        return "hi " + email

    assert isinstance(greet, Listener)
    assert greet(email="a") == "hi a"
    assert greet.__name__ == "greet"
    assert greet.events == (UserCreated,)
    assert greet.options == ListenerOptions()
    assert not greet.is_async
    assert greet.location.endswith(".py:" + greet.location.rsplit(":", 1)[1])
    assert "test_events_and_listeners.py" in greet.location
    assert greet.where == f"{greet.name} ({greet.location})"
    assert "ev_user_created" in repr(greet)


async def _async_target(prefix: str, email: str) -> str:
    return prefix + email


class _Callable:
    async def __call__(self, email: str) -> str:
        return email


def test_listener_kinds_are_named_and_async_detected() -> None:
    partial = listener(UserCreated)(functools.partial(_async_target, "x"))
    obj = listener(UserCreated)(_Callable())
    assert partial.is_async
    assert obj.is_async
    assert partial.name == f"partial({__name__}._async_target)"
    assert obj.name == f"{__name__}._Callable"
    assert "test_events_and_listeners.py" in obj.location


def test_stacked_decorators_merge_subscriptions() -> None:
    @listener(PasswordChanged, retries=1)
    @listener(UserCreated)
    async def both(email: str, **kwargs: Any) -> None: ...

    assert both.events == (UserCreated, PasswordChanged)
    assert both.options.retries == 1
    assert not isinstance(both.func, Listener)


def test_listener_arguments_are_validated() -> None:
    with pytest.raises(TypeError, match="at least one event"):
        listener()
    with pytest.raises(TypeError, match="Event subclasses or string ids"):
        listener(int)  # type: ignore[type-var]
    with pytest.raises(TypeError, match="non-empty"):
        listener("")
    with pytest.raises(ValueError, match="retries"):
        listener(UserCreated, retries=-1)
    with pytest.raises(ValueError, match="retry_backoff"):
        listener(UserCreated, retry_backoff=float("nan"))
    with pytest.raises(ValueError, match="timeout"):
        listener(UserCreated, timeout=0)
    with pytest.raises(TypeError, match="decorates a callable"):
        listener(UserCreated)(42)  # type: ignore[call-overload]


def test_backoff_doubles() -> None:
    options = ListenerOptions(retries=3, retry_backoff=0.5)
    assert [options.backoff_before(n) for n in (1, 2, 3)] == [0.5, 1.0, 2.0]


def test_bus_refuses_undecorated_functions() -> None:
    from typed_events import EventBus

    async def plain(email: str) -> None: ...

    with pytest.raises(TypeError, match=r"decorated with @listener"):
        EventBus(listeners=[plain])  # type: ignore[arg-type]
