"""Attributes that are not an app, for the loader's messages."""

from __future__ import annotations

from typed_events import Event, listener


class Ping(Event):
    n: int


@listener(Ping)
async def on_ping(event: Ping) -> None:
    """A proper listener."""


async def not_decorated(event: Ping) -> None:
    """Forgot @listener."""


settings = {"debug": True}
mixed = [on_ping, not_decorated]
good = [on_ping]
