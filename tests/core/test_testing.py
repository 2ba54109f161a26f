"""typed_events.testing: capture emitted events and assert on them with types."""

from __future__ import annotations

import pytest

from typed_events import Event, EventBus, listener
from typed_events.testing import capture_events

pytestmark = pytest.mark.anyio


class Signup(Event, event_id="testing_signup"):
    email: str
    plan: str = "free"


class Refund(Event, event_id="testing_refund"):
    amount: int


async def test_capture_and_assert_emitted() -> None:
    handled: list[str] = []

    @listener(Signup)
    async def welcome(email: str, plan: str) -> None:
        handled.append(email)

    bus = EventBus(listeners=[welcome], events=[Refund])
    async with bus:
        with capture_events(bus) as captured:
            bus.emit(Signup, email="a@example.com", plan="pro")
            bus.emit("testing_refund", amount=5)
            await bus.emit_async(Signup(email="b@example.com"))
        bus.emit(Signup(email="after@example.com"))  # not captured any more
    event = captured.assert_emitted(Signup, email="a@example.com")
    assert event.plan == "pro"  # typed: Signup
    assert [e.email for e in captured.of_type(Signup)] == ["a@example.com", "b@example.com"]
    captured.assert_emitted(Refund, amount=5)
    assert len(captured) == 3
    assert [type(e) for e in captured] == [Signup, Refund, Signup]
    assert sorted(handled) == ["a@example.com", "after@example.com", "b@example.com"]

    with pytest.raises(AssertionError, match=r"no Signup\(email='c@example.com'\)"):
        captured.assert_emitted(Signup, email="c@example.com")
    with pytest.raises(TypeError, match=r"no field\(s\) emial"):
        captured.assert_emitted(Signup, emial="a@example.com")
    with pytest.raises(AssertionError, match="expected no Refund"):
        captured.assert_not_emitted(Refund)
    captured.clear()
    captured.assert_not_emitted(Refund)
