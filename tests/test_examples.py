"""The examples run as documented: `make demo` output, and the shared example bus."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from typed_events import ListenerSignatureError

ROOT = Path(__file__).resolve().parent.parent


def test_demo_runs_every_example_and_shows_the_registration_error() -> None:
    completed = subprocess.run(
        [sys.executable, "examples/demo.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    out = completed.stdout
    assert "welcome mail to ada@example.com" in out
    assert "to ada@example.com: Password updated" in out
    assert "to ada@example.com: Welcome!" in out
    assert "farewell mail to ada@example.com" in out
    assert "support ticket: deleted" in out
    assert "ListenerSignatureError: 2 listener signature problems:" in out
    assert (
        "examples.broken_kwargs.send_farewell_email_handler (examples/broken_kwargs.py:15), "
        'event "user_deleted" field "reason"'
    ) in out
    assert 'event "user_deleted" field "email"' in out
    assert "POST /users -> 201" in out
    assert "mail to ada@example.com: Welcome, ada@example.com!" in out
    assert "mail to ada@example.com: Your password was changed." in out
    assert "support tickets: ['moved away']" in out
    assert "HTTP Request" not in completed.stdout + completed.stderr
    assert "the **kwargs mistake from Litestar's events guide" in out
    assert "seed" not in out.lower()  # the team's word for that guide's example
    tracing = out.split("== 6. tracing", 1)[1].splitlines()[1:]
    assert len(tracing) == 6  # short: one line per span
    assert any(" <- -   POST /orders" in line for line in tracing)
    assert sum("process order_placed [charge_card]" in line for line in tracing) == 2
    assert any("error (ConnectionError)" in line for line in tracing)


def test_the_broken_example_fails_at_bus_construction() -> None:
    from examples import broken_kwargs
    from typed_events import EventBus

    with pytest.raises(ListenerSignatureError):
        EventBus(listeners=broken_kwargs.listeners)


def test_example_app_wires_every_listener() -> None:
    from examples.app import bus

    assert [listener.__name__ for listener in bus.listeners] == [
        "send_welcome_email_handler",
        "send_email_handler",
        "send_farewell_email_handler",
        "notify_customer_support",
    ]
    assert bus.registry.ids() == ["user_created", "password_changed", "user_deleted"]
