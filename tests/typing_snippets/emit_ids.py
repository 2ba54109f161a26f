"""Item 2: emit("id", ...), checked by the typed_events.mypy plugin only.

Plain mypy and pyright accept every line here (the str overload takes anything);
the stubs of `typed-events stubgen` make them check it (see stubs_use.py).
"""

from typing import Final

from events_app import ORDER_PLACED

from typed_events import EventBus

USER_CREATED: Final = "user_created"
TYPO: Final = "user_creatd"


async def emits(bus: EventBus, event_id: str) -> None:
    bus.emit("user_created", email="a@example.com")
    bus.emit("password_changed", "a@example.com", "hello")
    bus.emit("user_created", emial="a@example.com")  # E[plugin]: Unexpected keyword argument "emial" for "UserCreated"; did you mean "email"?
    bus.emit("user_creatd", email="a@example.com")  # E[plugin]: Unknown event id "user_creatd"; did you mean "user_created"?
    bus.emit("user_created", email=1)  # E[plugin]: Argument "email" to "UserCreated" has incompatible type "int"; expected "str"
    bus.emit("password_changed")  # E[plugin]: Missing named argument "email" for "PasswordChanged"
    bus.emit("password_changed", "a@example.com", "hello", "extra")  # E[plugin]: Too many arguments for "PasswordChanged"
    bus.emit(USER_CREATED, emial="a@example.com")  # E[plugin]: Unexpected keyword argument "emial" for "UserCreated"
    bus.emit(TYPO, email="a@example.com")  # E[plugin]: Unknown event id "user_creatd"; did you mean "user_created"?
    bus.emit(ORDER_PLACED, order_id="7")  # E[plugin]: Argument "order_id" to "OrderPlaced" has incompatible type "str"; expected "int"
    await bus.emit_async("user_created", emial="a@example.com")  # E[plugin]: Unexpected keyword argument "emial" for "UserCreated"
    result = await bus.emit_and_wait("order_placed", order_id="7")  # E[plugin]: Argument "order_id" to "OrderPlaced" has incompatible type "str"; expected "int"
    print(result.outcomes)
    bus.emit(event_id, anything=1)
