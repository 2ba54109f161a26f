"""The seed doc's broken example: two ``user_deleted`` listeners without ``**kwargs``.

With ``litestar.events`` it fails at run time, in a background task, for every delete;
with the plugin, building the app raises.
"""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, post
from litestar.events import listener
from litestar.params import JSONBody

from examples.events import UserDeleted
from typed_events import EventBus
from typed_events.contrib.litestar import TypedEventsPlugin


@listener("user_deleted")
async def send_farewell_email_handler(email: str) -> None:
    """Takes ``email`` only, but ``user_deleted`` also sends ``reason``."""


@listener("user_deleted")
async def notify_customer_support(reason: str) -> None:
    """Takes ``reason`` only, but ``user_deleted`` also sends ``email``."""


@post("/users/delete")
async def delete_user_handler(
    data: JSONBody[dict[str, str]], request: Request[Any, Any, Any]
) -> None:
    request.app.emit("user_deleted", email=data["email"], reason="deleted")


def build_app() -> Litestar:
    """The seed's app with the plugin: raises ListenerSignatureError."""
    return Litestar(
        route_handlers=[delete_user_handler],
        listeners=[send_farewell_email_handler, notify_customer_support],
        plugins=[TypedEventsPlugin(EventBus(events=[UserDeleted]))],
    )


def build_plain_app() -> Litestar:
    """The seed's app as it is, without the plugin: builds, fails later.

    ``logging_config=None`` leaves logging to pytest, which captures what Litestar logs.
    """
    return Litestar(
        route_handlers=[delete_user_handler],
        listeners=[send_farewell_email_handler, notify_customer_support],
        logging_config=None,
    )
