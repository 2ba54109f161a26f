"""Listeners: callables subscribed to events, with their delivery options."""

from __future__ import annotations

import functools
import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Concatenate, Generic, ParamSpec, Protocol, TypeVar, cast, overload

from typed_events._settings import require_int, require_seconds
from typed_events.errors import UsageError
from typed_events.events import Event

__all__ = ["Listener", "ListenerOptions", "listener"]

P = ParamSpec("P")
R = TypeVar("R")

EventRef = type[Event] | str

# Static typing of @listener(SomeEvent, ...): see docs/typing.md.
E = TypeVar("E", bound=Event)
E1 = TypeVar("E1", bound=Event)
E2 = TypeVar("E2", bound=Event)
E3 = TypeVar("E3", bound=Event)
E4 = TypeVar("E4", bound=Event)
F = TypeVar("F", bound=Event)


@dataclass(frozen=True)
class ListenerOptions:
    """How a listener is called.

    :param retries: extra attempts after a call raises (0: no retry).
    :param retry_backoff: seconds before the first retry; doubles on each further one.
    :param timeout: seconds one call may take before it is cancelled (None: no limit).
    :param ordered: handle this listener's events one at a time, in emit order.
    """

    retries: int = 0
    retry_backoff: float = 0.1
    timeout: float | None = None
    ordered: bool = False

    def __post_init__(self) -> None:
        if not isinstance(self.ordered, bool):
            raise UsageError(
                f"listener option ordered must be True or False, got {self.ordered!r}; "
                "write @listener(MyEvent, ordered=True)"
            )
        require_int("retries", self.retries, 0)
        require_seconds("retry_backoff", self.retry_backoff)
        if self.timeout is not None:
            require_seconds("timeout", self.timeout, positive=True)

    def backoff_before(self, attempt: int) -> float:
        """Seconds to wait before retry number ``attempt`` (1 for the first retry)."""
        return backoff_delay(self.retry_backoff, attempt)


_DEFAULT_OPTIONS = ListenerOptions()


def backoff_delay(first: float, attempt: int) -> float:
    """Seconds before retry number ``attempt`` (1 for the first): ``first``, doubling after.

    The one backoff formula: in-process retries and Redis redeliveries both use it.
    """
    return float(first * 2 ** (attempt - 1))


class Listener(Generic[P, R]):
    """A callable subscribed to one or more events; made by :func:`listener`.

    Calling it calls the wrapped function unchanged, so tests can call listeners
    directly. ``events`` holds what it subscribes to (classes or string ids), in the
    order given.
    """

    __name__: str
    __qualname__: str

    def __init__(
        self,
        func: Callable[P, R],
        events: tuple[EventRef, ...],
        options: ListenerOptions,
    ) -> None:
        descriptor: Any = func
        if isinstance(descriptor, staticmethod | classmethod):
            # @listener above @staticmethod / @classmethod: keep the function, remember how
            # it binds (a classmethod binds to the class on access, a staticmethod never).
            bound: Any = cast("Any", descriptor)  # the descriptor's own type params are noise
            self._binding: type[Any] | None = type(bound)
            func = cast("Callable[P, R]", bound.__func__)
        else:
            self._binding = None
        refuse_non_listener(func)
        self.func = func
        self.events = events
        self.options = options
        self.is_async = returns_awaitable(func)
        self.name = qualified_name(func)
        self.location = source_location(func)
        functools.update_wrapper(self, func, updated=())

    def __call__(self, *args: P.args, **kwargs: P.kwargs) -> R:
        return self.func(*args, **kwargs)

    def __get__(self, instance: object, owner: type | None = None) -> Listener[..., R]:
        # Decorating a method: `instance.method` is a listener bound to that instance.
        if self._binding is staticmethod:
            return self
        if self._binding is classmethod:
            cls = owner if owner is not None else type(instance)
            return Listener(self.func.__get__(cls, type(cls)), self.events, self.options)
        if instance is None:
            return self
        bound = self.func.__get__(instance, owner)
        return Listener(bound, self.events, self.options)

    @property
    def where(self) -> str:
        """``qualified.name (file:line)``, as error messages show it."""
        return f"{self.name} ({self.location})"

    def __repr__(self) -> str:
        ids = ", ".join(e if isinstance(e, str) else e.event_id for e in self.events)
        return f"<Listener {self.name} on {ids}>"


class ListenerEventMismatch(Generic[F]):
    """What type checkers infer for a listener whose event parameter rejects its events.

    ``@listener(UserCreated)`` on ``async def f(event: OrderPlaced)``: the decorated
    name gets this type, so passing it to ``EventBus(listeners=[...])`` or calling it
    is a static error that names the parameter's class. (At run time the bus raises
    :class:`~typed_events.ListenerSignatureError` for the same listener.)
    """


class ListenerDecorator(Protocol[E]):  # pyright: ignore[reportInvalidTypeVarUse]  # E is in Listener[Concatenate[E, P], R], invariant in its ParamSpec; mypy requires invariance here
    """The static type of ``listener(SomeEvent, ...)``: a decorator checked against the events."""

    # Stacked decorators: the inner one already typed (and checked) the function.
    @overload
    def __call__(self, func: Listener[P, R], /) -> Listener[P, R]: ...  # type: ignore[overload-overlap]  # deliberate: a Listener is also a callable, and this one must win
    @overload
    def __call__(self, func: ListenerEventMismatch[F], /) -> ListenerEventMismatch[F]: ...
    @overload
    def __call__(self, func: Callable[Concatenate[E, P], R], /) -> Listener[[E], R]: ...
    @overload
    def __call__(  # pyright: ignore[reportOverlappingOverload]  # deliberate: the first match wins, so this one catches a parameter annotated with another event before the kwargs-style catch-all below
        self, func: Callable[Concatenate[F, P], R], /
    ) -> ListenerEventMismatch[F]: ...
    @overload
    def __call__(self, func: Callable[P, R], /) -> Listener[P, R]: ...


@overload
def listener(
    event: type[E1],
    /,
    *,
    retries: int = 0,
    retry_backoff: float = 0.1,
    timeout: float | None = None,
    ordered: bool = False,
) -> ListenerDecorator[E1]: ...
@overload
def listener(
    event1: type[E1],
    event2: type[E2],
    /,
    *,
    retries: int = 0,
    retry_backoff: float = 0.1,
    timeout: float | None = None,
    ordered: bool = False,
) -> ListenerDecorator[E1 | E2]: ...
@overload
def listener(
    event1: type[E1],
    event2: type[E2],
    event3: type[E3],
    /,
    *,
    retries: int = 0,
    retry_backoff: float = 0.1,
    timeout: float | None = None,
    ordered: bool = False,
) -> ListenerDecorator[E1 | E2 | E3]: ...
@overload
def listener(
    event1: type[E1],
    event2: type[E2],
    event3: type[E3],
    event4: type[E4],
    /,
    *,
    retries: int = 0,
    retry_backoff: float = 0.1,
    timeout: float | None = None,
    ordered: bool = False,
) -> ListenerDecorator[E1 | E2 | E3 | E4]: ...
@overload
def listener(
    *events: EventRef,
    retries: int = 0,
    retry_backoff: float = 0.1,
    timeout: float | None = None,
    ordered: bool = False,
) -> Callable[[Callable[P, R]], Listener[P, R]]: ...
def listener(
    *events: EventRef,
    retries: int = 0,
    retry_backoff: float = 0.1,
    timeout: float | None = None,
    ordered: bool = False,
) -> Callable[[Callable[P, R]], Listener[P, R]]:
    """Subscribe the decorated callable to ``events`` (event classes or string ids).

    ```python
    @listener(UserCreated)
    async def send_welcome(event: UserCreated) -> None: ...
    ```

    A callable whose one parameter is annotated with an Event class gets the event
    instance; any other callable gets the event's fields as keyword arguments. Sync
    callables run in a worker thread. The signature is checked against the events
    when the bus is built.

    :param retries: extra attempts after a call raises.
    :param retry_backoff: seconds before the first retry, doubling after.
    :param timeout: seconds a call may take; past it the call is cancelled.
    :param ordered: run this listener's calls one at a time, in emit order.
    :raises TypeError: if no event is given or one is not an Event class or id.
    """
    if not events:
        raise UsageError(
            "listener() needs at least one event: "
            "@listener(UserCreated) or @listener('user_created')"
        )
    for ref in events:
        if isinstance(ref, str):
            if not ref:
                raise UsageError("listener(): an event id must be a non-empty string")
        elif not (isinstance(ref, type) and issubclass(ref, Event) and ref is not Event):
            raise UsageError(
                f"listener() takes Event subclasses or string ids, got {ref!r}; "
                "declare the event as `class X(Event): ...`"
            )
    options = ListenerOptions(
        retries=retries, retry_backoff=retry_backoff, timeout=timeout, ordered=ordered
    )

    def decorate(func: Callable[P, R]) -> Listener[P, R]:
        if isinstance(func, Listener):
            # Stacked decorators: one listener subscribed to the union of both.
            inner = cast("Listener[P, R]", func)
            merged = tuple(dict.fromkeys((*inner.events, *events)))
            return Listener(inner.func, merged, _stacked_options(inner, options))
        target: object = func
        if not callable(target) and not isinstance(target, staticmethod | classmethod):
            raise UsageError(f"@listener(...) decorates a callable, got {func!r}")
        return Listener(func, events, options)

    return decorate


def underlying_function(func: Callable[..., Any]) -> Callable[..., Any]:
    """The plain function behind partials, bound methods and callable objects."""
    while True:
        if isinstance(func, functools.partial):
            func = func.func
        elif inspect.ismethod(func):
            func = func.__func__
        elif inspect.isfunction(func) or inspect.isbuiltin(func):
            return func
        elif callable(func) and hasattr(type(func), "__call__"):  # noqa: B004  # a callable object
            call = type(func).__call__
            if call is func:
                return func
            func = call
        else:
            return func


def _stacked_options(inner: Listener[..., Any], outer: ListenerOptions) -> ListenerOptions:
    """The options of ``@listener(A, ...) @listener(B, ...)``: one set, never a silent drop."""
    if outer == inner.options or outer == _DEFAULT_OPTIONS:
        return inner.options
    if inner.options == _DEFAULT_OPTIONS:
        return outer
    raise UsageError(
        f"{inner.where} is decorated twice with different options ({inner.options} and "
        f"{outer}); give the options on one @listener(...) only (they apply to every event "
        "it subscribes to)"
    )


def returns_awaitable(func: Callable[..., Any]) -> bool:
    """True if calling ``func`` gives an awaitable that the pipeline should await on the loop.

    Seen through partials, bound methods, callable objects, ``functools.wraps`` chains and
    ``AsyncMock``. A sync callable that returns an awaitable anyway (a lambda returning a
    coroutine) is not detectable here; the pipeline awaits its result all the same.
    """
    candidates: list[object] = [func, underlying_function(func)]
    seen: set[int] = set()
    while candidates:
        candidate = candidates.pop()
        if id(candidate) in seen:
            continue
        seen.add(id(candidate))
        if inspect.iscoroutinefunction(candidate) or _marked_coroutine(candidate):
            return True
        wrapped = getattr(candidate, "__wrapped__", None)
        if wrapped is not None:
            candidates.append(wrapped)
            candidates.append(underlying_function(wrapped))
    return False


def _marked_coroutine(candidate: object) -> bool:
    # AsyncMock and asyncio's coroutine marker (inspect.markcoroutinefunction on 3.12+).
    return (
        getattr(candidate, "_is_coroutine", None)
        is getattr(inspect, "_is_coroutine_mark", object())
        or type(candidate).__name__ == "AsyncMock"
    )


def refuse_non_listener(func: object) -> None:
    """Raise TypeError, with the fix, for a callable that cannot be a listener."""
    if isinstance(func, type):
        raise UsageError(
            f"{qualified_name(func)} is a class; a listener is a function, a method or a "
            "callable object. Decorate a function that builds and uses it instead"
        )
    if not callable(func):
        raise UsageError(f"@listener(...) decorates a callable, got {func!r}")
    target = underlying_function(func)
    if inspect.isasyncgenfunction(target) or inspect.isgeneratorfunction(target):
        kind = "an async generator" if inspect.isasyncgenfunction(target) else "a generator"
        raise UsageError(
            f"{qualified_name(func)} ({source_location(func)}) is {kind} function: calling it "
            "only creates a generator that nobody iterates, so the listener would never run. "
            "Use `async def` (or `def`) without `yield`"
        )


def qualified_name(func: Callable[..., Any]) -> str:
    """``module.QualName`` of a callable of any kind, as messages name it."""
    if isinstance(func, functools.partial):
        return f"partial({qualified_name(func.func)})"
    target: Any = func
    if not (inspect.isfunction(func) or inspect.ismethod(func) or inspect.isbuiltin(func)):
        target = type(func)  # a callable object: name its class
    module = getattr(target, "__module__", None) or "?"
    name = getattr(target, "__qualname__", None) or repr(target)
    return f"{module}.{name}"


def source_location(func: Callable[..., Any]) -> str:
    """``file:line`` where the callable is defined, or ``<unknown>``."""
    target = inspect.unwrap(underlying_function(func))
    try:
        filename = inspect.getsourcefile(target) or inspect.getfile(target)
        _, line = inspect.getsourcelines(target)
    except (OSError, TypeError):
        code = getattr(target, "__code__", None)
        if code is None:
            return "<unknown>"
        return f"{_display_path(code.co_filename)}:{code.co_firstlineno}"
    return f"{_display_path(filename)}:{line}"


def _display_path(filename: str) -> str:
    """The path relative to the working directory when it is inside it (as editors and CI
    annotations want), else absolute."""
    path = os.path.abspath(filename)
    try:
        relative = os.path.relpath(path)
    except ValueError:  # another drive on Windows
        return path
    return path if relative.startswith(os.pardir) else relative
