"""Item 3: with the stubs from `typed-events stubgen stub_app:bus`, no plugin."""

from typed_events import EventBus


async def emits(bus: EventBus) -> None:
    bus.emit("user_created", email="a@example.com")
    bus.emit("password_changed", "a@example.com", "hello")
    await bus.emit_async("order_placed", order_id=7)
    bus.emit("user_created", emial="a@example.com")  # E[stubs-mypy]: No overload variant of "emit" of "EventBus" matches argument types "str", "str"  # E[stubs-pyright]: Arguments for ParamSpec "P@emit" are missing  # E[stubs-pyright]: cannot be assigned to parameter "event" of type "(**P@emit) -> Event"
    bus.emit("user_creatd", email="a@example.com")  # E[stubs-mypy]: No overload variant of "emit" of "EventBus" matches argument types "str", "str"  # E[stubs-pyright]: No overloads for "emit"  # E[stubs-pyright]: Argument of type "Literal['user_creatd']" cannot be assigned to parameter "event" of type "Literal['user_created']"
    bus.emit("user_created", email=1)  # E[stubs-mypy]: No overload variant of "emit" of "EventBus" matches argument types "str", "int"  # E[stubs-pyright]: No overloads for "emit"  # E[stubs-pyright]: Argument of type "Literal[1]" cannot be assigned to parameter "email" of type "str"
    bus.emit("order_placed")  # E[stubs-mypy]: No overload variant of "emit" of "EventBus" matches argument type "str"  # E[stubs-pyright]: No overloads for "emit"  # E[stubs-pyright]: cannot be assigned to parameter "event"
