"""examples/litestar_alchemy_app.py: insert, commit, then emit (asyncio: aiosqlite)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from sqlalchemy import create_engine, text

from examples import litestar_alchemy_app as example

NEW_USER = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


@pytest.fixture
def database(tmp_path: Path) -> Iterator[Path]:
    example.outbox.clear()
    yield tmp_path / "users.sqlite"
    example.outbox.clear()


def rows(path: Path) -> list[tuple[str, str]]:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        found = connection.execute(text("SELECT email, last_name FROM user_account")).all()
    engine.dispose()
    return [(str(email), str(last)) for email, last in found]


def test_the_user_is_committed_then_the_welcome_mail_goes(database: Path) -> None:
    app = example.create_app(f"sqlite+aiosqlite:///{database}")
    with TestClient(app, backend="asyncio") as client:
        assert client.post("/users", json=NEW_USER).status_code == 201
    assert rows(database) == [("ada@example.com", "Lovelace")]
    assert example.outbox == ["welcome mail to ada@example.com"]


def test_an_insert_that_fails_rolls_back_and_sends_nothing(database: Path) -> None:
    app = example.create_app(f"sqlite+aiosqlite:///{database}")
    with TestClient(app, backend="asyncio") as client:
        assert client.post("/users", json=NEW_USER).status_code == 201
        again = client.post("/users", json={**NEW_USER, "last_name": "Byron"})
    assert again.status_code == 409  # the email is taken: Advanced Alchemy answers 409
    assert rows(database) == [("ada@example.com", "Lovelace")]
    assert example.outbox == ["welcome mail to ada@example.com"]  # one mail, not two
