"""One checker's rules: the mypy plugin says, line for line, what ``EventBus(...)`` raises.

The same module of wrong listeners goes through mypy with the plugin and through the
registration check at run time; every problem must read the same in both.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from .checkers import mypy_config, run_mypy

pytestmark = pytest.mark.typecheck

EVENTS = """from typed_events import Event


class UserCreated(Event, event_id="user_created"):
    email: str


class PasswordChanged(Event):
    email: str
    message: str = "changed"


class OrderPlaced(Event, event_id="order_placed"):
    order_id: int
"""
WRONG = """import functools
from typing import Any

from shop_events import OrderPlaced, PasswordChanged, UserCreated

from typed_events import listener


@listener(UserCreated)
async def wrong_event(event: OrderPlaced) -> None: ...


@listener(UserCreated, OrderPlaced)
async def too_narrow(event: UserCreated, other: int) -> None: ...


@listener(UserCreated)
async def misspelled(emial: str) -> None: ...


@listener(UserCreated, PasswordChanged)
async def wrong_type(email: int, **kwargs: int) -> None: ...


@listener(PasswordChanged)
async def no_kwargs(email: str, /) -> None: ...


@listener(UserCreated)
async def optional(event: UserCreated | None) -> None: ...


@listener(UserCreated)
async def keyword_only(*, event: UserCreated) -> None: ...


class Service:
    @listener(OrderPlaced)
    def on_order(self, order_id: str, note: str) -> None: ...


async def _prefixed(prefix: str, email: str) -> None: ...


partial_listener = listener(OrderPlaced)(functools.partial(_prefixed, "hi"))

LISTENERS: list[Any] = [
    wrong_event, too_narrow, misspelled, wrong_type, no_kwargs, optional, keyword_only,
    Service().on_order, partial_listener,
]
"""
RUNTIME = """
import json
from typed_events import EventBus, ListenerSignatureError
from shop_listeners import LISTENERS
try:
    EventBus(listeners=LISTENERS)
except ListenerSignatureError as error:
    print(json.dumps([str(problem) for problem in error.problems]))
"""


def test_the_plugin_reports_what_the_bus_raises(tmp_path: Path) -> None:
    (tmp_path / "shop_events.py").write_text(EVENTS)
    (tmp_path / "shop_listeners.py").write_text(WRONG)
    config = mypy_config("pydantic.mypy", "typed_events.mypy")
    found = run_mypy(tmp_path, config, ["shop_listeners.py"], cache_dir=tmp_path / ".mypy_cache")
    static = sorted(d.message.removesuffix("  [listener-signature]") for d in found)
    completed = subprocess.run(
        [sys.executable, "-c", RUNTIME],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    runtime = sorted(json.loads(completed.stdout))
    assert len(runtime) >= 12
    assert static == runtime
