"""The events of the examples of Litestar's events guide, declared once as typed models."""

from typed_events import Event


class UserCreated(Event, event_id="user_created"):
    """A user signed up."""

    email: str


class PasswordChanged(Event, event_id="password_changed"):
    """A user changed their password."""

    email: str
    message: str = "Your password was changed"


class UserDeleted(Event, event_id="user_deleted"):
    """A user deleted their account."""

    email: str
    reason: str
