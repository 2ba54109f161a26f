"""Litestar's ``create_user_handler`` (its events guide) as a real app: Advanced Alchemy on SQLite.

Litestar's guide inserts a user, then emits ``user_created``. Here the insert commits first and
the event is emitted after the commit, through the bus dependency: a failed insert (an
email already taken) rolls back and sends no welcome mail. (``typed_events.sqlalchemy``'s
``emit_after_commit`` will do the same from inside the transaction.)

Run it with ``litestar --app examples.litestar_alchemy_app:app run``. SQLite through
aiosqlite runs on asyncio.
"""

from __future__ import annotations

from dataclasses import dataclass

from advanced_alchemy.extensions.litestar import (
    AsyncSessionConfig,
    SQLAlchemyAsyncConfig,
    SQLAlchemyPlugin,
    base,
    repository,
)
from litestar import Litestar, post
from litestar.di import NamedDependency
from litestar.params import JSONBody
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from examples.events import UserCreated
from typed_events import EventBus, listener
from typed_events.contrib.litestar import TypedEventsPlugin

outbox: list[str] = []  # stands in for the mail server


class User(base.BigIntBase):
    """A user row: the guide's ``user_repository.insert(data)`` made real."""

    __tablename__ = "user_account"
    first_name: Mapped[str]
    last_name: Mapped[str]
    email: Mapped[str] = mapped_column(unique=True)


class UserRepository(repository.SQLAlchemyAsyncRepository[User]):
    """Advanced Alchemy's CRUD for :class:`User`."""

    model_type = User


@dataclass
class CreateUserDTO:
    first_name: str
    last_name: str
    email: str


@listener(UserCreated)
async def send_welcome_email_handler(event: UserCreated) -> None:
    outbox.append(f"welcome mail to {event.email}")


@post("/users")
async def create_user_handler(
    data: JSONBody[CreateUserDTO],
    db_session: NamedDependency[AsyncSession],
    bus: NamedDependency[EventBus],
) -> None:
    async with db_session.begin():  # commits on leaving, or rolls back and raises
        await UserRepository(session=db_session).add(
            User(first_name=data.first_name, last_name=data.last_name, email=data.email)
        )
    bus.emit(UserCreated(email=data.email))  # only once the user is in the database


def create_app(database_url: str = "sqlite+aiosqlite:///users.sqlite") -> Litestar:
    """The app on the database at ``database_url`` (its table is created at startup)."""
    database = SQLAlchemyAsyncConfig(
        connection_string=database_url,
        session_config=AsyncSessionConfig(expire_on_commit=False),
        create_all=True,
        metadata=User.metadata,  # its own tables only, whatever else the process defined
    )
    bus = EventBus(listeners=[send_welcome_email_handler], events=[UserCreated])
    return Litestar(
        route_handlers=[create_user_handler],
        plugins=[SQLAlchemyPlugin(config=database), TypedEventsPlugin(bus)],
    )


app = create_app()
