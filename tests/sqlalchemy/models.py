"""The events and the table the SQLAlchemy tests share: the seed's create-user example."""

from __future__ import annotations

from sqlalchemy import String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from typed_events import Event


class Base(DeclarativeBase):
    pass


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(200), unique=True)


class UserCreated(Event, event_id="sa_user_created"):
    email: str


class Numbered(Event, event_id="sa_numbered"):
    n: int
