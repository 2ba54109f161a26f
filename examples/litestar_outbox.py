"""Litestar's create-user endpoint with Advanced Alchemy, through the outbox.

Advanced Alchemy's plugin gives each request a session (``db_session``) and commits it
when the response is a success (``before_send_handler="autocommit"``), or rolls it back.
``outbox.emit`` puts ``user_created`` in that same transaction, so the welcome mail goes
exactly when the user exists, even if the process dies right after the commit. The
relay runs in the app's lifespan, after the typed bus (which the plugin starts first).

Run it with ``litestar --app examples.litestar_outbox:app run``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from advanced_alchemy.extensions.litestar import SQLAlchemyPlugin, SQLAlchemySyncConfig
from litestar import Litestar, post
from litestar.di import NamedDependency
from litestar.exceptions import ClientException
from litestar.params import JSONBody
from sqlalchemy import String, create_engine
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column

from examples.events import UserCreated
from typed_events import EventBus, listener
from typed_events.contrib.litestar import TypedEventsPlugin
from typed_events.sqlalchemy import Outbox


class Base(DeclarativeBase):
    pass


class UserModel(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)


@dataclass
class CreateUserDTO:
    email: str


mails: list[str] = []  # stands in for the mail server


@listener(UserCreated)
async def send_welcome_email_handler(event: UserCreated) -> None:
    mails.append(f"welcome mail to {event.email}")


bus = EventBus([send_welcome_email_handler])


def create_app(database_url: str) -> Litestar:
    """The app on ``database_url`` (SQLite or PostgreSQL), with its own engine and outbox."""
    engine = create_engine(database_url)
    # In the models' metadata: Advanced Alchemy's create_all (and Alembic) see the table.
    outbox = Outbox(bus, engine, metadata=Base.metadata, poll_interval=0.2)

    @post("/users", sync_to_thread=True)
    def create_user(
        data: JSONBody[CreateUserDTO], db_session: NamedDependency[Session]
    ) -> dict[str, str]:
        db_session.add(UserModel(email=data.email))
        outbox.emit(db_session, UserCreated, email=data.email)  # committed with the user
        try:
            db_session.flush()
        except IntegrityError:
            raise ClientException(f"{data.email} is taken", status_code=409) from None
        return {"email": data.email}

    @asynccontextmanager
    async def relay(app: Litestar) -> AsyncIterator[None]:
        async with outbox:
            yield

    config = SQLAlchemySyncConfig(
        engine_instance=engine,
        create_all=True,
        metadata=Base.metadata,
        before_send_handler="autocommit",
    )
    app = Litestar(
        [create_user],
        plugins=[TypedEventsPlugin(bus), SQLAlchemyPlugin(config=config)],
        lifespan=[relay],
    )
    app.state.outbox = outbox
    return app


app = create_app("sqlite:///outbox_example.db")
