"""The three examples of Litestar's events doc, as one Litestar app with typed events.

Run it with ``litestar --app examples.litestar_app:app run`` (or any ASGI server), and
check its listeners with ``typed-events check examples.litestar_app:app``.

1. ``POST /users`` creates a user and emits ``user_created``; the welcome listener runs.
2. ``send_account_email`` listens to two events, ``user_created`` and ``password_changed``.
3. ``DELETE /users/{email}`` emits ``user_deleted``; two listeners run, one of them sync.

What changed from Litestar's events guide: the payloads are models, so the listeners
need no ``**kwargs`` and a wrong one stops ``Litestar(...)`` from being built.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar import Litestar, Request, delete, post
from litestar.di import NamedDependency
from litestar.params import FromPath, FromQuery, JSONBody

from examples.events import PasswordChanged, UserCreated, UserDeleted
from typed_events import EventBus, listener
from typed_events.contrib.litestar import TypedEventsPlugin

# -- stand-ins for the guide's database, mailer and support client (in memory) -----


@dataclass
class CreateUserDTO:
    first_name: str
    last_name: str
    email: str


@dataclass
class ChangePasswordDTO:
    password: str


users: dict[str, CreateUserDTO] = {}
outbox: list[tuple[str, str]] = []  # (recipient, message) of every mail sent
support_tickets: list[str] = []  # reasons sent to customer support


async def send_mail(recipient: str, message: str) -> None:
    outbox.append((recipient, message))


# -- listeners ----------------------------------------------------------------------


@listener(UserCreated)
async def send_welcome_email_handler(event: UserCreated) -> None:
    """Example 1: one listener, given the validated event."""
    await send_mail(event.email, f"Welcome, {event.email}!")


@listener(UserCreated, PasswordChanged)
async def send_account_email(email: str, message: str = "Your account is ready.") -> None:
    """Example 2: one listener on two events, given the fields as keyword arguments.

    ``UserCreated`` has no ``message``, so the parameter needs a default; without one,
    building the app reports it (the guide's version fails at run time instead).
    """
    await send_mail(email, message)


@listener(UserDeleted)
async def send_farewell_email_handler(event: UserDeleted) -> None:
    """Example 3, first listener of ``user_deleted``."""
    await send_mail(event.email, "Goodbye!")


@listener("user_deleted")
def notify_customer_support(reason: str, **kwargs: Any) -> None:
    """Example 3, second listener: sync (runs in a worker thread), Litestar's string id."""
    support_tickets.append(reason)


# -- route handlers -----------------------------------------------------------------


@post("/users")
async def create_user_handler(
    data: JSONBody[CreateUserDTO], request: Request[Any, Any, Any]
) -> None:
    users[data.email] = data
    # Litestar's form: the payload is validated against UserCreated here.
    request.app.emit("user_created", email=data.email)


@post("/users/{email:str}/password")
async def change_password_handler(
    email: FromPath[str], data: JSONBody[ChangePasswordDTO], bus: NamedDependency[EventBus]
) -> None:
    # The bus is a dependency the plugin provides; the typed form is checked by mypy.
    bus.emit(PasswordChanged(email=email, message="Your password was changed."))


@delete("/users/{email:str}")
async def delete_user_handler(
    email: FromPath[str], request: Request[Any, Any, Any], reason: FromQuery[str] = "deleted"
) -> None:
    users.pop(email, None)
    request.app.emit("user_deleted", email=email, reason=reason)


bus = EventBus(
    listeners=[
        send_welcome_email_handler,
        send_account_email,
        send_farewell_email_handler,
        notify_customer_support,
    ],
    events=[UserCreated, PasswordChanged, UserDeleted],
)

app = Litestar(
    route_handlers=[create_user_handler, change_password_handler, delete_user_handler],
    plugins=[TypedEventsPlugin(bus)],
)
