"""The plugin on a bus subclass, a generic event and a subclass event."""

from events_app import Boxed, UrgentPasswordChanged, UserCreated

from typed_events import EventBus


class AppBus(EventBus):
    """A project's own bus: emit is inherited, so it is checked like EventBus's."""


async def emits(bus: AppBus, plain: EventBus) -> None:
    bus.emit("user_created", email="a@example.com")
    bus.emit(UserCreated, email="a@example.com")
    await bus.emit_async("urgent_password_changed", "a@example.com", "hi", 2)
    plain.emit(Boxed[int], value=1)
    bus.emit("user_created", emial="a@example.com")  # E[plugin]: Unexpected keyword argument "emial" for "UserCreated"; did you mean "email"?
    bus.emit(UserCreated, emial="a@example.com")  # E[plugin]: Unexpected keyword argument "emial" for "UserCreated"; did you mean "email"?  # E[mypy,pydantic]: No overload variant of "emit" of "EventBus" matches argument types "type[UserCreated]", "str"  # E[pyright]: No overloads for "emit"  # E[pyright]: No parameter named "emial"  # E[pyright]: Argument missing for parameter "email"
    await bus.emit_and_wait("user_creatd", email="a@example.com")  # E[plugin]: Unknown event id "user_creatd"; did you mean "user_created"?
    plain.emit(Boxed[int], value="x")  # E[plugin]: Argument "value" to "Boxed" has incompatible type "str"; expected "int"  # E[mypy,pydantic]: No overload variant of "emit" of "EventBus" matches argument types "type[Boxed[int]]", "str"  # E[pyright]: No overloads for "emit"  # E[pyright]: Argument of type "Literal['x']" cannot be assigned to parameter "value" of type "int"
    plain.emit("urgent_password_changed", email="a@example.com")  # E[plugin]: Missing named argument "level" for "UrgentPasswordChanged"
    plain.emit(UrgentPasswordChanged, email="a@example.com")  # E[plugin]: Missing named argument "level" for "UrgentPasswordChanged"  # E[mypy,pydantic]: No overload variant of "emit" of "EventBus" matches argument types "type[UrgentPasswordChanged]", "str"  # E[pyright]: No overloads for "emit"  # E[pyright]: Argument missing for parameter "level"
