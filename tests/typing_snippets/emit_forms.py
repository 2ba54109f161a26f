"""Item 1: the instance and class forms of emit (no typed-events plugin needed)."""

from events_app import UserCreated

from typed_events import EventBus


async def emits(bus: EventBus) -> None:
    bus.emit(UserCreated(email="a@example.com"))
    bus.emit(UserCreated, email="a@example.com")
    bus.emit(UserCreated(emial="a@example.com"))  # E[mypy,pydantic,plugin]: Unexpected keyword argument "emial" for "UserCreated"; did you mean "email"?  # E[pyright]: No parameter named "emial"  # E[pyright]: Argument missing for parameter "email"
    bus.emit(UserCreated, emial="a@example.com")  # E[mypy,pydantic]: No overload variant of "emit" of "EventBus" matches argument types "type[UserCreated]", "str"  # E[plugin]: Unexpected keyword argument "emial" for "UserCreated"; did you mean "email"?  # E[pyright]: No overloads for "emit"  # E[pyright]: No parameter named "emial"  # E[pyright]: Argument missing for parameter "email"
    bus.emit(UserCreated, email=1)  # E[mypy,pydantic]: No overload variant of "emit" of "EventBus" matches argument types "type[UserCreated]", "int"  # E[plugin]: Argument "email" to "UserCreated" has incompatible type "int"; expected "str"  # E[pyright]: No overloads for "emit"  # E[pyright]: Argument of type "Literal[1]" cannot be assigned to parameter "email" of type "str"
    bus.emit(UserCreated(email=1))  # E[mypy,pydantic,plugin]: Argument "email" to "UserCreated" has incompatible type "int"; expected "str"  # E[pyright]: Argument of type "Literal[1]" cannot be assigned to parameter "email" of type "str"
    bus.emit(UserCreated)  # E[mypy,pydantic]: No overload variant of "emit" of "EventBus" matches argument type "type[UserCreated]"  # E[plugin]: Missing named argument "email" for "UserCreated"  # E[pyright]: No overloads for "emit"  # E[pyright]: Argument missing for parameter "email"
    bus.emit(UserCreated())  # E[mypy,pydantic,plugin]: Missing named argument "email" for "UserCreated"  # E[pyright]: Argument missing for parameter "email"
    await bus.emit_async(UserCreated, emial="a@example.com")  # E[mypy,pydantic]: No overload variant of "emit_async" of "EventBus"  # E[plugin]: Unexpected keyword argument "emial" for "UserCreated"  # E[pyright]: No overloads for "emit_async"  # E[pyright]: No parameter named "emial"  # E[pyright]: Argument missing for parameter "email"
    await bus.emit_and_wait(UserCreated, email=1)  # E[mypy,pydantic]: No overload variant of "emit_and_wait" of "EventBus"  # E[plugin]: Argument "email" to "UserCreated" has incompatible type "int"; expected "str"  # E[pyright]: No overloads for "emit_and_wait"  # E[pyright]: Argument of type "Literal[1]" cannot be assigned to parameter "email" of type "str"
