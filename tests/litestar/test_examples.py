"""The seed doc's examples as a real Litestar app (examples/litestar_app.py), asyncio and trio."""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator
from pathlib import Path

import pytest
from litestar.testing import TestClient
from litestar.types import AnyIOBackend

from examples import litestar_app as example
from typed_events import ListenerSignatureError

from . import seed_broken
from .problems import summary

DOCS = Path(__file__).resolve().parents[2] / "docs" / "litestar.md"


@pytest.fixture(autouse=True)
def _empty_stores() -> Iterator[None]:
    stores = (example.users, example.outbox, example.support_tickets)
    for store in stores:
        store.clear()
    yield
    for store in stores:
        store.clear()


NEW_USER = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com"}


def test_post_users_creates_the_user_and_the_welcome_listener_runs(backend: AnyIOBackend) -> None:
    with TestClient(example.app, backend=backend) as client:
        response = client.post("/users", json=NEW_USER)
        assert response.status_code == 201
    # Leaving the client ran the app's shutdown, which drains the bus.
    assert example.users["ada@example.com"].last_name == "Lovelace"
    assert ("ada@example.com", "Welcome, ada@example.com!") in example.outbox


def test_one_listener_on_two_events_runs_for_each(backend: AnyIOBackend) -> None:
    with TestClient(example.app, backend=backend) as client:
        assert client.post("/users", json=NEW_USER).status_code == 201
        response = client.post("/users/ada@example.com/password", json={"password": "s3cret"})
        assert response.status_code == 201
    account_mails = [mail for mail in example.outbox if "Welcome" not in mail[1]]
    assert sorted(account_mails) == [
        ("ada@example.com", "Your account is ready."),  # user_created: the default
        ("ada@example.com", "Your password was changed."),  # password_changed
    ]


def test_two_listeners_on_user_deleted_both_run(backend: AnyIOBackend) -> None:
    with TestClient(example.app, backend=backend) as client:
        assert client.post("/users", json=NEW_USER).status_code == 201
        response = client.delete("/users/ada@example.com", params={"reason": "asked to"})
        assert response.status_code == 204
    assert "ada@example.com" not in example.users
    assert ("ada@example.com", "Goodbye!") in example.outbox
    assert example.support_tickets == ["asked to"]


def test_the_seed_broken_example_fails_when_the_app_is_built() -> None:
    with pytest.raises(ListenerSignatureError) as caught:
        seed_broken.build_app()
    assert summary(caught.value) == [
        ("send_farewell_email_handler", "user_deleted", "reason"),
        ("notify_customer_support", "user_deleted", "email"),
    ]
    message = str(caught.value)
    assert message.startswith("2 listener signature problems:")
    assert "seed_broken.py:" in message  # each line points at the listener's source


def test_docs_show_the_real_message_of_the_broken_example() -> None:
    with pytest.raises(ListenerSignatureError) as caught:
        seed_broken.build_app()
    shown = _output_block_with(DOCS.read_text(), "listener signature problems")
    assert _without_locations(shown) == _without_locations(str(caught.value))


def test_without_the_plugin_the_seed_example_fails_only_at_run_time(
    caplog: pytest.LogCaptureFixture,
) -> None:
    # The behaviour the plugin removes: the app builds, the request succeeds, and the
    # listeners' TypeError is only logged from a background task.
    app = seed_broken.build_plain_app()
    with caplog.at_level(logging.ERROR), TestClient(app) as client:
        response = client.post("/users/delete", json={"email": "ada@example.com"})
        assert response.status_code == 201
    failures = [r for r in caplog.records if "Error while executing listener" in r.getMessage()]
    assert len(failures) == 2
    assert all(isinstance(r.exc_info and r.exc_info[1], TypeError) for r in failures)


def _output_block_with(markdown: str, needle: str) -> str:
    blocks = re.findall(r"```text\n(.*?)```", markdown, flags=re.DOTALL)
    matching = [block for block in blocks if needle in block]
    assert matching, f"no ```text block containing {needle!r} in {DOCS}"
    return str(matching[0]).strip()


def _without_locations(message: str) -> str:
    # Module path and file:line differ between the docs run and this test module.
    return re.sub(r"[\w.<>]+\.(\w+) \([^()]*:\d+\)", r"\1", message).strip()
