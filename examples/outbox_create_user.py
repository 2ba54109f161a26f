"""Litestar's create-user example without the dual write: user and event commit together.

Litestar's guide inserts a user, then emits `user_created`: a rollback after the emit still
sends the welcome mail, and a crash between the commit and the emit loses it. Here the
event is a row of the outbox table, written in the user's transaction, and the relay
publishes committed rows only. Run it with ``python examples/outbox_create_user.py``
(SQLite in a temporary directory; with PostgreSQL, several relays may run at once).
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import anyio
from sqlalchemy import Engine, String, create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from examples.events import UserCreated
from typed_events import EventBus, listener
from typed_events.sqlalchemy import Outbox


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)


mails: list[str] = []
mailed = anyio.Event()


@listener(UserCreated)
async def send_welcome_email_handler(event: UserCreated) -> None:
    mails.append(f"welcome mail to {event.email}")
    mailed.set()


bus = EventBus([send_welcome_email_handler])


def create_user(session: Session, outbox: Outbox, email: str) -> None:
    """The request handler's work: one transaction for the user and its event."""
    with session.begin():
        session.add(User(email=email))
        outbox.emit(session, UserCreated, email=email)  # validated now, sent after commit


async def main(directory: Path) -> None:
    engine = create_engine(f"sqlite:///{directory / 'app.db'}")
    Base.metadata.create_all(engine)
    outbox = Outbox(bus, engine, metadata=Base.metadata, poll_interval=0.1)
    async with bus:
        async with outbox:
            sign_up_twice(engine, outbox)
            await mailed.wait()  # the relay publishes within poll_interval at most
        # Leaving the outbox stopped the relay after its round: the row is deleted.
        status = await outbox.status()
    print(*mails, sep="\n")
    print(f"outbox backlog: {status.backlog}")
    engine.dispose()


def sign_up_twice(engine: Engine, outbox: Outbox) -> None:
    with Session(engine) as session:
        create_user(session, outbox, "ada@example.com")
    with Session(engine) as session:
        try:
            create_user(session, outbox, "ada@example.com")  # taken: rolls back
        except IntegrityError:
            print("second sign-up refused: no user, and no mail")


if __name__ == "__main__":
    with tempfile.TemporaryDirectory() as tmp:
        anyio.run(main, Path(tmp))
