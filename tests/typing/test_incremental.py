"""Item 2: an incremental mypy run after a field rename reports against the new field."""

from __future__ import annotations

from pathlib import Path

import pytest

from .checkers import Diagnostic, mypy_config, run_mypy

pytestmark = pytest.mark.typecheck

EVENTS = """from typed_events import Event


class UserCreated(Event, event_id="user_created"):
    {field}: str
"""
# services imports the events; emitter imports only services, and no type from the
# events module appears in emitter: only the plugin's dependency makes mypy re-check it.
SERVICES = """import events


def count() -> int:
    return len(events.__name__)
"""
EMITTER = """from services import count

from typed_events import EventBus


def handle(bus: EventBus) -> None:
    count()
    bus.emit("user_created", email="a@example.com")
"""
ROUTES = """from typed_events import EventBus


def handle(bus: EventBus) -> None:
    bus.emit("user_created", email="a@example.com")
"""
RENAMED = 'Unexpected keyword argument "email" for "UserCreated"  [call-arg]'


def _write(project: Path, field: str) -> None:
    (project / "events.py").write_text(EVENTS.format(field=field))


@pytest.mark.parametrize(
    ("events_modules", "emitting_file", "source"),
    [("", "emitter.py", EMITTER), ("events", "routes.py", ROUTES)],
    ids=["imported-indirectly", "events_modules-config"],
)
def test_rename_is_seen_by_the_next_incremental_run(
    tmp_path: Path, events_modules: str, emitting_file: str, source: str
) -> None:
    (tmp_path / "services.py").write_text(SERVICES)
    (tmp_path / emitting_file).write_text(source)
    config = mypy_config("pydantic.mypy", "typed_events.mypy", events_modules=events_modules)
    files = ["events.py", "services.py", emitting_file]
    cache = tmp_path / ".mypy_cache"
    _write(tmp_path, "email")
    assert run_mypy(tmp_path, config, files, cache_dir=cache) == []
    _write(tmp_path, "address")
    line = source.splitlines().index(next(s for s in source.splitlines() if "bus.emit" in s)) + 1
    assert run_mypy(tmp_path, config, files, cache_dir=cache) == [
        Diagnostic(emitting_file, line, RENAMED)
    ]
    _write(tmp_path, "email")
    assert run_mypy(tmp_path, config, files, cache_dir=cache) == []
