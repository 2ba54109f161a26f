"""wiring_of(app) and typed_listener(): what `typed-events check` sees in a Litestar app."""

from __future__ import annotations

from typing import Any

import pytest
from litestar import Litestar
from litestar.events import listener as litestar_listener

from typed_events import Event, EventBus, listener
from typed_events._routing import Routing
from typed_events.contrib.litestar import TypedEventsPlugin, typed_listener, wiring_of


class Shipped(Event, event_id="lt_wired_shipped"):
    parcel: str


class Lost(Event, event_id="lt_wired_lost"):
    parcel: str
    reason: str


@listener(Shipped)
async def typed_shipped(event: Shipped) -> None: ...


@litestar_listener("lt_wired_shipped", "lt_wired_lost")
async def plain_ok(parcel: str, **kwargs: Any) -> None:
    """Fits both events."""


@litestar_listener("lt_wired_lost")
def plain_sync_broken(parcel: str) -> None:
    """Cannot take ``reason``."""


def test_with_the_plugin_it_lists_the_bus_and_the_plain_listeners() -> None:
    app = Litestar(
        listeners=[plain_ok], plugins=[TypedEventsPlugin(EventBus([typed_shipped], events=[Lost]))]
    )
    listeners, events = wiring_of(app)
    assert [item.name.rsplit(".", 1)[-1] for item in listeners] == ["typed_shipped", "plain_ok"]
    assert set(events) == {Shipped, Lost}
    assert listeners[1].func.__name__ == "plain_ok"  # the user's function, unwrapped
    _, problems = Routing.inspect(listeners, events)
    assert problems == []


def test_without_the_plugin_it_wraps_the_plain_listeners_for_checking() -> None:
    app = Litestar(listeners=[plain_sync_broken, plain_ok])
    listeners, events = wiring_of(app)
    assert events == ()
    assert sorted(item.name.rsplit(".", 1)[-1] for item in listeners) == [
        "plain_ok",
        "plain_sync_broken",
    ]
    # The ids resolve to the Event classes defined in the process, as the CLI does it.
    _, problems = Routing.inspect(listeners, events)
    assert [(p.listener.rsplit(".", 1)[-1], p.event_id, p.field) for p in problems] == [
        ("plain_sync_broken", "lt_wired_lost", "reason")
    ]


def test_an_app_without_listeners_has_no_wiring() -> None:
    assert wiring_of(Litestar()) == ((), ())


def test_typed_listener_keeps_the_users_function_sync_or_async() -> None:
    sync = typed_listener(plain_sync_broken)
    assert sync.func.__name__ == "plain_sync_broken"
    assert not sync.is_async  # so typed-events runs it in a worker thread
    assert sync.events == ("lt_wired_lost",)
    # The user's function, not Litestar's wrapper: its decorator line, in this file.
    assert sync.location.endswith(f"test_wiring.py:{plain_sync_broken_line() - 1}")
    both = typed_listener(plain_ok)
    assert both.is_async
    assert both.events == ("lt_wired_lost", "lt_wired_shipped")


def test_typed_listener_refuses_anything_else() -> None:
    with pytest.raises(TypeError, match=r"belong in EventBus\(listeners"):
        typed_listener(typed_shipped)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match=r"decorated with litestar\.events\.listener"):
        typed_listener(print)  # type: ignore[arg-type]


def plain_sync_broken_line() -> int:
    with open(__file__) as source:
        for number, line in enumerate(source, start=1):
            if line.startswith("def plain_sync_broken"):
                return number
    raise AssertionError("definition not found")
