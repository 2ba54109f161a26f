"""Outbox on SQLite and PostgreSQL through the in-memory backend (asyncio and trio).

The relay runs in-process here; tests/sqlalchemy/test_outbox_processes.py runs it as
its own process against Redis, and kills it.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

import pydantic
import pytest
from sqlalchemy import Engine, MetaData, insert, inspect, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from tests.redis.helpers import eventually
from typed_events import EmitterNotRunningError, Event, EventBus, UnknownEventError, listener
from typed_events.backends.memory import SimpleEventEmitter
from typed_events.sqlalchemy import Outbox
from typed_events.sqlalchemy._listen import LISTENER_APPLICATION_NAME

from .models import Base, Numbered, User, UserCreated

received: list[Any] = []


@listener(UserCreated)
async def send_welcome(event: UserCreated) -> None:
    received.append(event.email)


@listener(Numbered)
async def count(event: Numbered) -> None:
    received.append(event.n)


class Retired(Event, event_id="sa_retired"):
    """An event an older deploy emitted; the relay's bus no longer knows it."""

    reason: str


@pytest.fixture
def bus() -> EventBus:
    received.clear()
    return EventBus([send_welcome, count])


def received_count(count: int) -> Callable[[], bool]:
    return lambda: len(received) == count


def rows(engine: Engine, outbox: Outbox) -> list[Any]:
    with engine.connect() as connection:
        return list(connection.execute(select(outbox.table).order_by(outbox.table.c.seq)).all())


@pytest.mark.anyio
async def test_committed_rows_are_published_once_and_rolled_back_ones_never(
    engine: Engine, bus: EventBus
) -> None:
    outbox = Outbox(bus, engine, poll_interval=60)  # only wake-ups can deliver in time
    async with bus, outbox:
        with Session(engine) as session, session.begin():
            session.add(User(email="a@example.com"))
            outbox.emit(session, UserCreated(email="a@example.com"))
            outbox.emit(session, UserCreated, email="b@example.com")
            outbox.emit(session, "sa_user_created", email="c@example.com")
            savepoint = session.begin_nested()
            outbox.emit(session, UserCreated, email="savepoint@example.com")
            savepoint.rollback()
        with Session(engine) as session:
            outbox.emit(session, UserCreated, email="rolled-back@example.com")
            session.flush()
            session.rollback()
        await eventually(lambda: len(received) >= 3, "the committed events")
        await eventually(lambda: not rows(engine, outbox), "the rows to be deleted")
    assert received == ["a@example.com", "b@example.com", "c@example.com"]
    assert outbox.published == 3


@pytest.mark.anyio
async def test_rows_are_published_in_commit_order(engine: Engine, bus: EventBus) -> None:
    outbox = Outbox(bus, engine, batch_size=7, poll_interval=60)
    await outbox.create_table()
    with Session(engine) as session, session.begin():
        for n in range(50):
            outbox.emit(session, Numbered, n=n)
    with Session(engine) as session, session.begin():
        for n in range(50, 60):
            outbox.emit(session, Numbered, n=n)
    async with bus, outbox:  # a backlog that is there before the relay starts
        await eventually(lambda: len(received) == 60, "the backlog")
    assert received == list(range(60))


@pytest.mark.anyio
async def test_emit_validates_at_the_call_site(engine: Engine, bus: EventBus) -> None:
    outbox = Outbox(bus, engine)
    with Session(engine) as session:
        with pytest.raises(pydantic.ValidationError):
            outbox.emit(session, UserCreated, email=["not", "a", "string"])  # type: ignore[call-overload]
        with pytest.raises(UnknownEventError, match='did you mean "sa_user_created"'):
            outbox.emit(session, "sa_user_creatd", email="x@example.com")
        assert not session.new


@pytest.mark.anyio
async def test_emit_returns_the_cloudevents_id_stored_in_the_row(
    engine: Engine, bus: EventBus
) -> None:
    outbox = Outbox(bus, engine)
    await outbox.create_table()
    with Session(engine) as session, session.begin():
        first = outbox.emit(session, Numbered, n=1)
        second = outbox.emit(session, Numbered, n=2)
    stored = rows(engine, outbox)
    assert [row.id for row in stored] == [first, second]
    envelope = json.loads(stored[0].envelope)
    assert envelope["id"] == first
    assert envelope["type"] == "sa_numbered"
    assert envelope["data"] == {"n": 1}
    assert stored[0].type == "sa_numbered"


@pytest.mark.anyio
async def test_the_relay_needs_a_running_bus_and_runs_once_at_a_time(
    engine: Engine, bus: EventBus
) -> None:
    outbox = Outbox(bus, engine)
    with pytest.raises(EmitterNotRunningError, match="async with bus, outbox"):
        await outbox.__aenter__()
    async with bus, outbox:
        with pytest.raises(EmitterNotRunningError, match="already running"):
            await outbox.__aenter__()
    async with bus, outbox:  # and again after leaving
        pass


@pytest.mark.anyio
async def test_the_table_joins_your_metadata_and_is_created_only_when_missing(
    engine: Engine, bus: EventBus
) -> None:
    metadata = MetaData()
    outbox = Outbox(bus, engine, table="events_out", metadata=metadata)
    assert metadata.tables["events_out"] is outbox.table
    assert not inspect(engine).has_table("events_out")  # nothing at construction
    metadata.create_all(engine)  # as a migration would
    async with bus, outbox:  # finds it there
        pass
    other = Outbox(bus, engine, table="created_by_the_relay")
    async with bus, other:
        pass
    assert inspect(engine).has_table("created_by_the_relay")


@pytest.mark.anyio
async def test_poison_rows_are_dead_lettered_with_their_reason_and_the_relay_goes_on(
    engine: Engine, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    old_deploy = Outbox(EventBus(events=[Retired, Numbered]), engine)
    outbox = Outbox(bus, engine, poll_interval=60)
    await outbox.create_table()
    with Session(engine) as session, session.begin():
        old_deploy.emit(session, Numbered, n=1)
        old_deploy.emit(session, Retired, reason="gone in this version")
        broken = old_deploy.emit(session, Numbered, n=2)
        old_deploy.emit(session, Numbered, n=3)
    table = outbox.table
    with engine.begin() as connection:
        envelope = connection.execute(select(table.c.envelope).where(table.c.id == broken))
        damaged = json.loads(envelope.scalar_one())
        damaged["data"]["n"] = "two"
        connection.execute(
            update(table).where(table.c.id == broken).values(envelope=json.dumps(damaged))
        )
        connection.execute(
            insert(table).values(
                id="not-json", type="?", envelope="{oops", created_at=damaged_time(damaged)
            )
        )
    with Session(engine) as session, session.begin():
        outbox.emit(session, Numbered, n=4)
    async with bus, outbox:
        await eventually(lambda: len(received) == 3, "the good rows")
    # Read once the relay stopped: its last round (deletes, dead marks) has committed.
    status = await outbox.status()
    assert received == [1, 3, 4]
    assert status.backlog == 0
    assert status.dead_letters == {"bad json": 1, "invalid data": 1, "unknown type": 1}
    dead = {row.id: row for row in rows(engine, outbox)}
    assert dead[broken].dead_reason == "invalid data"
    assert "data.n" in dead[broken].dead_detail
    assert dead["not-json"].dead_reason == "bad json"
    assert "unknown type" in caplog.text
    assert "sa_retired" in caplog.text
    async with bus, outbox:  # dead rows are skipped for good, not retried
        assert (await outbox.status()).dead_letters["unknown type"] == 1
    assert received == [1, 3, 4]


def damaged_time(envelope: dict[str, Any]) -> Any:
    from datetime import datetime

    return datetime.fromisoformat(envelope["time"].replace("Z", "+00:00"))


class FlakyBackend(SimpleEventEmitter):
    """Refuses the first ``failures`` publishes, as a backend in an outage would."""

    def __init__(self, failures: int) -> None:
        super().__init__()
        self.failures = failures

    async def emit_async(self, event: Event) -> None:
        if self.failures:
            self.failures -= 1
            raise ConnectionError("backend unavailable")
        await super().emit_async(event)


@pytest.mark.anyio
async def test_a_failed_publish_keeps_the_row_and_is_retried(
    engine: Engine, caplog: pytest.LogCaptureFixture
) -> None:
    received.clear()
    bus = EventBus([count], backend=FlakyBackend(failures=3))
    outbox = Outbox(bus, engine, poll_interval=60, retry_backoff=0.01)
    await outbox.create_table()
    with Session(engine) as session, session.begin():
        for n in range(5):
            outbox.emit(session, Numbered, n=n)
    with caplog.at_level(logging.ERROR, logger="typed_events"):
        async with bus, outbox:
            await eventually(lambda: len(received) == 5, "the retried rows")
    # Each once: what failed was kept, what was acknowledged was deleted. (On asyncio a
    # batch is published concurrently, so rows after a failed one may overtake it.)
    assert sorted(received) == [0, 1, 2, 3, 4]
    assert "backend unavailable" in caplog.text
    assert not rows(engine, outbox)


@pytest.mark.anyio
async def test_status_counts_the_backlog_and_ages_the_oldest_row(
    engine: Engine, bus: EventBus
) -> None:
    outbox = Outbox(bus, engine)
    await outbox.create_table()
    empty = await outbox.status()
    assert (empty.backlog, empty.oldest, empty.oldest_age) == (0, None, 0.0)
    with Session(engine) as session, session.begin():
        outbox.emit(session, Numbered, n=1)
        outbox.emit(session, Numbered, n=2)
    status = await outbox.status()
    assert status.table == "typed_events_outbox"
    assert status.backlog == 2
    assert status.oldest is not None
    assert status.oldest.tzinfo is not None
    assert status.oldest_age >= 0.0
    assert status.dead_letters == {}


def test_settings_are_checked(engine: Engine, bus: EventBus) -> None:
    with pytest.raises(TypeError, match="Engine or AsyncEngine"):
        Outbox(bus, "sqlite://")  # type: ignore[arg-type]
    with pytest.raises(TypeError, match="EventBus"):
        Outbox(object(), engine)  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="batch_size"):
        Outbox(bus, engine, batch_size=0)
    with pytest.raises(ValueError, match="table"):
        Outbox(bus, engine, table="")


@pytest.mark.anyio
async def test_postgres_notify_wakes_an_idle_relay_from_another_writer(
    postgres_url: str, bus: EventBus
) -> None:
    from sqlalchemy import create_engine

    relay_engine, writer_engine = create_engine(postgres_url), create_engine(postgres_url)
    relay = Outbox(bus, relay_engine, poll_interval=600)  # no poll within the test
    writer = Outbox(EventBus(events=[Numbered]), writer_engine)  # another "process"
    # A table made by a migration tool, without the trigger: the relay adds it.
    with writer_engine.begin() as connection:
        writer.table.create(connection)
        connection.execute(text('DROP TRIGGER "typed_events_outbox_notify" ON typed_events_outbox'))
    try:
        async with bus, relay:
            for n in range(3):
                with Session(writer_engine) as session, session.begin():
                    writer.emit(session, Numbered, n=n)
                await eventually(received_count(n + 1), f"row {n} via NOTIFY")
    finally:
        relay_engine.dispose()
        writer_engine.dispose()
    assert received == [0, 1, 2]


@pytest.mark.asyncio
async def test_async_engine_and_async_session(postgres_url: str) -> None:
    received.clear()
    bus = EventBus([send_welcome])
    engine = create_async_engine(postgres_url)
    outbox = Outbox(bus, engine, poll_interval=600)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with bus, outbox:
            async with AsyncSession(engine) as session, session.begin():
                session.add(User(email="async@example.com"))
                outbox.emit(session, UserCreated, email="async@example.com")  # a plain call
                savepoint = await session.begin_nested()
                outbox.emit(session, UserCreated, email="savepoint@example.com")
                await savepoint.rollback()
            async with AsyncSession(engine) as session:
                outbox.emit(session, UserCreated, email="rolled-back@example.com")
                await session.rollback()
            await eventually(lambda: received == ["async@example.com"], "the committed row")
        status = await outbox.status()  # the relay has stopped: its round committed
        assert status.backlog == 0
    finally:
        await engine.dispose()


def listeners_connected(postgres_url: str) -> int:
    from sqlalchemy import create_engine

    engine = create_engine(postgres_url)
    try:
        with engine.connect() as connection:
            return int(
                connection.execute(
                    text("SELECT count(*) FROM pg_stat_activity WHERE application_name = :name"),
                    {"name": LISTENER_APPLICATION_NAME},
                ).scalar_one()
            )
    finally:
        engine.dispose()


@pytest.mark.anyio
async def test_a_lost_listen_connection_is_opened_again(
    postgres_url: str, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    from sqlalchemy import create_engine

    relay_engine, writer_engine = create_engine(postgres_url), create_engine(postgres_url)
    relay = Outbox(bus, relay_engine, poll_interval=600, retry_backoff=0.05)
    writer = Outbox(EventBus(events=[Numbered]), writer_engine)
    try:
        async with bus, relay:
            assert listeners_connected(postgres_url) == 1
            with writer_engine.connect() as connection:
                connection.execute(
                    text(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                        "WHERE application_name = :name"
                    ),
                    {"name": LISTENER_APPLICATION_NAME},
                )
            await eventually(lambda: "LISTEN connection lost" in caplog.text, "the loss")
            await eventually(lambda: listeners_connected(postgres_url) == 1, "a new LISTEN")
            with Session(writer_engine) as session, session.begin():
                writer.emit(session, Numbered, n=7)
            await eventually(received_count(1), "the row, woken by the new LISTEN")
    finally:
        relay_engine.dispose()
        writer_engine.dispose()
    assert received == [7]


@pytest.mark.parametrize("anyio_backend", ["trio"])
@pytest.mark.anyio
async def test_an_async_engine_on_trio_says_to_use_asyncio_or_a_sync_engine(
    postgres_url: str, bus: EventBus
) -> None:
    engine = create_async_engine(postgres_url)
    outbox = Outbox(bus, engine)
    async with bus:
        with pytest.raises(RuntimeError, match="AsyncEngine runs on asyncio only"):
            await outbox.__aenter__()
        with pytest.raises(RuntimeError, match="give the Outbox a sync Engine"):
            await outbox.status()


def test_outboxes_share_a_table_in_one_metadata_but_not_a_foreign_one(
    engine: Engine, bus: EventBus
) -> None:
    metadata = MetaData()
    first = Outbox(bus, engine, metadata=metadata)
    second = Outbox(bus, engine, metadata=metadata)
    assert first.table is second.table
    Base.metadata.create_all(engine)  # the users table is no outbox table
    with pytest.raises(ValueError, match="'users' that is not an outbox table"):
        Outbox(bus, engine, table="users", metadata=Base.metadata)
