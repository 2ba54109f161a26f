"""``emit_and_wait``: every listener of one event run at once, and waited for.

The dispatcher hands in its own steps (one call settled, an ordered call queued), so the
way calls are attempted and settled stays in :mod:`typed_events._dispatcher`.
"""

from __future__ import annotations

import contextvars
from collections.abc import Awaitable, Callable, Coroutine
from typing import Any

import anyio
import anyio.abc

from typed_events._lanes import OutcomeCallback
from typed_events._outcomes import ListenerOutcome
from typed_events._routing import Subscription
from typed_events.events import Event

__all__ = ["run_all"]

Deliver = Callable[[Subscription, Event, contextvars.Context], Awaitable[ListenerOutcome]]
InOrder = Callable[
    [Subscription, Event, contextvars.Context, OutcomeCallback],
    Coroutine[Any, Any, None] | None,
]


async def run_all(
    subscriptions: tuple[Subscription, ...],
    event: Event,
    context: contextvars.Context,
    deliver: Deliver,
    in_order: InOrder,
) -> list[ListenerOutcome]:
    """Run every subscription's call concurrently; their outcomes, in order.

    Listener i begins before listener i+1 begins; an ``ordered=True`` listener waits
    behind its backlog (``in_order``); the others are ``deliver`` ed (attempted and settled).
    """
    outcomes: list[ListenerOutcome | None] = [None] * len(subscriptions)
    if len(subscriptions) == 1 and not subscriptions[0].ordered:
        outcomes[0] = await deliver(subscriptions[0], event, context)
    else:

        async def run_one(
            index: int, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
        ) -> None:
            subscription = subscriptions[index]
            if not subscription.ordered:
                # started() does not yield: the listener begins before the next is started.
                task_status.started()
                outcomes[index] = await deliver(subscription, event, context)
                return
            finished = anyio.Event()

            def done(outcome: ListenerOutcome) -> None:
                outcomes[index] = outcome
                finished.set()

            runner = in_order(subscription, event, context, done)
            task_status.started()
            if runner is not None:
                await runner
            await finished.wait()

        async with anyio.create_task_group() as group:
            for index in range(len(subscriptions)):
                await group.start(run_one, index)
    return [o for o in outcomes if o is not None]
