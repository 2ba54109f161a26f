"""``typed-events outbox status|relay`` run as a user would, in a subprocess."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import create_engine, insert
from sqlalchemy.orm import Session

from typed_events import EventBus
from typed_events.sqlalchemy import Outbox

from .models import Numbered

ROOT = Path(__file__).resolve().parents[2]
APP = "tests.sqlalchemy.relay_app:outbox"


def typed_events(
    *args: str, database_url: str, redis_url: str = "redis://127.0.0.1:1/0"
) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        "OUTBOX_DATABASE_URL": database_url,
        "OUTBOX_REDIS_URL": redis_url,
    }
    return subprocess.run(
        [sys.executable, "-m", "typed_events", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'outbox.db'}"


def test_status_shows_the_backlog_and_exits_1_past_max_age(sqlite_url: str) -> None:
    engine = create_engine(sqlite_url)
    outbox = Outbox(EventBus(events=[Numbered]), engine)
    outbox.table.create(engine)  # as a migration would
    empty = typed_events("outbox", "status", APP, "--max-age", "0", database_url=sqlite_url)
    assert (empty.returncode, empty.stdout.strip()) == (0, "outbox typed_events_outbox: 0 waiting")
    with Session(engine) as session, session.begin():
        outbox.emit(session, Numbered, n=1)
        outbox.emit(session, Numbered, n=2)
    with engine.begin() as connection:  # an old row, and a dead-lettered one
        old = datetime.now(UTC) - timedelta(hours=2)
        connection.execute(
            insert(outbox.table).values(id="old", type="sa_numbered", envelope="{}", created_at=old)
        )
        connection.execute(
            insert(outbox.table).values(
                id="dead", type="x", envelope="{}", created_at=old, dead_reason="unknown type"
            )
        )
    engine.dispose()
    late = typed_events("outbox", "status", APP, "--max-age", "3600", database_url=sqlite_url)
    assert late.returncode == 1
    assert "outbox typed_events_outbox: 3 waiting, oldest 7" in late.stdout
    assert "1 dead-lettered (unknown type: 1)" in late.stdout
    assert "more than --max-age 3600s: is a relay running?" in late.stderr
    fine = typed_events("outbox", "status", APP, "--max-age", "86400", database_url=sqlite_url)
    assert fine.returncode == 0, fine.stderr
    as_json = typed_events("outbox", "status", APP, "--format", "json", database_url=sqlite_url)
    report = json.loads(as_json.stdout)
    assert report["backlog"] == 3
    assert report["dead_letters"] == {"unknown type": 1}
    assert report["oldest_age"] >= 7200
    assert datetime.fromisoformat(report["oldest"]) <= old + timedelta(seconds=1)


def test_status_of_a_missing_table_exits_2(sqlite_url: str) -> None:
    result = typed_events("outbox", "status", APP, database_url=sqlite_url)
    assert result.returncode == 2
    assert "cannot read outbox table 'typed_events_outbox'" in result.stderr
    assert "Traceback" not in result.stderr


def test_app_that_is_not_an_outbox_exits_2(sqlite_url: str) -> None:
    result = typed_events(
        "outbox", "status", "tests.sqlalchemy.relay_app:bus", database_url=sqlite_url
    )
    assert result.returncode == 2
    assert "is a EventBus, not a typed_events.sqlalchemy.Outbox" in result.stderr
    missing = typed_events(
        "outbox", "relay", "tests.sqlalchemy.relay_app:nope", database_url=sqlite_url
    )
    assert missing.returncode == 2
    assert "has no attribute 'nope'" in missing.stderr
    assert "Expected a typed_events.sqlalchemy.Outbox" in missing.stderr


def test_outbox_without_an_action_prints_usage(sqlite_url: str) -> None:
    result = typed_events("outbox", database_url=sqlite_url)
    assert result.returncode == 2
    assert "status" in result.stderr
    assert "relay" in result.stderr


def test_relay_exits_2_when_the_backend_is_unreachable(sqlite_url: str) -> None:
    result = typed_events("outbox", "relay", APP, database_url=sqlite_url)
    assert result.returncode == 2
    assert "the outbox relay cannot run" in result.stderr
    assert "redis-server" in result.stderr
    assert "Traceback" not in result.stderr


def test_the_create_user_example_sends_one_welcome_mail() -> None:
    result = subprocess.run(
        [sys.executable, "examples/outbox_create_user.py"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "second sign-up refused: no user, and no mail",
        "welcome mail to ada@example.com",
        "outbox backlog: 0",
    ]
