"""The app the stubgen round trip generates stubs for."""

from events_app import (
    Invited,
    OrderPlaced,
    PasswordChanged,
    ProfileUpdated,
    UrgentPasswordChanged,
    UserCreated,
)

from typed_events import EventBus

bus = EventBus(
    events=[
        UserCreated,
        PasswordChanged,
        OrderPlaced,
        ProfileUpdated,
        Invited,
        UrgentPasswordChanged,
    ]
)
