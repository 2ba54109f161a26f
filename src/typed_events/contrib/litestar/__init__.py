"""Typed events in a Litestar app: a plugin that puts an :class:`~typed_events.EventBus`
behind ``app.emit(...)`` and checks every listener when the app is built.

```python
bus = EventBus(listeners=[send_welcome], events=[UserCreated])
app = Litestar(route_handlers=[create_user], plugins=[TypedEventsPlugin(bus)])
```

- The bus runs in the app's lifespan: the plugin installs an event emitter backend
  that enters it at startup and drains it at shutdown.
- ``request.app.emit("user_created", email=...)`` validates the payload against the
  event model at the call site; handlers can also take the bus as a dependency
  (``bus: NamedDependency[EventBus]``; plain ``bus: EventBus`` before Litestar 2.25)
  and emit typed instances, which mypy checks.
- Plain ``litestar.events.listener`` functions in ``Litestar(listeners=[...])`` are
  checked against the same event models when ``Litestar(...)`` is built, and become
  listeners of the bus while the app runs, so an app can migrate one listener at a
  time: every emit reaches typed and plain listeners, on the bus's backend.
- A payload that does not fit its event is the emitting code's bug: a 500, logged on
  logger ``typed_events.litestar``. Emit inside ``with client_payload():`` when the
  values come from the request, to answer 400 instead.

Needs the ``litestar`` extra: ``pip install 'typed-events[litestar]'``.
"""

from __future__ import annotations

from typed_events.contrib.litestar._payloads import client_payload
from typed_events.contrib.litestar._plain import typed_listener
from typed_events.contrib.litestar._plugin import TypedEmitterBackend, TypedEventsPlugin, wiring_of

__all__ = [
    "TypedEmitterBackend",
    "TypedEventsPlugin",
    "client_payload",
    "typed_listener",
    "wiring_of",
]
