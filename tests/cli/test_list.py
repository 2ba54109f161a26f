"""``typed-events list APP``: plain text, a rich table on a terminal, JSON, Mermaid."""

from __future__ import annotations

import json
import os
import pty
import re
import subprocess
import sys

from .conftest import APPS, decorator_line, run_cli

CLEAN = APPS / "clean_app.py"


def test_plain_text_when_stdout_is_not_a_terminal() -> None:
    welcome, email, audit = (
        decorator_line(CLEAN, name) for name in ("send_welcome", "send_email", "audit")
    )

    result = run_cli("list", "clean_app:bus")

    assert (result.code, result.err) == (0, "")
    assert result.out.splitlines() == [
        "user_created  (clean_app.UserCreated)",
        "  fields:",
        "    email: str",
        "    name: str = 'anonymous'",
        "  listeners:",
        f"    clean_app.send_welcome  clean_app.py:{welcome}  event   retries=3, timeout=5.0",
        f"    clean_app.send_email    clean_app.py:{email}  kwargs  -",
        "",
        "password_changed  (clean_app.PasswordChanged)",
        "  fields:",
        "    email: str",
        "    message: str",
        "  listeners:",
        f"    clean_app.send_email  clean_app.py:{email}  kwargs  -",
        f"    clean_app.audit       clean_app.py:{audit}  kwargs  ordered",
    ]


def test_a_rich_table_on_a_terminal() -> None:
    # A real pseudo-terminal, so the command's own isatty() check decides.
    controller, terminal = pty.openpty()
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", "TERM": "xterm"}
    with subprocess.Popen(
        [sys.executable, "-m", "typed_events", "list", "clean_app:bus"],
        cwd=APPS,
        stdout=terminal,
        stderr=subprocess.PIPE,
        env=env,
    ) as process:
        os.close(terminal)
        chunks = []
        while True:
            try:
                chunk = os.read(controller, 4096)
            except OSError:  # the terminal closed: the command finished
                break
            if not chunk:
                break
            chunks.append(chunk)
        assert process.wait(timeout=60) == 0
    os.close(controller)
    # NO_COLOR drops colours, not bold or italics: strip every escape sequence.
    screen = re.sub(r"\x1b\[[0-9;]*m", "", b"".join(chunks).decode())
    assert "Events of clean_app:bus" in screen
    assert "┃ Event" in screen
    assert "│ user_created" in screen
    assert "send_welcome" in screen
    assert "user_created  (clean_app.UserCreated)" not in screen


def test_table_can_be_forced_without_a_terminal() -> None:
    result = run_cli("list", "clean_app:bus", "--format", "table")
    assert result.code == 0
    assert "│ password_changed │" in result.out
    assert "│ audit" in result.out


def test_json() -> None:
    result = run_cli("list", "clean_app:bus", "--format", "json")

    assert result.code == 0
    events = json.loads(result.out)["events"]
    assert [e["id"] for e in events] == ["user_created", "password_changed"]
    assert events[0]["fields"] == [
        {"name": "email", "type": "str", "required": True, "default": None},
        {"name": "name", "type": "str", "required": False, "default": "'anonymous'"},
    ]
    welcome = events[0]["listeners"][0]
    assert welcome == {
        "name": "clean_app.send_welcome",
        "location": f"clean_app.py:{decorator_line(CLEAN, 'send_welcome')}",
        "style": "event",
        "options": {"retries": 3, "retry_backoff": 0.1, "timeout": 5.0, "ordered": False},
    }


def test_mermaid() -> None:
    result = run_cli("list", "clean_app:bus", "--format", "mermaid")

    assert result.code == 0
    assert result.out.splitlines() == [
        "flowchart LR",
        '    e0(["user_created"])',
        '    l0["send_welcome"]',
        "    e0 --> l0",
        '    l1["send_email"]',
        "    e0 --> l1",
        '    e1(["password_changed"])',
        "    e1 --> l1",
        '    l2["audit"]',
        "    e1 --> l2",
    ]


def test_events_without_listeners_are_listed_too() -> None:
    result = run_cli("list", "unhandled:bus", "--format", "json")
    events = {e["id"]: e for e in json.loads(result.out)["events"]}
    assert events["invoice_voided"]["listeners"] == []
    assert "AuditEvent" not in result.out


def test_listeners_with_problems_are_left_out_with_a_warning() -> None:
    result = run_cli("list", "seed_kwargs:listeners")
    assert result.code == 0
    assert "    (none)" in result.out
    assert result.err == (
        "typed-events: warning: 2 listener subscription(s) left out; "
        "run `typed-events check seed_kwargs:listeners`\n"
    )


def test_an_app_whose_bus_cannot_be_built_has_nothing_to_list() -> None:
    result = run_cli("list", "seed_bus:bus")
    assert (result.code, result.out) == (1, "")
    assert result.err.startswith(
        "typed-events: error: seed_bus:bus could not be wired (1 problem(s); "
        "run `typed-events check seed_bus:bus` for details):\n  seed_bus.send_goodbye ("
    )
