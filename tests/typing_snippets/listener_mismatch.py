"""Item 4: listeners whose signature does not fit their events."""

import functools
from typing import Any

from events_app import OrderPlaced, PasswordChanged, UserCreated

from typed_events import Event, EventBus, listener


@listener(UserCreated)
async def welcome(event: UserCreated) -> None: ...


@listener(UserCreated)
async def audit(event: Event) -> None: ...


@listener(UserCreated, OrderPlaced)
async def either(event: UserCreated | OrderPlaced) -> None: ...


@listener(UserCreated, PasswordChanged)
async def send_email(email: str, message: str = "Welcome", **kwargs: Any) -> None: ...


class Service:
    @listener(UserCreated)
    async def on_user(self, event: UserCreated) -> None: ...


async def _prefixed(prefix: str, email: str) -> None: ...


good = EventBus(
    listeners=[
        welcome,
        audit,
        either,
        send_email,
        Service().on_user,
        listener(UserCreated)(functools.partial(_prefixed, "hi")),
    ]
)


@listener(UserCreated)
async def wrong_event(event: OrderPlaced) -> None: ...


@listener(UserCreated, OrderPlaced)
async def too_narrow(event: UserCreated) -> None: ...


@listener(OrderPlaced)
def sync_wrong_event(event: UserCreated) -> None: ...


class WrongService:
    @listener(UserCreated)
    async def on_user(self, event: OrderPlaced) -> None: ...


@listener(UserCreated)
async def wrong_field(emial: str) -> None: ...


@listener(UserCreated)
async def wrong_type(email: int) -> None: ...


EventBus(listeners=[wrong_event])  # E[mypy,pydantic,plugin]: List item 0 has incompatible type "ListenerEventMismatch[OrderPlaced]"  # E[pyright]: Argument of type "list[ListenerEventMismatch[OrderPlaced]]" cannot be assigned to parameter "listeners"
EventBus(listeners=[too_narrow])  # E[mypy,pydantic,plugin]: List item 0 has incompatible type "ListenerEventMismatch[UserCreated]"  # E[pyright]: Argument of type "list[ListenerEventMismatch[UserCreated]]" cannot be assigned to parameter "listeners"
EventBus(listeners=[sync_wrong_event])  # E[mypy,pydantic,plugin]: List item 0 has incompatible type "ListenerEventMismatch[UserCreated]"  # E[pyright]: Argument of type "list[ListenerEventMismatch[UserCreated]]" cannot be assigned to parameter "listeners"
EventBus(listeners=[WrongService().on_user])  # not static: the first parameter is self (runtime check only)
EventBus(listeners=[wrong_field])  # not static: kwargs style (runtime check only)
EventBus(listeners=[wrong_type])  # not static: kwargs style (runtime check only)


async def call_directly() -> None:
    await welcome(UserCreated(email="a@example.com"))
    await wrong_event(OrderPlaced(order_id=1))  # E[mypy,pydantic,plugin]: "ListenerEventMismatch[OrderPlaced]" not callable  # E[pyright]: Object of type "ListenerEventMismatch[OrderPlaced]" is not callable
