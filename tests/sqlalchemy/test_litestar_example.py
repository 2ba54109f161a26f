"""examples/litestar_outbox.py: Advanced Alchemy's request session carries the outbox row."""

from __future__ import annotations

from pathlib import Path

from litestar.testing import TestClient
from sqlalchemy import create_engine, select

from examples import litestar_outbox
from tests.redis.helpers import wait_for
from typed_events.sqlalchemy import Outbox


def test_a_sign_up_sends_one_mail_and_a_refused_one_none(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'app.db'}"
    app = litestar_outbox.create_app(url)
    outbox: Outbox = app.state.outbox
    litestar_outbox.mails.clear()
    with TestClient(app) as client:
        created = client.post("/users", json={"email": "ada@example.com"})
        taken = client.post("/users", json={"email": "ada@example.com"})
        wait_for(lambda: outbox.published >= 1, "the relay to publish the sign-up")
    assert (created.status_code, taken.status_code) == (201, 409)
    assert "ada@example.com is taken" in taken.text
    assert litestar_outbox.mails == ["welcome mail to ada@example.com"]
    engine = create_engine(url)
    with engine.connect() as connection:
        assert connection.execute(select(outbox.table.c.id)).all() == []  # relayed, deleted
        users = connection.execute(select(litestar_outbox.UserModel.email)).scalars().all()
    assert users == ["ada@example.com"]
    engine.dispose()


def test_the_example_module_builds_its_app_on_sqlite() -> None:
    assert isinstance(litestar_outbox.app.state.outbox, Outbox)
    assert litestar_outbox.app.state.outbox.table.name == "typed_events_outbox"
