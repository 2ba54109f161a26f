"""How one listener call is started and driven: the mechanics under the pipeline.

The pipeline (:mod:`typed_events.dispatch`) decides *what* happens to a call (retries,
timeout, reporting); this module knows *how* to run one: inside the emitter's context,
without a task or coroutine frame of its own when the listener does not suspend, or in a
worker thread for sync callables.
"""

from __future__ import annotations

import asyncio
import contextvars
import importlib.util
import inspect
import os
import types
from collections.abc import Awaitable, Callable, Coroutine, Generator
from typing import Any, cast

import anyio
import anyio.to_thread

from typed_events.events import Event

__all__ = [
    "ResumeInContext",
    "call_in_thread",
    "cancelled_from_outside",
    "current_attempt",
    "set_attempt",
    "start_in_context",
    "user_traceback",
]


_attempt: contextvars.ContextVar[int] = contextvars.ContextVar("typed_events_attempt", default=1)


def current_attempt() -> int:
    """The attempt number of the listener call running in this context: 1, then 2, ..."""
    return _attempt.get()


def set_attempt(attempt: int) -> None:
    """Set the attempt number in the current context (the pipeline does, per attempt)."""
    _attempt.set(attempt)


def start_in_context(run: Callable[..., Any], call: Callable[[Event], Any], event: Event) -> Any:
    """Start an async listener call inside a context, without a coroutine frame of its own.

    Returns the listener's result when its first step finished the call (the common,
    cheap case), else a :class:`ResumeInContext` for the caller to await. ``run`` is
    ``context.run`` of the context the call must see.
    """
    result: Any = run(call, event)
    if type(result) is not types.CoroutineType:
        if not inspect.isawaitable(result):
            return result  # an "async" callable that returned a plain value
        result = _awaiting(result)  # a future or other awaitable: drive it the same way
    coroutine = cast("Coroutine[Any, Any, Any]", result)
    try:
        step = run(coroutine.send, None)
    except StopIteration as stop:
        return stop.value
    return ResumeInContext(run, coroutine, step)


class ResumeInContext:
    """Drive a suspended coroutine to the end, every step run inside a context.

    This is how the emitter's contextvars reach a listener that runs in a pooled
    worker task, without a task per call.
    """

    __slots__ = ("_coroutine", "_run", "_step")

    def __init__(
        self, run: Callable[..., Any], coroutine: Coroutine[Any, Any, Any], step: Any
    ) -> None:
        self._run = run
        self._coroutine = coroutine
        self._step = step

    def __await__(self) -> Generator[Any, Any, Any]:
        run, coroutine, step = self._run, self._coroutine, self._step
        while True:
            try:
                value = yield step
            except GeneratorExit:
                run(coroutine.close)
                raise
            except BaseException as exc:  # cancellation included: the listener must see it
                try:
                    step = run(coroutine.throw, exc)
                except StopIteration as stop:
                    return stop.value
                continue
            try:
                step = run(coroutine.send, value)
            except StopIteration as stop:
                return stop.value


async def _awaiting(awaitable: Awaitable[Any]) -> Any:
    return await awaitable


async def call_in_thread(
    run: Callable[..., Any], call: Callable[[Event], Any], event: Event
) -> Any:
    """Run a sync listener in a worker thread; await its result if it returned an awaitable.

    A plain function that returns a coroutine (a lambda, a sync wrapper) is a listener
    too: its result is awaited on the event loop, in the same context.
    """
    # The result travels in a tuple: trio refuses a thread function whose result is a
    # coroutine, and here that is a legitimate result to await. abandon_on_cancel: a hung
    # sync listener must not hold up timeouts or shutdown; its thread finishes on its own.
    (result,) = await anyio.to_thread.run_sync(lambda: (run(call, event),), abandon_on_cancel=True)
    if not inspect.isawaitable(result):
        return result
    started = start_in_context(run, lambda _: result, event)
    return await started if type(started) is ResumeInContext else started


def cancelled_from_outside() -> bool:
    """True if the running task is being cancelled (by a cancel scope or ``Task.cancel``).

    A ``CancelledError`` that a listener raised while nobody cancelled its task (it awaited
    a future someone else cancelled) is the listener's failure, not a cancellation of
    the bus. On trio a ``Cancelled`` only ever comes from a cancelled scope.
    """
    try:
        task = asyncio.current_task()
    except RuntimeError:  # no asyncio loop: trio
        return True
    return task is None or task.cancelling() > 0


def _package_dir(name: str) -> str | None:
    spec = importlib.util.find_spec(name)
    origin = spec.origin if spec is not None else None
    return os.path.dirname(origin) + os.sep if origin else None


# The leading frames a failed listener's traceback starts with: this package's (the
# pipeline) and the event loop's. Frames inside the listener come after them.
_INTERNAL_DIRS = tuple(
    d for name in ("typed_events", "anyio", "asyncio", "trio") if (d := _package_dir(name))
)


def user_traceback(exc: BaseException) -> types.TracebackType | None:
    """``exc``'s traceback from the first frame that is not typed-events' or the loop's.

    A failed listener's log record shows the user's frames, not ours (about 30 lines of
    pipeline and event-loop frames otherwise).
    """
    tb = exc.__traceback__
    first = tb
    while tb is not None and tb.tb_frame.f_code.co_filename.startswith(_INTERNAL_DIRS):
        tb = tb.tb_next
    return tb if tb is not None else first
