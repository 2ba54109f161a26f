"""Item 3: `typed-events stubgen` round trip, and the repo's own stubs are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .checkers import expected, mismatches, mypy_config, run_mypy, run_pyright

pytestmark = pytest.mark.typecheck

REPO = Path(__file__).resolve().parents[2]


def _stubgen(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "typed_events", "stubgen", *arguments]
    return subprocess.run(
        command, cwd=project, capture_output=True, text=True, timeout=120, check=False
    )


def test_generated_stubs_make_mypy_and_pyright_check_string_ids(snippet_project: Path) -> None:
    written = _stubgen(snippet_project, "stub_app:bus", "--app-dir", ".", "-o", "stubs")
    assert written.returncode == 0, written.stderr
    assert "wrote 2 stub files to stubs (6 event ids)" in written.stdout
    bus_stub = (snippet_project / "stubs/typed_events/bus.pyi").read_text()
    assert "event: str" not in bus_stub  # no catch-all overload that would accept any id
    # The valid corpus gives no error with the stubs either (mypy with and without
    # pydantic's plugin, pyright).
    files = ["stubs_use.py", "corpus_valid.py"]
    for name, plugins in (("stubs", ()), ("stubs-pydantic", ("pydantic.mypy",))):
        config = mypy_config(*plugins).replace("[mypy]\n", "[mypy]\nmypy_path = stubs\n", 1)
        found = run_mypy(snippet_project, config, files, cache_dir=snippet_project / f".c-{name}")
        assert mismatches(found, expected(snippet_project, files, "stubs-mypy")) == []
    found = run_pyright(snippet_project, files, stub_path="stubs")
    assert mismatches(found, expected(snippet_project, files, "stubs-pyright")) == []


def test_a_subclass_event_takes_its_own_field_by_position_as_at_run_time(
    snippet_project: Path,
) -> None:
    # PasswordChanged(email, message="changed") + UrgentPasswordChanged's level: one
    # overload by position, one with level keyword-only.
    assert (
        _stubgen(snippet_project, "stub_app:bus", "--app-dir", ".", "-o", "stubs").returncode == 0
    )
    bus_stub = (snippet_project / "stubs/typed_events/bus.pyi").read_text()
    assert (
        "def emit(self, event: typing.Literal['urgent_password_changed'], /, email: str, "
        "message: str, level: int) -> None:" in bus_stub
    )
    assert (
        "def emit(self, event: typing.Literal['urgent_password_changed'], /, email: str, "
        "message: str=..., *, level: int) -> None:" in bus_stub
    )


def test_check_exits_1_when_an_event_changed(tmp_path: Path) -> None:
    (tmp_path / "app.py").write_text(
        "from typed_events import Event, EventBus\n\n"
        "class Pinged(Event):\n    host: str\n\n"
        "bus = EventBus(events=[Pinged])\n"
    )
    assert _stubgen(tmp_path, "app:bus", "-o", "out").returncode == 0
    fresh = _stubgen(tmp_path, "app:bus", "-o", "out", "--check")
    assert fresh.returncode == 0
    assert fresh.stdout.strip() == "stubs in out are up to date (1 event ids)"
    source = (tmp_path / "app.py").read_text()
    (tmp_path / "app.py").write_text(source.replace("host: str", "host: str\n    port: int"))
    stale = _stubgen(tmp_path, "app:bus", "-o", "out", "--check")
    assert stale.returncode == 1
    assert "stale: out/typed_events/bus.pyi" in stale.stderr
    assert "run `typed-events stubgen app:bus -o out`" in stale.stderr
    assert "port: int" not in (tmp_path / "out/typed_events/bus.pyi").read_text()


def test_check_exits_2_on_a_bad_app_string(tmp_path: Path) -> None:
    result = _stubgen(tmp_path, "nothing_here:bus", "--check")
    assert result.returncode == 2
    assert "cannot import 'nothing_here'" in result.stderr


def test_the_repository_stubs_match_the_examples() -> None:
    result = _stubgen(REPO, "examples.app:bus", "-o", "stubs", "--check")
    assert result.returncode == 0, result.stderr
