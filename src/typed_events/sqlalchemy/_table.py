"""The outbox table, the ORM class its rows are added as, and the queries of the relay.

One row per event: ``seq`` orders rows (an autoincrementing key), ``id`` is the
CloudEvents id (the consumer's ``current_delivery().id``), ``envelope`` the CloudEvents
JSON (the same as on Redis), ``created_at`` the emit time. A row the relay cannot
publish for good (an event id this deploy does not know, a payload that no longer
validates, a too-large envelope) stays, with ``dead_reason`` (a
:class:`~typed_events.errors.DeadLetterReason`) and ``dead_detail``, and is skipped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    Connection,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    event,
    func,
    select,
    text,
    update,
)
from sqlalchemy.orm import registry

__all__ = [
    "RowFactory",
    "build_table",
    "dead_counts",
    "ensure_notify_trigger",
    "mapped_row_class",
]


_MARK = "typed_events_outbox"


def build_table(name: str, metadata: MetaData) -> Table:
    """The outbox table ``name`` in ``metadata``; on PostgreSQL, creating it (with
    ``create_all`` too) also creates its NOTIFY trigger.

    An outbox table already in ``metadata`` (another ``Outbox`` made it) is shared.

    :raises ValueError: if ``metadata`` has another table of that name.
    """
    existing = metadata.tables.get(name)
    if existing is not None:
        if existing.info.get(_MARK):
            return existing
        raise ValueError(
            f"the MetaData already has a table {name!r} that is not an outbox table; "
            "give the Outbox another table name (Outbox(..., table=...))"
        )
    table = Table(
        name,
        metadata,
        # SQLite autoincrements only an INTEGER PRIMARY KEY.
        Column("seq", BigInteger().with_variant(Integer(), "sqlite"), primary_key=True),
        Column("id", String(64), nullable=False, unique=True),
        Column("type", String(255), nullable=False),
        Column("envelope", Text(), nullable=False),
        Column("created_at", DateTime(timezone=True), nullable=False),
        Column("dead_reason", String(32), nullable=True),
        Column("dead_detail", Text(), nullable=True),
        comment="typed-events outbox: events committed with the data, waiting to be published",
        info={_MARK: True},
    )
    event.listen(table, "after_create", _create_trigger)
    return table


def _create_trigger(table: Table, connection: Connection, **kwargs: Any) -> None:
    if connection.dialect.name == "postgresql":
        for statement in _trigger_ddl(table):
            connection.execute(text(statement))


def _trigger_ddl(table: Table) -> list[str]:
    """``pg_notify(table name, '')`` once per INSERT statement, delivered at commit.

    A trigger, so a flush of outbox rows costs no extra round trip, whoever inserts.
    """
    function = _quote(f"{table.name}_notify", table.schema)
    target = _quote(table.name, table.schema)
    trigger = _quote(f"{table.name}_notify")
    return [
        f"CREATE OR REPLACE FUNCTION {function}() RETURNS trigger LANGUAGE plpgsql AS "
        "$$ BEGIN PERFORM pg_notify(TG_TABLE_NAME, ''); RETURN NULL; END $$",
        f"CREATE TRIGGER {trigger} AFTER INSERT ON {target} "
        f"FOR EACH STATEMENT EXECUTE FUNCTION {function}()",
    ]


def _quote(name: str, schema: str | None = None) -> str:
    quoted = '"' + name.replace('"', '""') + '"'
    return f"{_quote(schema)}.{quoted}" if schema else quoted


def ensure_notify_trigger(connection: Connection, table: Table) -> None:
    """Create the NOTIFY trigger of an existing PostgreSQL table if it has none."""
    exists = connection.execute(
        text(
            "SELECT 1 FROM pg_trigger WHERE tgrelid = CAST(:table AS regclass) AND tgname = :name"
        ),
        {"table": _quote(table.name, table.schema), "name": f"{table.name}_notify"},
    ).first()
    if exists is None:
        for statement in _trigger_ddl(table):
            connection.execute(text(statement))


class _Row:
    """One outbox row as the ORM adds it (mapped per table by :func:`mapped_row_class`)."""

    def __init__(self, id: str, type: str, envelope: str, created_at: datetime) -> None:
        self.id = id
        self.type = type
        self.envelope = envelope
        self.created_at = created_at


RowFactory = type[_Row]


def mapped_row_class(table: Table) -> RowFactory:
    """A new class mapped to ``table``, so ``session.add(row)`` inserts at flush.

    Its mapper's primary key is ``id`` (known before the insert), so the flush needs no
    RETURNING of ``seq``, and rows of one flush go in one batched INSERT.
    """
    row_class = type(f"OutboxRow_{table.name}", (_Row,), {})
    registry().map_imperatively(row_class, table, primary_key=[table.c.id])
    return row_class


def claim(connection: Connection, table: Table, limit: int, *, lock: bool) -> list[tuple[int, str]]:
    """The oldest live rows, locked (``FOR UPDATE SKIP LOCKED``) when ``lock``."""
    query = (
        select(table.c.seq, table.c.envelope)
        .where(table.c.dead_reason.is_(None))
        .order_by(table.c.seq)
        .limit(limit)
    )
    if lock:
        query = query.with_for_update(skip_locked=True)
    return [(int(seq), str(envelope)) for seq, envelope in connection.execute(query)]


def finish(
    connection: Connection,
    table: Table,
    published: Sequence[int],
    dead: Sequence[tuple[int, str, str]],
) -> None:
    """Delete the published rows, mark the dead ones (seq, reason, detail)."""
    if published:
        connection.execute(delete(table).where(table.c.seq.in_(published)))
    for seq, reason, detail in dead:
        connection.execute(
            update(table)
            .where(table.c.seq == seq)
            .values(dead_reason=reason, dead_detail=detail[:4000])
        )


@dataclass(frozen=True)
class Backlog:
    size: int
    oldest: datetime | None


def backlog(connection: Connection, table: Table) -> Backlog:
    """How many live rows wait, and when the oldest was emitted."""
    size, oldest = connection.execute(
        select(func.count(), func.min(table.c.created_at)).where(table.c.dead_reason.is_(None))
    ).one()
    if isinstance(oldest, datetime) and oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=UTC)  # SQLite keeps no zone; we store UTC
    return Backlog(int(size), oldest)


def dead_counts(connection: Connection, table: Table) -> dict[str, int]:
    """Dead-lettered rows by reason."""
    rows = connection.execute(
        select(table.c.dead_reason, func.count())
        .where(table.c.dead_reason.is_not(None))
        .group_by(table.c.dead_reason)
        .order_by(table.c.dead_reason)
    ).all()
    return {str(reason): int(count) for reason, count in rows}
