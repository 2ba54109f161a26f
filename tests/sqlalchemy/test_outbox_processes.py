"""The relay as its own process (``typed-events outbox relay``), PostgreSQL to a real Redis.

A consumer in this process runs a listener on the Redis stream and records
``current_delivery().id`` for each call: the outbox row's id, which is how a consumer
deduplicates what a killed relay published twice.
"""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.orm import Session

from tests.redis.blocking import BlockingRedis
from tests.redis.conftest import RedisServer
from tests.redis.helpers import eventually
from typed_events import Event, EventBus, listener
from typed_events.backends.redis import RedisStreamsBackend, current_delivery
from typed_events.sqlalchemy import Outbox

from .models import Numbered

pytestmark = pytest.mark.redis

ROOT = Path(__file__).resolve().parents[2]
STREAM = "typed-events:sa_numbered"
APP = "tests.sqlalchemy.relay_app:outbox"

deliveries: list[tuple[str, int]] = []


@listener(Numbered)
async def record(event: Numbered) -> None:
    delivery = current_delivery()
    assert delivery is not None
    deliveries.append((delivery.id, event.n))


@pytest.fixture
def pg_engine(postgres_url: str) -> Iterator[Engine]:
    engine = create_engine(postgres_url)
    try:
        yield engine
    finally:
        engine.dispose()


def writer(engine: Engine) -> Outbox:
    """An outbox to write rows with (a web process would): its bus is never entered."""
    return Outbox(EventBus(events=[Numbered]), engine)


def fill(outbox: Outbox, engine: Engine, count: int, start: int = 0) -> list[str]:
    with Session(engine) as session, session.begin():
        return [outbox.emit(session, Numbered, n=n) for n in range(start, start + count)]


def relay_process(
    postgres_url: str, redis_url: str, *, delay: float = 0.0, batch_size: int = 50
) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'src'}",
        "OUTBOX_DATABASE_URL": postgres_url,
        "OUTBOX_REDIS_URL": redis_url,
        "OUTBOX_PUBLISH_DELAY": str(delay),
        "OUTBOX_BATCH_SIZE": str(batch_size),
    }
    return subprocess.Popen(
        [sys.executable, "-m", "typed_events", "outbox", "relay", APP],
        cwd=ROOT,
        env=env,
        stderr=subprocess.PIPE,
        text=True,
    )


def stop(process: subprocess.Popen[str]) -> tuple[int, str]:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    return process.returncode, err


def stream_length(client: BlockingRedis) -> int:
    return int(client.xlen(STREAM)) if client.exists([STREAM]) else 0


def consumer_bus(redis_url: str) -> EventBus:
    deliveries.clear()
    return EventBus([record], backend=RedisStreamsBackend(redis_url, service="consumer"))


@pytest.mark.asyncio
async def test_kill_9_of_the_relay_mid_backlog_then_a_new_relay_delivers_all(
    postgres_url: str, pg_engine: Engine, redis_server: RedisServer
) -> None:
    outbox = writer(pg_engine)
    await outbox.create_table()
    ids = fill(outbox, pg_engine, 1_000)
    client = redis_server.client()
    bus = consumer_bus(redis_server.url)
    async with bus:
        first = relay_process(postgres_url, redis_server.url, delay=0.002, batch_size=50)
        try:
            await eventually(lambda: stream_length(client) >= 200, "some rows published")
        finally:
            first.kill()  # SIGKILL: mid-batch, with published rows not yet deleted
            first.communicate(timeout=30)
        assert first.returncode == -signal.SIGKILL
        left = (await outbox.status()).backlog
        assert 0 < left < 1_000, "the relay was not killed in the middle of the backlog"
        second = relay_process(postgres_url, redis_server.url)
        try:
            await eventually(lambda: len({i for i, _ in deliveries}) == 1_000, "every row")
        finally:
            code, err = stop(second)
        assert code == 0, err
        assert (await outbox.status()).backlog == 0
    delivered = dict(deliveries)
    assert delivered.keys() == set(ids)  # the CloudEvents id is the row id
    assert [delivered[i] for i in ids] == list(range(1_000))
    assert len(deliveries) >= 1_000  # a redelivered batch shows up twice; dedup removes it
    assert client.xlen(STREAM) == len(deliveries)


@pytest.mark.asyncio
async def test_two_relays_share_2000_rows_each_published_once(
    postgres_url: str, pg_engine: Engine, redis_server: RedisServer
) -> None:
    outbox = writer(pg_engine)
    await outbox.create_table()
    ids = fill(outbox, pg_engine, 2_000)
    client = redis_server.client()
    relays = [
        relay_process(postgres_url, redis_server.url, delay=0.0005, batch_size=20) for _ in range(2)
    ]
    try:
        await eventually(lambda: stream_length(client) >= 2_000, "all rows", 120)
    finally:
        results = [stop(relay) for relay in relays]
    assert [code for code, _ in results] == [0, 0], results
    assert (await outbox.status()).backlog == 0  # both stopped: their rounds committed
    counts = [int(re.findall(r"after publishing (\d+) row", err)[-1]) for _, err in results]
    assert sum(counts) == 2_000
    assert all(count > 0 for count in counts), f"one relay did no work: {counts}"
    assert client.xlen(STREAM) == 2_000  # SKIP LOCKED: no row published twice
    bus = consumer_bus(redis_server.url)
    async with bus:
        await eventually(lambda: len(deliveries) == 2_000, "the consumer")
    assert {i for i, _ in deliveries} == set(ids)


class Retired(Event, event_id="sa_retired"):
    reason: str


@pytest.mark.asyncio
async def test_poison_rows_through_redis_are_dead_lettered_and_the_rest_delivered(
    pg_engine: Engine, redis_server: RedisServer
) -> None:
    old_deploy = Outbox(EventBus(events=[Numbered, Retired]), pg_engine)
    await old_deploy.create_table()
    with Session(pg_engine) as session, session.begin():
        good = [old_deploy.emit(session, Numbered, n=1)]
        poison = old_deploy.emit(session, Retired, reason="removed in this deploy")
        huge = old_deploy.emit(session, Numbered, n=10**1000)  # > max_message_bytes below
        good.append(old_deploy.emit(session, Numbered, n=2))
    backend = RedisStreamsBackend(redis_server.url, service="consumer", max_message_bytes=512)
    bus = EventBus([record], backend=backend)
    deliveries.clear()
    relay = Outbox(bus, pg_engine, poll_interval=600)
    async with bus, relay:
        await eventually(lambda: len(deliveries) == 2, "the good rows")
    status = await relay.status()  # the relay stopped: its round committed
    assert [i for i, _ in deliveries] == good
    assert status.backlog == 0
    assert status.dead_letters == {"too large": 1, "unknown type": 1}
    with pg_engine.connect() as connection:
        reasons = dict(
            connection.execute(
                relay.table.select().with_only_columns(relay.table.c.id, relay.table.c.dead_reason)
            ).all()
        )
    assert reasons == {poison: "unknown type", huge: "too large"}
