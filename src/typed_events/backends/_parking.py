"""Where idle workers of the in-memory emitter sleep until an emit wakes them.

An ``anyio.Event`` per park costs an ``asyncio.Event`` plus a waiter future each time;
a worker parks after every burst, so on the one-event-at-a-time path that is most of
the wake-up cost. A parked worker here is one future (asyncio) or one rescheduled
task (trio), the primitives those event loops wake tasks with.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import anyio
import anyio.lowlevel

__all__ = ["Parking", "parking_for_current_loop"]


class Parking:
    """One worker's sleeping place: :meth:`park` until :meth:`unpark`."""

    __slots__ = ()

    async def park(self) -> None:
        """Sleep until :meth:`unpark` is called (or the task is cancelled)."""
        raise NotImplementedError

    def unpark(self) -> None:
        """Wake the parked worker; harmless if it is not parked."""
        raise NotImplementedError


class _AsyncioParking(Parking):
    __slots__ = ("_future", "_loop")

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._future: asyncio.Future[None] | None = None

    async def park(self) -> None:
        self._future = self._loop.create_future()
        try:
            await self._future
        finally:
            self._future = None

    def unpark(self) -> None:
        future = self._future
        if future is not None and not future.done():
            future.set_result(None)


class _TrioParking(Parking):
    __slots__ = ("_task",)

    def __init__(self) -> None:
        self._task: Any = None

    async def park(self) -> None:
        import trio

        self._task = trio.lowlevel.current_task()

        def abort(_: Callable[[], object]) -> trio.lowlevel.Abort:
            self._task = None  # cancelled while parked
            return trio.lowlevel.Abort.SUCCEEDED

        await trio.lowlevel.wait_task_rescheduled(abort)

    def unpark(self) -> None:
        import trio

        task, self._task = self._task, None
        if task is not None:
            trio.lowlevel.reschedule(task)


class _AnyioParking(Parking):
    """For any other anyio backend: correct, if slower."""

    __slots__ = ("_event",)

    def __init__(self) -> None:
        self._event: anyio.Event | None = None

    async def park(self) -> None:
        self._event = anyio.Event()
        await self._event.wait()

    def unpark(self) -> None:
        if self._event is not None:
            self._event.set()


def parking_for_current_loop() -> Callable[[], Parking]:
    """A factory of parkings for the event loop running this task."""
    native = anyio.lowlevel.current_token().native_token
    if isinstance(native, asyncio.AbstractEventLoop):
        return lambda: _AsyncioParking(native)
    if type(native).__module__.startswith("trio"):
        return _TrioParking
    return _AnyioParking
