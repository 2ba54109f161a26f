"""Tests of a signup flow: the event it emits, and the listener that reacts to it.

The "Testing your listeners" docs page shows this file as it is; pytest runs it.
"""

from __future__ import annotations

import pytest

from typed_events import Event, EventBus, listener
from typed_events.pytest_plugin import EventCapture


class AccountOpened(Event):
    email: str
    plan: str = "free"


class Mailer:
    async def send(self, to: str, subject: str) -> None:
        raise ConnectionError("no SMTP server here")  # the real client, in a real app


mailer = Mailer()


@listener(AccountOpened)
async def send_welcome(event: AccountOpened) -> None:
    await mailer.send(event.email, f"Welcome to the {event.plan} plan")


async def open_account(bus: EventBus, email: str) -> None:
    """The code under test: it emits, and does not know who listens."""
    bus.emit(AccountOpened(email=email))


@pytest.fixture
def sent_mail(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Replace the mail client by one that records what it would send."""
    sent: list[str] = []

    async def record(to: str, subject: str) -> None:
        sent.append(f"{to}: {subject}")

    monkeypatch.setattr(mailer, "send", record)
    return sent


@pytest.mark.anyio
async def test_opening_an_account_emits_account_opened(
    event_capture: EventCapture, sent_mail: list[str]
) -> None:
    bus = EventBus(listeners=[send_welcome])
    captured = event_capture(bus)
    async with bus:  # leaving the block waits for the listeners
        await open_account(bus, "ada@example.com")
    event = captured.assert_emitted(AccountOpened, email="ada@example.com")
    assert event.plan == "free"
    assert sent_mail == ["ada@example.com: Welcome to the free plan"]


@pytest.mark.anyio
async def test_the_listener_sends_the_welcome_mail(sent_mail: list[str]) -> None:
    await send_welcome(AccountOpened(email="bob@example.com", plan="pro"))  # a direct call
    assert sent_mail == ["bob@example.com: Welcome to the pro plan"]


def test_the_listeners_fit_their_events() -> None:
    EventBus(listeners=[send_welcome])  # raises ListenerSignatureError if one does not
