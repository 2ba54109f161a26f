"""The FastAPI recipe of docs/fastapi.md: the bus in the lifespan, handed out by a dependency."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from typed_events import Event, EventBus, listener


class UserRegistered(Event, event_id="fastapi_user_registered"):
    email: str


class PasswordReset(Event, event_id="fastapi_password_reset"):
    email: str
    attempts: int


outbox: list[str] = []


@listener(UserRegistered)
async def send_welcome(event: UserRegistered) -> None:
    outbox.append(f"welcome {event.email}")


@listener(PasswordReset)
def log_reset(email: str, attempts: int) -> None:  # sync: runs in a worker thread
    outbox.append(f"reset {email} after {attempts}")


def get_bus(request: Request) -> EventBus:
    """The dependency: the bus the lifespan started, from the lifespan state."""
    bus: EventBus = request.state.bus
    return bus


Bus = Annotated[EventBus, Depends(get_bus)]
router = APIRouter()


class NewUser(BaseModel):
    email: str


@router.post("/users", status_code=201)
async def register(user: NewUser, bus: Bus) -> None:
    bus.emit(UserRegistered(email=user.email))


@router.post("/users/{email}/reset", status_code=202)
def reset_password(email: str, payload: dict[str, Any], bus: Bus) -> None:
    # A sync endpoint runs in a worker thread; emit is safe there too. The values come
    # from the request, so a payload that does not fit the event is the client's 422.
    try:
        bus.emit("fastapi_password_reset", email=email, **payload)
    except ValidationError as exc:
        raise RequestValidationError(exc.errors(include_url=False)) from exc


@router.post("/broken", status_code=201)
async def broken(bus: Bus) -> None:
    bus.emit("fastapi_user_registered", email=None)  # a bug: the server's 500


def create_app(bus: EventBus) -> FastAPI:
    """An app whose lifespan runs ``bus``: started before the first request, drained after."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncGenerator[dict[str, EventBus], None]:
        async with bus:
            yield {"bus": bus}

    app = FastAPI(lifespan=lifespan)
    app.include_router(router)
    return app
