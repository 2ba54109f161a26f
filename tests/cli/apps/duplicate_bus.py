"""A bus given two event classes with one id: building it raises while the module imports."""

from __future__ import annotations

from typed_events import Event, EventBus


class ParcelSent(Event, event_id="parcel"):
    tracking: str


class ParcelLost(Event, event_id="parcel"):
    tracking: str


bus = EventBus(events=[ParcelSent, ParcelLost])
