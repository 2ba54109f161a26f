"""Event versions and the upcaster chain, as the bus checks them when it is built."""

from __future__ import annotations

from typing import Any

import pytest

from typed_events import Event, EventBus, ListenerSignatureError, listener, upcaster
from typed_events.errors import ProblemKind


def rename(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data.pop("name"), **data}


def test_version_defaults_to_1_and_the_keywords_set_it() -> None:
    class Plain(Event, event_id="chain_plain"):
        x: int

    class Bumped(Event, event_id="chain_bumped", version=3, min_version=2):
        x: int

    assert (Plain.event_version, Plain.event_min_version) == (1, 1)
    assert (Bumped.event_version, Bumped.event_min_version) == (3, 2)


def test_a_subclass_is_another_event_with_its_own_version() -> None:
    class Base(Event, event_id="chain_base", version=2, min_version=2):
        x: int

    class Child(Base, event_id="chain_child"):
        pass

    assert Child.event_version == 1
    assert Base.event_version == 2


def test_a_field_called_version_stays_a_field() -> None:
    class Published(Event, event_id="chain_published", version=2, min_version=2):
        version: int

    assert Published(version=7).version == 7
    assert Published.event_version == 2


@pytest.mark.parametrize(
    ("keywords", "expected"),
    [
        ({"version": 0}, "version must be an integer >= 1, got 0"),
        ({"version": True}, "version must be an integer >= 1, got True"),
        ({"version": "2"}, "version must be an integer >= 1, got '2'"),
        ({"min_version": 0}, "min_version must be an integer >= 1, got 0"),
        ({"version": 2, "min_version": 3}, "min_version=3 is newer than version=2"),
    ],
)
def test_bad_version_keywords_are_refused_at_class_definition(
    keywords: dict[str, Any], expected: str
) -> None:
    with pytest.raises(TypeError, match=expected):
        type("Bad", (Event,), {"__annotations__": {"x": int}}, event_id="chain_bad", **keywords)


def test_upcaster_refuses_what_is_not_an_event_or_a_version() -> None:
    class Target(Event, event_id="chain_target", version=2):
        x: int

    with pytest.raises(TypeError, match="takes an Event subclass first"):
        upcaster(dict, from_version=1)  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="takes an Event subclass first"):
        upcaster(Event, from_version=1)
    with pytest.raises(TypeError, match="needs an integer >= 1, got 0"):
        upcaster(Target, from_version=0)
    with pytest.raises(TypeError, match="decorates a function"):
        upcaster(Target, from_version=1)(42)  # type: ignore[type-var]


def test_the_decorator_returns_the_function_unchanged() -> None:
    class Renamed(Event, event_id="chain_renamed", version=2):
        full_name: str

    decorated = upcaster(Renamed, from_version=1)(rename)
    assert decorated is rename
    assert decorated({"name": "Ann", "age": 3}) == {"full_name": "Ann", "age": 3}


def _bus_problems(event: type[Event]) -> list[str]:
    @listener(event)
    def handle(event: Event) -> None: ...

    with pytest.raises(ListenerSignatureError) as caught:
        EventBus(listeners=[handle])
    problems = caught.value.problems
    assert {p.kind for p in problems} == {ProblemKind.UPCASTER_CHAIN}
    assert {p.event_id for p in problems} == {event.event_id}
    return [str(p) for p in problems]


def test_a_missing_upcaster_is_a_build_error_naming_the_event_and_version() -> None:
    class Gap(Event, event_id="chain_gap", version=3):
        full_name: str

    upcaster(Gap, from_version=1)(rename)
    (problem,) = _bus_problems(Gap)
    assert 'event "chain_gap"' in problem
    assert "version 2: Gap is at version 3" in problem
    assert "no upcaster turns version 2 into 3" in problem
    assert "add @upcaster(Gap, from_version=2)" in problem
    assert "test_chain.py:" in problem  # where the class is


def test_every_gap_is_listed_at_once() -> None:
    class Gaps(Event, event_id="chain_gaps", version=3):
        x: int

    problems = _bus_problems(Gaps)
    assert ["version 1:" in p for p in problems] == [True, False]
    assert "version 2:" in problems[1]


def test_a_duplicate_upcaster_is_a_build_error_naming_both() -> None:
    class Twice(Event, event_id="chain_twice", version=2):
        full_name: str

    upcaster(Twice, from_version=1)(rename)

    @upcaster(Twice, from_version=1)
    def again(data: dict[str, Any]) -> dict[str, Any]:
        return data

    (problem,) = _bus_problems(Twice)
    assert "version 1: two upcasters from version 1 of Twice" in problem
    assert "test_chain.rename" in problem
    assert "again" in problem
    assert "keep one of them" in problem


def test_upcasters_that_can_never_run_are_build_errors() -> None:
    class Stray(Event, event_id="chain_stray", version=3, min_version=2):
        x: int

    for version in (1, 2, 3):
        upcaster(Stray, from_version=version)(rename)
    problems = _bus_problems(Stray)
    assert len(problems) == 2
    assert (
        "version 1: upcaster from version 1 can never run: Stray reads versions 2 to 3"
        in (problems[0])
    )
    assert "lower Stray's min_version= to 1" in problems[0]
    assert "version 3: upcaster from version 3 can never run" in problems[1]
    assert "set Stray's version= to 4" in problems[1]


def test_a_complete_chain_builds_and_min_version_shortens_it() -> None:
    class Full(Event, event_id="chain_full", version=3):
        x: int

    class Short(Event, event_id="chain_short", version=3, min_version=3):
        x: int

    for version in (1, 2):
        upcaster(Full, from_version=version)(rename)

    @listener(Full, Short)
    def handle(x: int) -> None: ...

    bus = EventBus(listeners=[handle])
    assert set(bus.registry.ids()) == {"chain_full", "chain_short"}


def test_events_without_listeners_are_checked_too() -> None:
    class Unheard(Event, event_id="chain_unheard", version=2):
        x: int

    with pytest.raises(ListenerSignatureError, match='event "chain_unheard": version 1'):
        EventBus(events=[Unheard])
