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


@listener(UserCreated)  # E[plugin]: listener_mismatch.wrong_event (listener_mismatch.py:47), event "user_created": parameter "event" is annotated OrderPlaced, which does not accept UserCreated. Fix: annotate it `event: UserCreated` (or a union that includes it), or unsubscribe from UserCreated
async def wrong_event(event: OrderPlaced) -> None: ...


@listener(UserCreated, OrderPlaced)  # E[plugin]: listener_mismatch.too_narrow (listener_mismatch.py:51), event "order_placed": parameter "event" is annotated UserCreated, which does not accept OrderPlaced
async def too_narrow(event: UserCreated) -> None: ...


@listener(OrderPlaced)  # E[plugin]: event "order_placed": parameter "event" is annotated UserCreated, which does not accept OrderPlaced
def sync_wrong_event(event: UserCreated) -> None: ...


class WrongService:
    @listener(UserCreated)  # E[plugin]: listener_mismatch.WrongService.on_user (listener_mismatch.py:60), event "user_created": parameter "event" is annotated OrderPlaced, which does not accept UserCreated
    async def on_user(self, event: OrderPlaced) -> None: ...


@listener(UserCreated)  # E[plugin]: event "user_created" field "emial": parameter "emial" is required, but UserCreated has no such field (fields: email). Fix: give "emial" a default, remove it, or add the field to UserCreated  # E[plugin]: event "user_created" field "email": UserCreated sends this field, and the listener has no parameter "email" and no **kwargs. Fix: add a parameter `email: str`, or `**kwargs: Any`
async def wrong_field(emial: str) -> None: ...


@listener(UserCreated)  # E[plugin]: event "user_created" field "email": the field is str, but parameter "email" is annotated int, which cannot accept it. Fix: annotate parameter "email" as str (or wider), or change the field's type
async def wrong_type(email: int) -> None: ...


@listener(PasswordChanged)  # E[plugin]: event "password_changed" field "message": PasswordChanged sends this field, and the listener has no parameter "message" and no **kwargs
async def no_kwargs(email: str) -> None: ...


@listener(UserCreated)  # E[plugin]: listener_mismatch.optional_event (listener_mismatch.py:76), event "user_created": parameter "event" is annotated UserCreated | None, but an event is never None, so the listener is not recognized as taking the event. Fix: annotate it `event: UserCreated`
async def optional_event(event: UserCreated | None) -> None: ...


@listener(UserCreated)  # E[plugin]: event "user_created": parameter "other" is required, but an event-style listener is called with the event alone (as "event"). Fix: give "other" a default, or remove it
async def extra_required(event: UserCreated, other: int) -> None: ...


@listener(UserCreated)  # E[plugin]: field "email": the field is str, but **fields is annotated int, which cannot accept it
async def wrong_kwargs_type(**fields: int) -> None: ...


@listener(UserCreated)
@listener(OrderPlaced)  # E[plugin]: listener_mismatch.stacked_too_narrow (listener_mismatch.py:88), event "order_placed": parameter "event" is annotated UserCreated, which does not accept OrderPlaced
async def stacked_too_narrow(event: UserCreated) -> None: ...


class KwargsService:
    @listener(UserCreated)  # E[plugin]: listener_mismatch.KwargsService.on_user (listener_mismatch.py:94), event "user_created" field "emial": parameter "emial" is required
    async def on_user(self, email: str, emial: str) -> None: ...


wrong_partial = listener(OrderPlaced)(functools.partial(_prefixed, "hi"))  # E[plugin]: partial(listener_mismatch._prefixed) (listener_mismatch.py:32), event "order_placed" field "email": parameter "email" is required, but OrderPlaced has no such field (fields: order_id)  # E[plugin]: field "order_id": OrderPlaced sends this field, and the listener has no parameter "order_id" and no **kwargs


EventBus(listeners=[wrong_event])  # E[mypy,pydantic,plugin]: Argument "listeners" to "EventBus" has incompatible type "list[ListenerEventMismatch[OrderPlaced]]"
EventBus(listeners=[too_narrow])  # E[mypy,pydantic,plugin]: Argument "listeners" to "EventBus" has incompatible type "list[ListenerEventMismatch[UserCreated]]"
mismatched = [sync_wrong_event]
EventBus(listeners=mismatched)  # E[mypy,pydantic,plugin]: Argument "listeners" to "EventBus" has incompatible type "list[ListenerEventMismatch[UserCreated]]"  # E[pyright]: Argument of type "list[ListenerEventMismatch[UserCreated]]" cannot be assigned to parameter "listeners"
EventBus(listeners=[WrongService().on_user])  # the plugin reports it on the decorator
EventBus(listeners=[wrong_field, wrong_type, no_kwargs, optional_event, extra_required])


async def call_directly() -> None:
    await welcome(UserCreated(email="a@example.com"))
    await wrong_event(OrderPlaced(order_id=1))  # E[mypy,pydantic,plugin]: "ListenerEventMismatch[OrderPlaced]" not callable  # E[pyright]: Object of type "ListenerEventMismatch[OrderPlaced]" is not callable


async def undecorated(email: str) -> None: ...


# What accepting mypy's inferred list[object] and list[ModelMetaclass] costs: these pass
# where noted, and EventBus(...) raises TypeError for them when it is built.
EventBus(listeners=[undecorated])  # E[mypy,pydantic,plugin]: Argument "listeners" to "EventBus" has incompatible type "list[Callable[[str], Coroutine[Any, Any, None]]]"
not_listeners = [undecorated]
EventBus(listeners=not_listeners)  # E[mypy,pydantic,plugin]: Argument "listeners" to "EventBus" has incompatible type "list[Callable[[str], Coroutine[Any, Any, None]]]"  # E[pyright]: Argument of type "list[(email: str) -> CoroutineType[Any, Any, None]]" cannot be assigned to parameter "listeners"
EventBus(events=[int])
