"""Run the real ``typed-events`` command in a subprocess against the apps in ``apps/``."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from tests.redis.conftest import redis_server as redis_server

APPS = Path(__file__).parent / "apps"


@dataclass(frozen=True)
class Run:
    """What one run of the command did."""

    code: int
    out: str
    err: str


def run_cli(
    *args: str,
    cwd: Path = APPS,
    executable: list[str] | None = None,
    env: dict[str, str] | None = None,
) -> Run:
    """Run ``python -m typed_events ARGS`` (or ``executable``) in ``cwd``, with ``env``
    added to the environment."""
    command = executable or [sys.executable, "-m", "typed_events"]
    env = {**os.environ, "COLUMNS": "120", "NO_COLOR": "1", **(env or {})}
    done = subprocess.run(
        [*command, *args], cwd=cwd, capture_output=True, text=True, timeout=120, env=env
    )
    return Run(done.returncode, done.stdout, done.stderr)


def decorator_line(path: Path, function: str) -> int:
    """The line of the first decorator of ``def function`` in ``path`` (a listener's location)."""
    lines = path.read_text().splitlines()
    index = next(i for i, line in enumerate(lines) if f"def {function}(" in line)
    while index > 0 and lines[index - 1].startswith("@"):
        index -= 1
    return index + 1
