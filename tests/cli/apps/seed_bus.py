"""The seed's mistake with a bus built at import: the module itself raises."""

from __future__ import annotations

from typed_events import Event, EventBus, listener


class AccountClosed(Event, event_id="account_closed"):
    email: str
    reason: str


@listener("account_closed")
async def send_goodbye(email: str) -> None:
    """Has no parameter for "reason" and no **kwargs."""


bus = EventBus(listeners=[send_goodbye])
