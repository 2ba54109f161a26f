"""The FastAPI/Starlette recipe (lifespan + dependency) with Starlette's test client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from typed_events import EventBus
from typed_events.testing import capture_events

from . import recipe


@pytest.fixture
def backend(anyio_backend: str) -> Literal["asyncio", "trio"]:
    """Starlette's TestClient runs the app on this anyio backend (asyncio, then trio)."""
    return "trio" if anyio_backend == "trio" else "asyncio"


@pytest.fixture
def bus() -> Iterator[EventBus]:
    recipe.outbox.clear()
    yield EventBus([recipe.send_welcome, recipe.log_reset])
    recipe.outbox.clear()


def test_the_endpoint_emits_and_the_listener_runs_by_shutdown(
    bus: EventBus, backend: Literal["asyncio", "trio"]
) -> None:
    app = recipe.create_app(bus)
    with capture_events(bus) as captured, TestClient(app, backend=backend) as client:
        assert client.post("/users", json={"email": "ada@example.com"}).status_code == 201
    captured.assert_emitted(recipe.UserRegistered, email="ada@example.com")
    assert recipe.outbox == ["welcome ada@example.com"]
    assert not bus.running  # the lifespan drained and stopped it


def test_a_sync_endpoint_emits_from_its_worker_thread(
    bus: EventBus, backend: Literal["asyncio", "trio"]
) -> None:
    with TestClient(recipe.create_app(bus), backend=backend) as client:
        response = client.post("/users/ada@example.com/reset", json={"attempts": "3"})
        assert response.status_code == 202
    assert recipe.outbox == ["reset ada@example.com after 3"]  # "3" validated into 3


def test_a_request_payload_that_does_not_fit_is_a_422(
    bus: EventBus, backend: Literal["asyncio", "trio"]
) -> None:
    with TestClient(recipe.create_app(bus), backend=backend) as client:
        response = client.post("/users/ada@example.com/reset", json={"attempts": "many"})
    assert response.status_code == 422
    assert [(e["loc"], e["type"]) for e in response.json()["detail"]] == [
        (["attempts"], "int_parsing")
    ]
    assert recipe.outbox == []


def test_an_emit_bug_in_the_handler_is_a_server_error(
    bus: EventBus, backend: Literal["asyncio", "trio"]
) -> None:
    with (
        TestClient(recipe.create_app(bus), backend=backend) as client,
        pytest.raises(ValidationError, match="UserRegistered"),
    ):
        client.post("/broken")
    with TestClient(
        recipe.create_app(bus), backend=backend, raise_server_exceptions=False
    ) as client:
        assert client.post("/broken").status_code == 500
