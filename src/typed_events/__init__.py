"""typed-events: a type-safe event emitter/listener for async Python.

Events are frozen Pydantic models keyed by an id; listeners are checked against them
when the bus is built; the in-memory emitter is bounded, and Redis Streams carries the
same listeners across processes.
"""

from .backends.base import BaseEventEmitterBackend, ShutdownReport, UndeliveredCall
from .backends.memory import EmitterStats, SimpleEventEmitter
from .bus import EventBus
from .dispatch import Dispatcher, DispatchResult, ListenerOutcome
from .errors import (
    DuplicateEventError,
    EmitterNotRunningError,
    ListenerSignatureError,
    QueueFullError,
    TypedEventsError,
    UnknownEventError,
)
from .events import Event, EventRegistry
from .listeners import Listener, ListenerOptions, listener
from .signatures import SignatureProblem

__all__ = [
    "BaseEventEmitterBackend",
    "DispatchResult",
    "Dispatcher",
    "DuplicateEventError",
    "EmitterNotRunningError",
    "EmitterStats",
    "Event",
    "EventBus",
    "EventRegistry",
    "Listener",
    "ListenerOptions",
    "ListenerOutcome",
    "ListenerSignatureError",
    "QueueFullError",
    "ShutdownReport",
    "SignatureProblem",
    "SimpleEventEmitter",
    "TypedEventsError",
    "UndeliveredCall",
    "UnknownEventError",
    "listener",
]

__version__ = "0.1.0"
