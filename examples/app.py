"""All the examples' listeners on one bus: what `typed-events check/list/stubgen` inspect."""

from __future__ import annotations

from examples.events import PasswordChanged, UserCreated, UserDeleted
from examples.multiple_events import send_email_handler
from examples.multiple_listeners import notify_customer_support, send_farewell_email_handler
from examples.welcome_email import send_welcome_email_handler
from typed_events import EventBus

bus = EventBus(
    listeners=[
        send_welcome_email_handler,
        send_email_handler,
        send_farewell_email_handler,
        notify_customer_support,
    ],
    events=[UserCreated, PasswordChanged, UserDeleted],
)
