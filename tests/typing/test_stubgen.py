"""Item 3: `typed-events stubgen` round trip, and the repo's own stubs are current."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from .checkers import expected, mismatches, run_mypy, run_pyright

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
    assert "wrote 2 stub files to stubs (3 event ids)" in written.stdout
    bus_stub = (snippet_project / "stubs/typed_events/bus.pyi").read_text()
    assert "event: str" not in bus_stub  # no catch-all overload that would accept any id
    files = ["stubs_use.py"]
    config = "[mypy]\nstrict = True\nmypy_path = stubs\n"
    found = run_mypy(snippet_project, config, files, cache_dir=snippet_project / ".cache-stubs")
    assert mismatches(found, expected(snippet_project, files, "stubs-mypy")) == []
    found = run_pyright(snippet_project, files, stub_path="stubs")
    assert mismatches(found, expected(snippet_project, files, "stubs-pyright")) == []


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
