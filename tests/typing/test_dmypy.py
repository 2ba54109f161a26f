"""The mypy daemon (what editors run) re-checks string-id emits and listeners after an edit.

None of the emitting modules below names a field of the event class, so only the
plugin's fine-grained dependencies make ``dmypy run`` re-check them.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from .checkers import mypy_config

pytestmark = pytest.mark.typecheck

DMYPY = Path(sys.executable).parent / "dmypy"

EVENTS = """from typed_events import Event


class UserCreated(Event, event_id="user_created"):
    {field}: str
"""
# routes does not import events (events_modules makes it visible)...
ROUTES = """from typed_events import EventBus


def handle(bus: EventBus) -> None:
    bus.emit("user_created", email="a@example.com")
    bus.emit("user_deleted", email="a@example.com")


def other(bus: EventBus) -> None:
    bus.emit("user_created", "a@example.com")
"""
# ...and listeners imports only the class.
LISTENERS = """from events import UserCreated

from typed_events import listener


@listener(UserCreated)
async def send_welcome(email: str) -> None: ...
"""
DELETED = """

class UserDeleted(Event):
    email: str
"""
UNKNOWN = 'routes.py:6: error: Unknown event id "user_deleted"; did you mean "user_created"?'


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[Path]:
    """A project with its own dmypy status file; the daemon is stopped afterwards."""
    (tmp_path / "mypy.ini").write_text(
        mypy_config("pydantic.mypy", "typed_events.mypy", events_modules="events")
    )
    (tmp_path / "routes.py").write_text(ROUTES)
    (tmp_path / "listeners.py").write_text(LISTENERS)
    yield tmp_path
    _dmypy(tmp_path, "stop")


def _dmypy(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [str(DMYPY), "--status-file", str(project / ".dmypy.json"), *arguments]
    return subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=240, check=False
    )


def _run(project: Path) -> list[str]:
    result = _dmypy(
        project,
        "run",
        "--",
        "--config-file",
        "mypy.ini",
        "--no-error-summary",
        "--hide-error-codes",
        "events.py",
        "routes.py",
        "listeners.py",
    )
    assert result.returncode in (0, 1), result.stderr + result.stdout
    lines = [line for line in result.stdout.splitlines() if ": error: " in line]
    return sorted(line.split(". Fix:")[0] for line in lines)


def test_dmypy_run_sees_a_renamed_field_and_a_new_event(daemon: Path) -> None:
    events = daemon / "events.py"
    events.write_text(EVENTS.format(field="email"))
    assert _run(daemon) == [UNKNOWN]

    events.write_text(EVENTS.format(field="address"))
    assert _run(daemon) == [
        'listeners.py:6: error: listeners.send_welcome (listeners.py:6), event "user_created" '
        'field "address": UserCreated sends this field, and the listener has no parameter '
        '"address" and no **kwargs',
        'listeners.py:6: error: listeners.send_welcome (listeners.py:6), event "user_created" '
        'field "email": parameter "email" is required, but UserCreated has no such field '
        "(fields: address)",
        'routes.py:5: error: Unexpected keyword argument "email" for "UserCreated"',
        UNKNOWN,
    ]

    events.write_text(EVENTS.format(field="email") + DELETED)
    assert _run(daemon) == []
