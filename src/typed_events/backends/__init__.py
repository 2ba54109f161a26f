"""Backends deliver validated events to listeners: in memory, or across processes."""

from .base import BaseEventEmitterBackend, ShutdownReport, UndeliveredCall
from .memory import EmitterStats, SimpleEventEmitter

__all__ = [
    "BaseEventEmitterBackend",
    "EmitterStats",
    "ShutdownReport",
    "SimpleEventEmitter",
    "UndeliveredCall",
]
