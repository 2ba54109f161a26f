"""emit_after_commit: only the outermost commit emits; rollbacks and savepoints drop theirs.

Sync sessions run on SQLite and PostgreSQL, on asyncio and trio; the AsyncSession tests
use psycopg's async driver on PostgreSQL, so they run on asyncio only.
"""

from __future__ import annotations

import logging

import pydantic
import pytest
from sqlalchemy import Engine, select
from sqlalchemy.exc import IntegrityError, InvalidRequestError
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from typed_events import EventBus, UnknownEventError, listener
from typed_events.sqlalchemy import emit_after_commit
from typed_events.testing import capture_events

from .models import Base, User, UserCreated

received: list[str] = []


@listener(UserCreated)
async def send_welcome(event: UserCreated) -> None:
    received.append(event.email)


@pytest.fixture
def bus() -> EventBus:
    received.clear()
    return EventBus([send_welcome])


def create_user(session: Session, bus: EventBus, email: str) -> None:
    session.add(User(email=email))
    emit_after_commit(session, bus, UserCreated, email=email)


@pytest.mark.anyio
async def test_commit_delivers_once_and_rollback_never(engine: Engine, bus: EventBus) -> None:
    async with bus:
        with Session(engine) as session:
            create_user(session, bus, "kept@example.com")
            assert received == []  # not before the commit
            session.commit()
        with Session(engine) as session:
            create_user(session, bus, "dropped@example.com")
            session.flush()  # even written to the database
            session.rollback()
    assert received == ["kept@example.com"]
    with Session(engine) as session:
        assert session.scalars(select(User.email)).all() == ["kept@example.com"]


@pytest.mark.anyio
async def test_the_three_emit_forms_are_validated_now(engine: Engine, bus: EventBus) -> None:
    async with bus:
        with Session(engine) as session:
            emit_after_commit(session, bus, UserCreated(email="a@example.com"))
            emit_after_commit(session, bus, UserCreated, email="b@example.com")
            emit_after_commit(session, bus, "sa_user_created", email="c@example.com")
            emit_after_commit(session, bus, "sa_user_created", "d@example.com")
            with pytest.raises(pydantic.ValidationError):
                emit_after_commit(session, bus, UserCreated, email=42)  # type: ignore[call-overload]
            with pytest.raises(UnknownEventError, match="sa_user_created"):
                emit_after_commit(session, bus, "sa_user_creatd", email="x")
            session.commit()
    assert received == ["a@example.com", "b@example.com", "c@example.com", "d@example.com"]


@pytest.mark.anyio
async def test_a_rolled_back_savepoint_drops_only_its_own_events(
    engine: Engine, bus: EventBus
) -> None:
    async with bus:
        with Session(engine) as session:
            create_user(session, bus, "before@example.com")
            savepoint = session.begin_nested()
            create_user(session, bus, "inner@example.com")
            savepoint.rollback()
            with session.begin_nested():  # released: still waits for the outer commit
                create_user(session, bus, "released@example.com")
                with session.begin_nested():
                    create_user(session, bus, "deepest@example.com")
            assert received == []  # releasing savepoints fired after_commit: nothing sent
            create_user(session, bus, "after@example.com")
            session.commit()
    assert received == [
        "before@example.com",
        "released@example.com",
        "deepest@example.com",
        "after@example.com",
    ]


@pytest.mark.anyio
async def test_released_savepoints_go_down_with_the_outer_rollback(
    engine: Engine, bus: EventBus
) -> None:
    async with bus:
        with Session(engine) as session:
            with session.begin_nested():
                create_user(session, bus, "inner@example.com")
            session.rollback()
        with Session(engine) as session:  # closed without a commit
            create_user(session, bus, "unfinished@example.com")
    assert received == []


@pytest.mark.anyio
async def test_a_failed_savepoint_inside_a_committed_transaction(
    engine: Engine, bus: EventBus
) -> None:
    """The usual 'try to insert, keep going' pattern: the failed insert's event is dropped."""
    async with bus:
        with Session(engine) as session:
            create_user(session, bus, "first@example.com")
            session.flush()
            with pytest.raises(IntegrityError), session.begin_nested():
                create_user(session, bus, "first@example.com")  # duplicate email
            session.commit()
    assert received == ["first@example.com"]


@pytest.mark.anyio
async def test_one_session_many_transactions(engine: Engine, bus: EventBus) -> None:
    async with bus:
        with Session(engine) as session:
            for n in range(3):
                with session.begin():
                    create_user(session, bus, f"{n}@example.com")
                    if n == 1:
                        session.rollback()
                        break
            with session.begin():
                create_user(session, bus, "last@example.com")
    assert received == ["0@example.com", "last@example.com"]


@pytest.mark.anyio
async def test_emit_before_any_query_begins_the_transaction(engine: Engine, bus: EventBus) -> None:
    async with bus:
        with Session(engine) as session:
            assert session.get_transaction() is None
            emit_after_commit(session, bus, UserCreated, email="early@example.com")
            session.commit()
        with Session(engine, autobegin=False) as session:
            with pytest.raises(InvalidRequestError, match="autobegin is disabled"):
                emit_after_commit(session, bus, UserCreated, email="x@example.com")
            with session.begin():
                emit_after_commit(session, bus, UserCreated, email="explicit@example.com")
    assert received == ["early@example.com", "explicit@example.com"]


@pytest.mark.anyio
async def test_an_emit_failing_after_the_commit_is_logged_not_raised(
    engine: Engine, bus: EventBus, caplog: pytest.LogCaptureFixture
) -> None:
    other = EventBus([send_welcome])  # never started: its emit raises after the commit
    async with bus:
        with Session(engine) as session:
            create_user(session, other, "lost@example.com")
            create_user(session, bus, "sent@example.com")
            session.commit()  # does not raise: the data is committed
    assert received == ["sent@example.com"]
    assert "lost@example.com" in caplog.text
    assert "could not be emitted" in caplog.text
    assert any(record.levelno == logging.ERROR for record in caplog.records)
    with Session(engine) as session:
        assert len(session.scalars(select(User)).all()) == 2


@pytest.mark.anyio
async def test_sync_session_in_a_worker_thread(engine: Engine, bus: EventBus) -> None:
    import anyio.to_thread

    def work() -> None:
        with Session(engine) as session, session.begin():
            create_user(session, bus, "thread@example.com")

    async with bus:
        with capture_events(bus) as captured:
            await anyio.to_thread.run_sync(work)
    captured.assert_emitted(UserCreated, email="thread@example.com")
    assert received == ["thread@example.com"]


def test_rejects_what_is_not_a_session(bus: EventBus) -> None:
    with pytest.raises(TypeError, match="Session or AsyncSession"):
        emit_after_commit(object(), bus, UserCreated, email="x")  # type: ignore[call-overload]


@pytest.mark.asyncio
async def test_async_session_commit_rollback_and_savepoints(postgres_url: str) -> None:
    received.clear()
    bus = EventBus([send_welcome])
    engine = create_async_engine(postgres_url)
    try:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with bus:
            async with AsyncSession(engine) as session:
                session.add(User(email="a@example.com"))
                emit_after_commit(session, bus, UserCreated, email="a@example.com")  # plain call
                savepoint = await session.begin_nested()
                emit_after_commit(session, bus, UserCreated, email="inner@example.com")
                await savepoint.rollback()
                async with session.begin_nested():
                    emit_after_commit(session, bus, UserCreated, email="released@example.com")
                assert received == []
                await session.commit()
            async with AsyncSession(engine) as session:
                emit_after_commit(session, bus, UserCreated, email="rolled@example.com")
                await session.rollback()
        assert received == ["a@example.com", "released@example.com"]
    finally:
        await engine.dispose()
