"""``Outbox``: events written in the caller's transaction, published by a relay."""

from __future__ import annotations

import threading
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, ParamSpec, overload

import anyio
import anyio.abc
import anyio.from_thread
import anyio.lowlevel
from sqlalchemy import Connection, Engine, MetaData, Table, exc, inspect
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession
from sqlalchemy.orm import Session

from typed_events._settings import require_int, require_seconds
from typed_events.bus import EventBus
from typed_events.envelope import encode
from typed_events.errors import EmitterNotRunningError
from typed_events.events import Event
from typed_events.sqlalchemy import _table
from typed_events.sqlalchemy._commit_hooks import current_transaction, on_commit, sync_session
from typed_events.sqlalchemy._database import Database
from typed_events.sqlalchemy._relay import Relay

__all__ = ["Outbox", "OutboxStatus"]

P = ParamSpec("P")


@dataclass(frozen=True)
class OutboxStatus:
    """A snapshot of an outbox table (what ``typed-events outbox status`` shows).

    :ivar table: the table's name.
    :ivar backlog: rows waiting to be published.
    :ivar oldest: when the oldest waiting row was emitted (None when there is none).
    :ivar oldest_age: its age in seconds (0.0 when there is none).
    :ivar dead_letters: rows set aside for good, by :class:`DeadLetterReason`.
    """

    table: str
    backlog: int
    oldest: datetime | None
    oldest_age: float
    dead_letters: dict[str, int] = field(default_factory=dict[str, int])


class _SessionState:
    """What an outbox remembers of one session: the transaction it last asked to be
    woken after (one in-process wake-up per transaction is enough)."""

    def __init__(self) -> None:
        self.woken_for: object = None


class Outbox:
    """A transactional outbox: ``emit`` adds a row in your transaction; a relay publishes it.

    ```python
    outbox = Outbox(bus, engine)
    with Session(engine) as session, session.begin():
        session.add(user)
        outbox.emit(session, UserCreated, email=user.email)
    async with bus, outbox:  # relays committed rows until the block ends
        ...
    ```

    The event reaches the bus's backend only if the transaction commits, and even if
    the process dies right after the commit: the relay (``async with outbox:`` here or
    in any process, or ``typed-events outbox relay APP``) publishes committed rows in
    order with ``backend.emit_async`` (so a durable backend has acknowledged them), then
    deletes them. At least once: a relay that dies mid-batch publishes those rows again,
    under the same CloudEvents id (the row's ``id``), so listeners deduplicate on
    ``current_delivery().id``. Several relays may run at once on PostgreSQL (rows are
    claimed with ``FOR UPDATE SKIP LOCKED``; a trigger on the table notifies, and the
    relay's ``LISTEN`` wakes it at once); on SQLite, run one relay, in one process.

    :param bus: validates what ``emit`` is given; the relay publishes through its backend.
    :param engine: an ``Engine`` (the relay's queries run in worker threads, on asyncio
        or trio) or an ``AsyncEngine`` (asyncio only).
    :param table: the table's name.
    :param metadata: put the table in this ``MetaData`` (your models', so migrations
        see it); by default a private one.
    :param batch_size: rows per relay round.
    :param poll_interval: seconds an idle relay waits before looking again when no
        notification came (the only wake-up besides this process's own commits, on
        databases other than PostgreSQL).
    :param retry_backoff: seconds before retrying after a failed round; doubles up to 30.
    :param shutdown_timeout: seconds leaving ``async with outbox`` waits for the round in
        progress before cancelling it (its rows are then published again later).
    :raises TypeError: if ``engine`` is not an engine.
    :raises ValueError: for an invalid setting.
    """

    def __init__(
        self,
        bus: EventBus,
        engine: Engine | AsyncEngine,
        *,
        table: str = "typed_events_outbox",
        metadata: MetaData | None = None,
        batch_size: int = 100,
        poll_interval: float = 1.0,
        retry_backoff: float = 0.5,
        shutdown_timeout: float = 10.0,
    ) -> None:
        if not isinstance(bus, EventBus):
            raise TypeError(f"Outbox needs an EventBus, got {type(bus).__qualname__}")
        if not isinstance(table, str) or not table:
            raise ValueError(f"table must be a non-empty name, got {table!r}")
        require_int("batch_size", batch_size, 1)
        require_seconds("poll_interval", poll_interval, positive=True)
        require_seconds("retry_backoff", retry_backoff, positive=True)
        require_seconds("shutdown_timeout", shutdown_timeout)
        self.bus = bus
        self.database = Database(engine)
        self.engine = engine
        self.table: Table = _table.build_table(table, metadata or MetaData())
        self.batch_size = batch_size
        self.poll_interval = poll_interval
        self.retry_backoff = retry_backoff
        self.shutdown_timeout = shutdown_timeout
        source = getattr(bus.backend, "source", None)
        self.source = source if isinstance(source, str) else "/typed-events/outbox"
        self._row = _table.mapped_row_class(self.table)
        self._key = f"typed_events_outbox:{id(self)}"
        self._relay: Relay | None = None
        self._running = False
        self._task_group: anyio.abc.TaskGroup | None = None
        self._token: anyio.lowlevel.EventLoopToken | None = None
        self._loop_thread: int | None = None

    # -- emitting -----------------------------------------------------------------------

    @overload
    def emit(self, session: Session | AsyncSession, event: Event, /) -> str: ...
    @overload
    def emit(
        self,
        session: Session | AsyncSession,
        event: Callable[P, Event],
        /,
        *args: P.args,
        **kwargs: P.kwargs,
    ) -> str: ...
    @overload
    def emit(
        self, session: Session | AsyncSession, event: str, /, *args: Any, **kwargs: Any
    ) -> str: ...
    def emit(
        self,
        session: Session | AsyncSession,
        event: Event | Callable[..., Event] | str,
        /,
        *args: Any,
        **kwargs: Any,
    ) -> str:
        """Validate an event now and add it to the outbox in ``session``'s transaction.

        The same three forms as :meth:`EventBus.emit <typed_events.EventBus.emit>`. A plain
        call with an ``AsyncSession`` too: the row is inserted by the next flush (at the
        latest, the commit). A rolled-back transaction or savepoint takes its rows with it.

        :return: the CloudEvents id the event will be published with (the row's ``id``).
        :raises pydantic.ValidationError: if the payload does not fit the event.
        :raises UnknownEventError: for an id no event declares.
        """
        instance = self.bus.validate(event, *args, **kwargs)
        envelope_id = str(uuid.uuid4())
        now = datetime.now(UTC)
        payload = encode(instance, source=self.source, id=envelope_id, time=now).decode()
        sync = sync_session(session)
        sync.add(self._row(envelope_id, instance.event_id, payload, now))
        state = self._state(sync)
        transaction = current_transaction(sync, "Outbox.emit()")
        if state.woken_for is not transaction:  # one in-process wake-up per transaction
            state.woken_for = transaction
            on_commit(sync, self._wake_from_any_thread, caller="Outbox.emit()")
        return envelope_id

    def _state(self, session: Session) -> _SessionState:
        state = session.info.get(self._key)
        if isinstance(state, _SessionState):
            return state
        state = _SessionState()
        session.info[self._key] = state
        return state

    def _wake_from_any_thread(self) -> None:
        relay, token = self._relay, self._token
        if not self._running or relay is None or token is None:
            return
        if threading.get_ident() == self._loop_thread:
            relay.wake()
            return
        try:
            anyio.from_thread.run_sync(relay.wake, token=token)
        except anyio.RunFinishedError:
            return

    # -- inspecting -----------------------------------------------------------------------

    async def status(self) -> OutboxStatus:
        """Count the waiting and dead-lettered rows, and age the oldest waiting one.

        :raises sqlalchemy.exc.SQLAlchemyError: if the table cannot be read.
        """

        def read(connection: Connection) -> tuple[_table.Backlog, dict[str, int]]:
            return _table.backlog(connection, self.table), _table.dead_counts(
                connection, self.table
            )

        waiting, dead = await self.database.run(read)
        age = 0.0
        if waiting.oldest is not None:
            age = max((datetime.now(UTC) - waiting.oldest).total_seconds(), 0.0)
        return OutboxStatus(self.table.name, waiting.size, waiting.oldest, age, dead)

    @property
    def published(self) -> int:
        """Rows this object's relay published since ``async with outbox`` was last entered."""
        return self._relay.published if self._relay is not None else 0

    # -- relaying -------------------------------------------------------------------------

    async def create_table(self) -> None:
        """Create the table if it is missing (``async with outbox:`` does it first).

        On PostgreSQL it also creates (if missing) the trigger that notifies the relays
        when rows are committed, so a table made by your migrations gets it too.
        """

        def create(connection: Connection) -> None:
            if not inspect(connection).has_table(self.table.name, self.table.schema):
                self.table.create(connection)  # with its NOTIFY trigger on PostgreSQL
            elif connection.dialect.name == "postgresql":
                _table.ensure_notify_trigger(connection, self.table)  # a migrated table

        try:
            await self.database.run(create)
        except exc.DBAPIError:
            # Another relay created it at the same moment: fine if it is there now.
            exists = await self.database.run(
                lambda c: inspect(c).has_table(self.table.name, self.table.schema)
            )
            if not exists:
                raise

    async def __aenter__(self) -> Outbox:
        if self._running:
            raise EmitterNotRunningError(
                f"the relay of outbox {self.table.name!r} is already running; "
                "enter `async with outbox` once at a time"
            )
        if not self.bus.running:
            raise EmitterNotRunningError(
                "the outbox relay publishes through the bus, which is not running: "
                "enter the bus first, `async with bus, outbox:`"
            )
        await self.create_table()
        relay = Relay(self)
        listener = await relay.open_listener()
        task_group = anyio.create_task_group()
        await task_group.__aenter__()
        task_group.start_soon(relay.listen, listener)
        task_group.start_soon(self._run, relay, task_group)
        self._relay, self._task_group = relay, task_group
        self._running = True
        self._token = anyio.lowlevel.current_token()
        self._loop_thread = threading.get_ident()
        return self

    async def _run(self, relay: Relay, task_group: anyio.abc.TaskGroup) -> None:
        await relay.run()
        task_group.cancel_scope.cancel()  # stops the listener too

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        relay, task_group = self._relay, self._task_group
        assert relay is not None
        assert task_group is not None
        relay.stop()
        try:
            with anyio.CancelScope(shield=True) as scope:
                scope.deadline = anyio.current_time() + self.shutdown_timeout
                await relay.finished()
        finally:
            task_group.cancel_scope.cancel()
            await task_group.__aexit__(None, None, None)
            self._running = False
            self._task_group = None
            self._token = self._loop_thread = None
