"""Backends deliver validated events to listeners: in memory, or across processes.

Everything a backend author needs is here: the base class and its :class:`Lifecycle`,
the :class:`Dispatcher` (the one pipeline that calls listeners), the
:class:`Subscription` it delivers, and the report a backend returns when it stops.
"""

from typed_events._report import ShutdownReport, UndeliveredCall, UndeliveredReason
from typed_events._routing import Routing, Subscription
from typed_events.backends.base import BaseEventEmitterBackend, Lifecycle
from typed_events.backends.memory import EmitterStats, SimpleEventEmitter
from typed_events.dispatch import CallEnd, Counters, DeliveryStats, Dispatcher, ListenerOutcome

__all__ = [
    "BaseEventEmitterBackend",
    "CallEnd",
    "Counters",
    "DeliveryStats",
    "Dispatcher",
    "EmitterStats",
    "Lifecycle",
    "ListenerOutcome",
    "Routing",
    "ShutdownReport",
    "SimpleEventEmitter",
    "Subscription",
    "UndeliveredCall",
    "UndeliveredReason",
]
