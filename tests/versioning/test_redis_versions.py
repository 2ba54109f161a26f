"""Versions across processes, through a real redis-server: upcast on read, newer refused.

A producer process with the version-1 (or version-3) class writes; this process runs
the version-2 class with an upcaster from 1.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from tests.redis.conftest import RedisServer
from tests.redis.helpers import dead_letters, eventually
from typed_events import Event, EventBus, listener, upcaster
from typed_events.backends.redis import RedisStreamsBackend, current_delivery

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
STREAM = "typed-events:user_signed_up"


class SignedUp(Event, event_id="user_signed_up", version=2):
    full_name: str


@upcaster(SignedUp, from_version=1)
def name_to_full_name(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data.pop("name"), **data}


def produce(url: str, version: int, name: str) -> None:
    """Run the producer of ``version`` in its own process, until it has written."""
    arguments = ["--url", url, "--version", str(version), "--name", name]
    subprocess.run(
        [sys.executable, "-m", "tests.versioning.producer", *arguments],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}"},
        check=True,
        timeout=60,
    )


@pytest.mark.asyncio
async def test_an_old_producers_event_reaches_the_new_listener_upcast(
    redis_server: RedisServer,
) -> None:
    got: list[tuple[SignedUp, int | None]] = []

    @listener(SignedUp)
    async def welcome(event: SignedUp) -> None:
        delivery = current_delivery()
        got.append((event, delivery.attempt if delivery else None))

    produce(redis_server.url, 1, "Ann Lee")
    backend = RedisStreamsBackend(redis_server.url, service="accounts")
    async with EventBus([welcome], backend=backend) as bus:
        await eventually(lambda: len(got) == 1, "the upcast version-1 event")
        bus.emit(SignedUp(full_name="Bo Chen"))  # and the current version still goes through
        await eventually(lambda: len(got) == 2, "the version-2 event")
    assert got == [(SignedUp(full_name="Ann Lee"), 1), (SignedUp(full_name="Bo Chen"), 1)]
    client = redis_server.client()
    assert client.xlen("typed-events:dead-letter") == 0
    [group] = client.groups(STREAM)
    assert group["pending"] == 0


@pytest.mark.asyncio
async def test_a_newer_producers_event_is_dead_lettered_as_unknown_version(
    redis_server: RedisServer,
) -> None:
    got: list[SignedUp] = []

    @listener(SignedUp)
    async def welcome(event: SignedUp) -> None:
        got.append(event)

    client = redis_server.client()
    backend = RedisStreamsBackend(redis_server.url, service="accounts")
    async with EventBus([welcome], backend=backend):
        produce(redis_server.url, 3, "Cy Diaz")
        await eventually(lambda: len(dead_letters(client)) == 1, "the dead letter")
        produce(redis_server.url, 1, "Di Eze")  # the listener still reads what it knows
        await eventually(lambda: len(got) == 1, "the version-1 event after it")
    [letter] = dead_letters(client)
    assert letter.reason == "unknown version"
    assert "'user_signed_up' version 3 is newer than this process knows" in letter.detail
    assert f"{__name__}.SignedUp is at version 2" in letter.detail
    assert letter.stream == STREAM
    assert b'"eventversion":3' in letter.envelope  # kept whole, to replay after the deploy
    assert b'"full_name":"Cy Diaz"' in letter.envelope
    assert got == [SignedUp(full_name="Di Eze")]
    [group] = client.groups(STREAM)
    assert group["pending"] == 0
