"""Item 2: a module that emits ids without importing the events module.

The plugin config lists `events_modules = events_app`, which makes this hold.
"""

from typed_events import EventBus


def handle(bus: EventBus) -> None:
    bus.emit("user_created", email="a@example.com")
    bus.emit("order_placed", order_id="x")  # E[plugin]: Argument "order_id" to "OrderPlaced" has incompatible type "str"; expected "int"
