"""`typed-events check` on Litestar apps, in a real subprocess."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def check(target: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "typed_events", "check", target, "--app-dir", str(ROOT)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_example_app_checks_clean() -> None:
    result = check("examples.litestar_app:app")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "checked 4 listeners and 3 events in examples.litestar_app:app" in result.stdout


def test_a_plain_litestar_app_is_checked_against_the_event_models() -> None:
    # No plugin: the app builds, and only the check finds what would fail at run time.
    result = check("tests.litestar.seed_plain_app:app")
    assert result.returncode == 1, result.stdout + result.stderr
    assert 'send_farewell_email_handler, event "user_deleted", field "reason"' in result.stdout
    assert 'notify_customer_support, event "user_deleted", field "email"' in result.stdout
    assert "seed_broken.py:" in result.stdout


def test_an_app_whose_plugin_refuses_its_listeners_reports_them() -> None:
    result = check("tests.litestar.seed_plugin_app:app")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "Traceback" not in result.stdout + result.stderr
    assert 'send_farewell_email_handler, event "user_deleted", field "reason"' in result.stdout
    assert 'notify_customer_support, event "user_deleted", field "email"' in result.stdout
