"""The FastAPI/Starlette recipe (lifespan + dependency) with Starlette's test client."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Literal

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from typed_events import EventBus
from typed_events.testing import capture_events

from ..otel.sdk import Telemetry, request_spans
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


@pytest.mark.parametrize("path", ["/users", "/users/ada@example.com/reset"])
def test_one_trace_from_the_request_to_the_listener(
    path: str, backend: Literal["asyncio", "trio"], telemetry: Telemetry
) -> None:
    """An async endpoint, and a sync one emitting from its worker thread."""
    bus = EventBus([recipe.send_welcome, recipe.log_reset], middleware=[telemetry.middleware])
    tracer = telemetry.tracer_provider.get_tracer("asgi")
    app = request_spans(recipe.create_app(bus), tracer)
    caller_trace = "4bf92f3577b34da6a3ce929d0e0e4736"
    with TestClient(app, backend=backend) as client:  # type: ignore[arg-type]
        payload = {"email": "ada@example.com"} if path == "/users" else {"attempts": 2}
        response = client.post(
            path, json=payload, headers={"traceparent": f"00-{caller_trace}-00f067aa0ba902b7-01"}
        )
        assert response.status_code in (201, 202)
    [request] = [s for s in telemetry.spans() if s.name == f"POST {path}"]
    [create] = [s for s in telemetry.spans() if s.name.startswith("create ")]
    [process] = [s for s in telemetry.spans() if s.name.startswith("process ")]
    assert {s.context.trace_id for s in (request, create, process) if s.context is not None} == {
        int(caller_trace, 16)
    }
    assert create.parent is not None
    assert request.context is not None
    assert create.parent.span_id == request.context.span_id
    assert process.parent is not None
    assert create.context is not None
    assert process.parent.span_id == create.context.span_id
