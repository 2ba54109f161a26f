"""Running one batch's messages on up to ``max_concurrency`` tasks, starting them lazily."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator
from typing import Generic, TypeVar

import anyio.abc

__all__ = ["Workers"]

T = TypeVar("T")


class Workers(Generic[T]):
    """Handles items one at a time in the calling task, and in up to ``limit - 1`` more.

    Another task is started only once the last one started is running: while calls
    finish without waiting (the common no-op or CPU-bound listener) one task takes the
    whole batch, instead of ``limit`` tasks started per batch; as soon as a call waits,
    the task started meanwhile takes the next item, and starts the next task, so up to
    ``limit`` calls run at once, as many as before.
    """

    def __init__(
        self,
        handle: Callable[[T], Awaitable[None]],
        items: Iterator[T],
        limit: int,
        tasks: anyio.abc.TaskGroup,
    ) -> None:
        self._handle = handle
        self._items = items
        self._tasks = tasks
        self._spare = limit - 1  # tasks that may still be started (the caller's is one)
        self._starting = False  # a task was started and has not taken an item yet

    async def run(self) -> None:
        """Handle items until none is left (in this task and the ones it starts)."""
        self._starting = False
        for item in self._items:
            if self._spare > 0 and not self._starting:
                self._spare -= 1
                self._starting = True
                self._tasks.start_soon(self.run)  # takes the next item, should this one wait
            await self._handle(item)
