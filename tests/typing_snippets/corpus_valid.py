"""Valid code only: every checker configuration must report nothing here.

Each usage a user writes that a checker once rejected (or might) is one line below:
events with every kind of field, emits in all three forms through all three methods,
listeners of every shape, and unannotated lists of listeners and of events.
"""

import datetime
import functools
import uuid
from typing import Any, TypedDict

from events_app import (
    Address,
    Colour,
    Invited,
    OrderPlaced,
    PasswordChanged,
    ProfileUpdated,
    UrgentPasswordChanged,
    UserCreated,
)

from typed_events import Event, EventBus, listener

USER_ID = uuid.UUID("12345678-1234-5678-1234-567812345678")
NOW = datetime.datetime(2026, 1, 1, tzinfo=datetime.UTC)


class UserFields(TypedDict):
    email: str


# -- listeners of every shape -----------------------------------------------------------


@listener(UserCreated)
async def send_welcome(event: UserCreated) -> None: ...


@listener(OrderPlaced)
async def reserve_stock(event: OrderPlaced) -> None: ...


@listener(UserCreated)
def audit_sync(event: UserCreated) -> None: ...


@listener(UserCreated)
async def audit_any(event: Event) -> None: ...


@listener(UserCreated, OrderPlaced)
async def either(event: UserCreated | OrderPlaced) -> None: ...


@listener(UserCreated)
@listener(OrderPlaced)
async def stacked(event: UserCreated | OrderPlaced) -> None: ...


@listener(UserCreated, PasswordChanged)
async def send_email(email: str, message: str = "Welcome", **kwargs: Any) -> None: ...


@listener(UserCreated)
async def by_field(email: str) -> None: ...


@listener(UserCreated)
async def by_kwargs(**fields: Any) -> None: ...


@listener(UserCreated)
async def keyword_only(*, email: str) -> None: ...


@listener(UserCreated)
async def wider(email: object, extra: int = 0) -> None: ...


@listener(ProfileUpdated)
async def profile(
    user_id: uuid.UUID,
    at: datetime.datetime,
    nickname: str | None,
    colour: Colour,
    plan: str,
    address: Address | None,
    tags: list[str],
    scores: dict[str, list[int]],
    score: float,
    active: bool,
) -> None: ...


@listener(Invited)
async def invited(email: str, count: float) -> None: ...


@listener(UrgentPasswordChanged)
async def urgent(event: PasswordChanged) -> None: ...


@listener(UserCreated)
async def with_default(event: UserCreated, retries: int = 3) -> None: ...


class Service:
    @listener(UserCreated)
    async def on_user(self, event: UserCreated) -> None: ...

    @listener(UserCreated)
    async def on_email(self, email: str) -> None: ...


async def _prefixed(prefix: str, email: str) -> None: ...


partial_listener = listener(UserCreated)(functools.partial(_prefixed, "hi"))


@listener("user_created")
async def by_id(email: str, **kwargs: Any) -> None: ...


# -- buses from unannotated lists -----------------------------------------------------------

listeners = [send_welcome, reserve_stock]
same_event = [send_welcome, audit_sync]
every_shape = [send_welcome, by_field, stacked, send_email, Service().on_user, partial_listener]
EVENTS = [UserCreated, OrderPlaced]
MORE_EVENTS = [ProfileUpdated, Invited, UrgentPasswordChanged]

buses = [
    EventBus(listeners=listeners),
    EventBus(listeners=same_event),
    EventBus(listeners=every_shape),
    EventBus(events=EVENTS),
    EventBus(listeners, MORE_EVENTS),
    EventBus(listeners=(send_welcome, reserve_stock), events=(UserCreated,)),
    EventBus(listeners=[audit_any, either, by_kwargs, keyword_only, wider, by_id]),
    EventBus(listeners=[profile, invited, urgent, with_default, Service().on_email]),
]


# -- emits ----------------------------------------------------------------------------------


async def emits(bus: EventBus, fields: UserFields, values: tuple[str, str]) -> None:
    bus.emit(UserCreated(email="a@example.com"))
    bus.emit(UserCreated, email="a@example.com")
    bus.emit("user_created", email="a@example.com")
    bus.emit(UserCreated, **fields)
    bus.emit("user_created", **fields)
    bus.emit("password_changed", *values)
    bus.emit("password_changed", "a@example.com")
    bus.emit("password_changed", "a@example.com", message="hi")
    bus.emit(PasswordChanged, email="a@example.com", message="hi")
    bus.emit("order_placed", order_id=7)
    bus.emit("order_placed", 7)
    bus.emit(OrderPlaced, order_id=7)
    bus.emit(ProfileUpdated, user_id=USER_ID, at=NOW)
    bus.emit("profile_updated", user_id=USER_ID, at=NOW, nickname=None, colour=Colour.BLUE)
    bus.emit("profile_updated", user_id=USER_ID, at=NOW, plan="pro", tags=["a"])
    bus.emit("profile_updated", user_id=USER_ID, at=NOW, address=Address(street="s", city="c"))
    bus.emit("profile_updated", user_id=USER_ID, at=NOW, scores={"a": [1]}, score=1)
    bus.emit("invited", email="a@example.com")
    bus.emit("invited", "a@example.com", 2)
    bus.emit("urgent_password_changed", email="a@example.com", level=1)
    bus.emit("urgent_password_changed", "a@example.com", "hi", 1)
    bus.emit(UrgentPasswordChanged, email="a@example.com", level=1)
    await bus.emit_async(UserCreated(email="a@example.com"))
    await bus.emit_async(UserCreated, email="a@example.com")
    await bus.emit_async("user_created", email="a@example.com")
    await bus.emit_async("invited", email="a@example.com", count=3)
    result = await bus.emit_and_wait(UserCreated(email="a@example.com"))
    result = await bus.emit_and_wait(OrderPlaced, order_id=1)
    result = await bus.emit_and_wait("order_placed", order_id=1)
    print(result.outcomes)


async def calls() -> None:
    await send_welcome(UserCreated(email="a@example.com"))
    audit_sync(UserCreated(email="a@example.com"))
    await by_field(email="a@example.com")
    await Service().on_user(UserCreated(email="a@example.com"))
