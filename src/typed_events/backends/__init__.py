"""Backends deliver validated events to listeners: in memory, or across processes."""

from typed_events.backends.base import BaseEventEmitterBackend, ShutdownReport, UndeliveredCall
from typed_events.backends.memory import EmitterStats, SimpleEventEmitter

__all__ = [
    "BaseEventEmitterBackend",
    "EmitterStats",
    "ShutdownReport",
    "SimpleEventEmitter",
    "UndeliveredCall",
]
