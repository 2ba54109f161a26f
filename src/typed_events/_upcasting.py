"""Upcasters: functions that turn an older version of an event's payload into the next one.

```python
class UserCreated(Event, event_id="user_created", version=2):
    full_name: str

@upcaster(UserCreated, from_version=1)
def name_to_full_name(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data.pop("name"), **data}
```

An envelope written at version 1 is upcast 1 -> 2 -> ... -> the class's version before
the class validates it. The upcasters are kept on the event class itself (not in a
module-level table), so event classes defined and dropped by tests can still be garbage
collected. :func:`chain_problems` finds gaps, duplicates and upcasters that can never run;
the bus reports them when it is built, and ``typed-events check`` in CI.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from typed_events.errors import DeadLetterReason, EnvelopeError
from typed_events.events import Event
from typed_events.listeners import qualified_name, source_location

__all__ = ["ChainProblem", "chain_problems", "upcast", "upcaster", "where_defined"]

Payload = dict[str, Any]
UpcastFunction = TypeVar("UpcastFunction", bound=Callable[[Payload], Payload])

_ATTRIBUTE = "__typed_events_upcasters__"


def upcaster(
    event: type[Event], *, from_version: int
) -> Callable[[UpcastFunction], UpcastFunction]:
    """Register a function that turns ``event``'s payload at ``from_version`` into the next version.

    ```python
    @upcaster(UserCreated, from_version=1)
    def name_to_full_name(data: dict[str, Any]) -> dict[str, Any]:
        return {"full_name": data.pop("name"), **data}
    ```

    The function takes the JSON ``data`` of an envelope (a ``dict``, as :func:`json.loads`
    gives it) and returns the data of version ``from_version + 1``. Upcasters chain: a
    version-1 payload of a version-3 event goes through the upcasters from 1 and from 2.
    The decorated function is returned unchanged, so tests can call it directly.

    :param event: the event class (at its current version).
    :param from_version: the version the function reads.
    :raises TypeError: if ``event`` is not an Event subclass or ``from_version`` is not
        an integer >= 1.

    Gaps, duplicates and upcasters outside ``min_version .. version - 1`` are reported
    when the bus is built (:class:`~typed_events.ListenerSignatureError`) and by
    ``typed-events check``.
    """
    if not (isinstance(event, type) and issubclass(event, Event)) or event is Event:
        raise TypeError(
            f"@upcaster(...) takes an Event subclass first, got {event!r}; "
            "write @upcaster(UserCreated, from_version=1)"
        )
    if not isinstance(from_version, int) or isinstance(from_version, bool) or from_version < 1:
        raise TypeError(
            f"@upcaster({event.__name__}, from_version=...) needs an integer >= 1, "
            f"got {from_version!r}"
        )

    def register(func: UpcastFunction) -> UpcastFunction:
        if not callable(func):
            raise TypeError(f"@upcaster({event.__name__}, ...) decorates a function, got {func!r}")
        _table(event).setdefault(from_version, []).append(func)
        return func

    return register


def _table(event: type[Event]) -> dict[int, list[Callable[[Payload], Payload]]]:
    # The class's own __dict__: a subclass is another event with its own chain.
    table: dict[int, list[Callable[[Payload], Payload]]] | None = event.__dict__.get(_ATTRIBUTE)
    if table is None:
        table = {}
        type.__setattr__(event, _ATTRIBUTE, table)
    return table


def _upcasters(event: type[Event]) -> dict[int, list[Callable[[Payload], Payload]]]:
    table: dict[int, list[Callable[[Payload], Payload]]] = event.__dict__.get(_ATTRIBUTE, {})
    return table


@dataclass(frozen=True)
class ChainProblem:
    """One thing wrong with an event's chain of upcasters.

    :ivar version: the version it concerns.
    :ivar subject: the upcaster (qualified name) or, for a gap, the event class.
    :ivar location: ``file:line`` of the subject.
    """

    event: type[Event]
    version: int
    subject: str
    location: str
    message: str
    fix: str


def chain_problems(event: type[Event]) -> list[ChainProblem]:
    """Every gap, duplicate or stray upcaster in ``event``'s chain, oldest version first."""
    current, oldest = event.event_version, event.event_min_version
    table = _upcasters(event)
    name = event.__name__
    problems: list[ChainProblem] = []
    for version in range(oldest, current):
        if version not in table:
            problems.append(
                ChainProblem(
                    event,
                    version,
                    name,
                    where_defined(event),
                    f"{name} is at version {current} and reads from version {oldest}, but "
                    f"no upcaster turns version {version} into {version + 1}",
                    f"add @upcaster({name}, from_version={version}), or raise "
                    f"min_version to {version + 1} once no version-{version} event is left",
                )
            )
    for version, functions in sorted(table.items()):
        first = functions[0]
        if version >= current or version < oldest:
            reads = f"versions {oldest} to {current}" if oldest < current else f"version {current}"
            problems.append(
                ChainProblem(
                    event,
                    version,
                    _name(first),
                    where_defined(first),
                    f"upcaster from version {version} can never run: {name} reads {reads}",
                    f"remove it, or set {name}'s version= to {version + 1}"
                    if version >= current
                    else f"remove it, or lower {name}'s min_version= to {version}",
                )
            )
        for extra in functions[1:]:
            problems.append(
                ChainProblem(
                    event,
                    version,
                    _name(extra),
                    where_defined(extra),
                    f"two upcasters from version {version} of {name}: {_name(first)} "
                    f"({where_defined(first)}) and this one",
                    "keep one of them",
                )
            )
    return problems


def upcast(event: type[Event], data: object, version: int) -> object:
    """``data`` written at ``version``, turned into ``event``'s current version.

    :raises EnvelopeError: ``"unknown version"`` for a version the class cannot read
        (newer than it, or older than its ``min_version``); ``"invalid data"`` when the
        data is not an object or an upcaster fails on it.
    """
    current, oldest = event.event_version, event.event_min_version
    where = f"{event.__module__}.{event.__qualname__}"
    if version > current:
        raise EnvelopeError(
            DeadLetterReason.UNKNOWN_VERSION,
            f"{event.event_id!r} version {version} is newer than this process knows "
            f"({where} is at version {current}); deploy the new class here, then replay it",
        )
    if version < oldest:
        raise EnvelopeError(
            DeadLetterReason.UNKNOWN_VERSION,
            f"{event.event_id!r} version {version} is older than {where} reads "
            f"(min_version={oldest}); bring back the upcasters from version {version}",
        )
    table = _upcasters(event)
    for step in range(version, current):
        if not isinstance(data, dict):
            raise EnvelopeError(
                DeadLetterReason.INVALID_DATA,
                f"version {step} data of {event.event_id!r} must be a JSON object to upcast, "
                f"got {type(data).__name__}",
            )
        functions = table.get(step)
        if not functions:  # the bus refuses such a chain; a bare decode() may still meet it
            raise EnvelopeError(
                DeadLetterReason.UNKNOWN_VERSION,
                f"no upcaster turns {event.event_id!r} version {step} into {step + 1}; "
                f"add @upcaster({event.__name__}, from_version={step})",
            )
        payload = cast(Payload, data)  # parsed JSON: an object's keys are strings
        try:
            data = functions[0](payload)
        except Exception as exc:  # a user function: its failure is this message's fate
            raise EnvelopeError(
                DeadLetterReason.INVALID_DATA,
                f"upcaster {_name(functions[0])} (from version {step} of {event.event_id!r}) "
                f"raised {type(exc).__name__}: {exc}",
            ) from exc
    return data


def _name(func: Callable[..., Any]) -> str:
    return qualified_name(func)


def where_defined(obj: Callable[..., Any]) -> str:
    """``file:line`` where a function or an event class is defined, or ``<unknown>``."""
    if not isinstance(obj, type):
        return source_location(obj)
    try:  # an event class: where it is defined, relative to here when inside it
        path = os.path.abspath(inspect.getsourcefile(obj) or inspect.getfile(obj))
        line = getattr(obj, "__firstlineno__", None)  # Python 3.13+
        if line is None:
            _, line = inspect.getsourcelines(obj)  # parses the file: it must be Python
    except (OSError, TypeError, SyntaxError):
        return "<unknown>"
    relative = os.path.relpath(path)
    return f"{path if relative.startswith(os.pardir) else relative}:{line}"
