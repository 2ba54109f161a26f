"""What goes wrong while the backend runs, against a real redis-server: trimming of unread
messages, a slow message among fast ones, a login Redis starts refusing."""

from __future__ import annotations

import logging

import anyio
import pytest
from coredis import PureToken

from typed_events import Event, EventBus, listener
from typed_events.backends.redis import (
    RedisStreamsBackend,
    RedisWriteError,
    WriteBufferFullError,
)
from typed_events.envelope import encode

from .blocking import BlockingRedis
from .conftest import RedisServer
from .helpers import eventually

pytestmark = [pytest.mark.redis, pytest.mark.anyio]

STREAM = "typed-events:reading"


class Reading(Event, event_id="reading"):
    n: int


def text(entry_id: bytes | str) -> str:
    return entry_id.decode() if isinstance(entry_id, bytes) else entry_id


async def test_messages_trimmed_before_they_were_read_are_logged_and_counted(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)

    caplog.set_level(logging.WARNING, logger="typed_events")
    client = redis_server.client()
    first = client.xadd(STREAM, {"envelope": encode(Reading(n=0), source="/t")})
    async with EventBus([collect], backend=RedisStreamsBackend(redis_server.url, service="t")):
        await eventually(lambda: seen == [0], "the first event")
    # While no consumer runs, a producer with maxlen=10 writes 50 more.
    ids = [
        client.xadd(
            STREAM,
            {"envelope": encode(Reading(n=n), source="/t")},
            trim_strategy=PureToken.MAXLEN,
            threshold=10,  # exactly: no "~"
        )
        for n in range(1, 51)
    ]
    backend = RedisStreamsBackend(redis_server.url, service="t")
    caplog.clear()
    async with EventBus([collect], backend=backend):
        await eventually(lambda: seen == [0, *range(41, 51)], "what is left of them")
        await anyio.sleep(0.1)  # idle reads too: nothing more is reported
    messages = [r.getMessage() for r in caplog.records]
    version = int(str(client.info()["redis_version"]).split(".")[0])
    if version >= 7:
        [report] = [m for m in messages if "trimmed" in m]
        assert f"40 message(s) of {STREAM} were trimmed" in report
        assert f"ids after {text(first)} and before {text(ids[40])}" in report
        assert backend.trimmed == 40
        # A second loss is counted alone.
        for n in range(51, 81):
            client.xadd(
                STREAM,
                {"envelope": encode(Reading(n=n), source="/t")},
                trim_strategy=PureToken.MAXLEN,
                threshold=10,
            )
        caplog.clear()
        backend = RedisStreamsBackend(redis_server.url, service="t")
        async with EventBus([collect], backend=backend):
            await eventually(lambda: seen[-10:] == list(range(71, 81)), "the last ten")
        [report] = [r.getMessage() for r in caplog.records if "trimmed" in r.getMessage()]
        assert f"20 message(s) of {STREAM} were trimmed" in report
        assert backend.trimmed == 20
    else:  # Redis 6 does not count what a group has not read: say so, once
        assert backend.trimmed == 0
        assert sum("does not count what a group has not read" in m for m in messages) == 1


async def test_each_message_is_acknowledged_when_its_call_ends_not_with_its_batch(
    redis_server: RedisServer,
) -> None:
    release = anyio.Event()
    done: list[int] = []

    @listener(Reading)
    async def mostly_fast(event: Reading) -> None:
        if event.n == 0:
            await release.wait()
        done.append(event.n)

    client = redis_server.client()
    for n in range(10):
        client.xadd(STREAM, {"envelope": encode(Reading(n=n), source="/t")})
    group = f"a:{mostly_fast.name}"
    backend = RedisStreamsBackend(redis_server.url, service="a", batch_size=10)

    def pending() -> int:
        return int(client.xpending(STREAM, group).pending)

    async with EventBus([mostly_fast], backend=backend):
        await eventually(lambda: len(done) == 9, "the nine fast calls")
        await eventually(lambda: pending() == 1, "the nine acknowledged")  # a kill -9 now
        release.set()  # would re-run only the slow one
        await eventually(lambda: pending() == 0, "the slow one acknowledged too")
    assert sorted(done) == list(range(10))


async def test_a_batchs_last_acknowledgements_ride_with_the_next_read_or_go_at_stop(
    redis_server: RedisServer,
) -> None:
    """The acknowledgements still waiting when a batch's calls have all ended go with the
    next read (one round trip, not two); when the bus stops instead, they are sent then:
    nothing is left pending by a clean stop."""
    total = 250
    last_seen = anyio.Event()
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)
        if event.n == total - 1:
            last_seen.set()

    client = redis_server.client()
    for n in range(total):
        client.xadd(STREAM, {"envelope": encode(Reading(n=n), source="/t")})
    group = f"a:{collect.name}"
    client.config_resetstat()
    backend = RedisStreamsBackend(redis_server.url, service="a", batch_size=50)
    async with EventBus([collect], backend=backend) as bus:
        await last_seen.wait()  # and leave at once: the last batch's acks are not sent yet
    assert seen == list(range(total))
    assert int(client.xpending(STREAM, group).pending) == 0
    assert bus.stats.delivered == total
    # Five reads of 50: one XACK per batch, not one per message.
    calls = client.info("commandstats")["cmdstat_xack"]
    assert isinstance(calls, dict)
    assert calls["calls"] == total // 50


async def test_a_login_redis_starts_refusing_is_named_and_emit_async_gives_up_in_time(
    redis_server: RedisServer, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[int] = []

    @listener(Reading)
    async def collect(event: Reading) -> None:
        seen.append(event.n)

    caplog.set_level(logging.WARNING, logger="typed_events")
    admin = redis_server.client()
    url = redis_server.url
    emitter = RedisStreamsBackend(url, service="web", consume=False, emit_timeout=0.5)
    emitter.max_pending = 1
    async with (
        EventBus([collect], backend=RedisStreamsBackend(url, service="c", claim_idle=0.2)),
        EventBus(events=[Reading], backend=emitter) as bus,
    ):
        await bus.emit_async(Reading(n=1))
        await eventually(lambda: seen == [1], "the first event")
        # The password changes under the running services; their connections are cut.
        admin.config_set({"requirepass": "rotated"})
        admin.client_kill(type_=PureToken.NORMAL, skipme=False)
        with pytest.raises(RedisWriteError) as info:
            await bus.emit_async(Reading(n=2))
        assert "authentication failed for user 'default'" in str(info.value)
        assert "within 0.5s" in str(info.value)
        assert "withdrawn" in str(info.value)
        bus.emit(Reading(n=3))  # waits in the buffer, which is now full
        with pytest.raises(WriteBufferFullError) as full:
            bus.emit(Reading(n=4))
        assert "authentication failed for user 'default'" in str(full.value)
        assert "is Redis down or slow" not in str(full.value)
        rotated = BlockingRedis(url.replace("redis://", "redis://:rotated@"))
        try:
            rotated.config_set({"requirepass": ""})
        finally:
            rotated.close()
        await eventually(lambda: seen == [1, 3], "the buffered event, once the login works")
    messages = [r.getMessage() for r in caplog.records]
    refused = [m for m in messages if "authentication failed for user 'default'" in m]
    assert sum(m.startswith("writer:") for m in refused) == 1  # once per change, not per retry
    assert sum(m.startswith("consumer group c:") for m in refused) == 1
    assert any(m.startswith("writer reconnected to Redis") for m in messages)
    assert 2 not in seen  # withdrawn: never written
