"""A listener subscribed to a misspelt id."""

from __future__ import annotations

from typing import Any

from typed_events import Event, listener


class UserSignedUp(Event, event_id="user_signed_up"):
    email: str


@listener("user_signed_up")
async def welcome(email: str, **kwargs: Any) -> None:
    """Correct."""


@listener("user_signd_up")
async def track_signup(email: str, **kwargs: Any) -> None:
    """The id has a typo."""


listeners = [welcome, track_signup]
