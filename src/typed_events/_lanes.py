"""Ordered lanes: the backlog of each ``ordered=True`` listener, run one call at a time.

One object owns every lane and its waiting calls (as trio's parking lot owns its
sleepers): callers join a lane and either become its runner or leave the call to the
runner already at work; at shutdown the object hands over what never started.
"""

from __future__ import annotations

import contextvars
from collections import deque
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

from typed_events._outcomes import ListenerOutcome
from typed_events._report import UndeliveredCall, UndeliveredReason
from typed_events._routing import Subscription
from typed_events.events import Event

__all__ = ["OrderedLanes", "OutcomeCallback"]

OutcomeCallback = Callable[[ListenerOutcome], None]
Deliver = Callable[[Subscription, Event, contextvars.Context], Awaitable[ListenerOutcome]]


class _Lane:
    __slots__ = ("backlog", "busy")

    def __init__(self) -> None:
        self.backlog: deque[tuple[Event, contextvars.Context, OutcomeCallback]] = deque()
        self.busy = False


class OrderedLanes:
    """Every ordered listener's lane; ``deliver`` runs one call (the full pipeline)."""

    def __init__(self, deliver: Deliver) -> None:
        self._deliver = deliver
        self._lanes: dict[Subscription, _Lane] = {}

    def join(
        self,
        subscription: Subscription,
        event: Event,
        context: contextvars.Context,
        done: OutcomeCallback,
    ) -> Coroutine[Any, Any, None] | None:
        """Queue a call behind the ones before it.

        Returns a coroutine that runs the lane (the caller becomes its runner), or None
        when a runner is already at work; ``done(outcome)`` is called when the call ends.
        """
        lane = self._lanes.get(subscription)
        if lane is None:
            lane = self._lanes[subscription] = _Lane()
        lane.backlog.append((event, context, done))
        if lane.busy:
            return None
        lane.busy = True
        return self._run(subscription, lane)

    async def _run(self, subscription: Subscription, lane: _Lane) -> None:
        try:
            while lane.backlog:
                event, context, done = lane.backlog[0]
                outcome = await self._deliver(subscription, event, context)
                if lane.backlog and lane.backlog[0][0] is event:
                    lane.backlog.popleft()
                done(outcome)
        finally:
            lane.busy = False

    def take_waiting(self, running: set[tuple[int, int]]) -> list[UndeliveredCall]:
        """Empty every lane; the calls not in ``running`` (subscription id, event id) are
        returned as not started."""
        calls: list[UndeliveredCall] = []
        for subscription, lane in self._lanes.items():
            for event, _, _ in lane.backlog:
                if (id(subscription), id(event)) not in running:
                    name = subscription.listener.name
                    calls.append(UndeliveredCall(event, name, UndeliveredReason.NOT_STARTED))
            lane.backlog.clear()
        return calls

    def clear(self) -> None:
        """Forget every lane (a new run starts empty)."""
        self._lanes.clear()
