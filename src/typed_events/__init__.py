"""typed-events: a type-safe event emitter/listener for async Python.

Events are frozen Pydantic models keyed by an id; listeners are checked against them
when the bus is built; the in-memory emitter is bounded, and Redis Streams carries the
same listeners across processes.
"""

from typed_events._report import ShutdownReport, UndeliveredCall
from typed_events._upcasting import upcaster
from typed_events.backends.base import BaseEventEmitterBackend
from typed_events.backends.memory import EmitterStats, SimpleEventEmitter
from typed_events.bus import EventBus
from typed_events.dispatch import DeliveryStats, Dispatcher, DispatchResult, ListenerOutcome
from typed_events.errors import (
    ConfigurationError,
    DuplicateEventError,
    EmitterNotRunningError,
    EventDefinitionError,
    ListenerSignatureError,
    QueueFullError,
    SignatureProblem,
    TypedEventsError,
    UnknownEventError,
    UsageError,
)
from typed_events.events import Event, EventRegistry
from typed_events.listeners import Listener, ListenerOptions, listener
from typed_events.middleware import Middleware

__all__ = [
    "BaseEventEmitterBackend",
    "ConfigurationError",
    "DeliveryStats",
    "DispatchResult",
    "Dispatcher",
    "DuplicateEventError",
    "EmitterNotRunningError",
    "EmitterStats",
    "Event",
    "EventBus",
    "EventDefinitionError",
    "EventRegistry",
    "Listener",
    "ListenerOptions",
    "ListenerOutcome",
    "ListenerSignatureError",
    "Middleware",
    "QueueFullError",
    "ShutdownReport",
    "SignatureProblem",
    "SimpleEventEmitter",
    "TypedEventsError",
    "UndeliveredCall",
    "UnknownEventError",
    "UsageError",
    "listener",
    "upcaster",
]

__version__ = "0.1.0"
