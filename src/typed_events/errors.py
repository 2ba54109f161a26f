"""Every exception typed-events raises on purpose, in one place.

Each message says what went wrong, where, and how to fix it. The tree::

    TypedEventsError
    ├── UsageError (TypeError)                a call the library cannot take
    │   └── EventDefinitionError              an Event class that cannot be an event
    ├── ConfigurationError (ValueError)       a setting out of range or of the wrong type
    ├── DuplicateEventError (ValueError)      two classes claim one event id
    ├── UnknownEventError (LookupError)       an id no event declares
    ├── ListenerSignatureError (TypeError)    listeners that cannot take their events
    ├── EmitterNotRunningError (RuntimeError) emit outside `async with bus`
    ├── QueueFullError (RuntimeError)         the bounded queue is full
    │   └── WriteBufferFullError              ... of events waiting for Redis
    ├── EnvelopeError (ValueError)            a message that is not a deliverable event
    ├── ReplayError (ValueError)              a dead letter that cannot be replayed
    ├── RedisUnavailableError (ConnectionError) Redis unreachable at start
    ├── RedisWriteError (ConnectionError)     an event Redis did not acknowledge
    ├── SchemaDocumentError (ValueError)      a file that is not a schema document
    └── AppLoadError                          `typed-events APP` names nothing usable

Not exceptions, but part of them: :class:`SignatureProblem` (one line of a
:class:`ListenerSignatureError`, with its :class:`ProblemKind`) and
:class:`DeadLetterReason`.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "AppLoadError",
    "ConfigurationError",
    "DeadLetterReason",
    "DuplicateEventError",
    "EmitterNotRunningError",
    "EnvelopeError",
    "EventDefinitionError",
    "ListenerSignatureError",
    "ProblemKind",
    "QueueFullError",
    "RedisUnavailableError",
    "RedisWriteError",
    "ReplayError",
    "SchemaDocumentError",
    "SignatureProblem",
    "TypedEventsError",
    "UnknownEventError",
    "UsageError",
    "WriteBufferFullError",
    "closest",
]


class TypedEventsError(Exception):
    """Base class of the errors typed-events raises on purpose."""


class UsageError(TypedEventsError, TypeError):
    """A call the library cannot take: a listener that is not one, a wrong argument kind."""


class ConfigurationError(TypedEventsError, ValueError):
    """A setting out of range or of the wrong type (a backend's, a listener option's)."""


class EventDefinitionError(UsageError):
    """An ``Event`` subclass that cannot be an event: a bad id, a reserved field, a config
    that unfreezes it. Raised when the class is defined."""


class DuplicateEventError(TypedEventsError, ValueError):
    """Two different event classes claim one event id."""

    def __init__(self, event_id: str, classes: Iterable[type]) -> None:
        self.event_id = event_id
        self.classes = tuple(classes)
        names = " and ".join(f"{c.__module__}.{c.__qualname__}" for c in self.classes)
        super().__init__(
            f'event id "{event_id}" is claimed by {names}; '
            "give one of them another id (class X(Event, event_id=...)), "
            "or pass the one you mean in EventBus(events=[...])"
        )


class UnknownEventError(TypedEventsError, LookupError):
    """An event id that no registered event class declares."""

    def __init__(self, event_id: str, known: Iterable[str], where: str = "") -> None:
        self.event_id = event_id
        self.known = sorted(known)
        self.suggestion = closest(event_id, self.known)
        hint = f'did you mean "{self.suggestion}"? ' if self.suggestion else ""
        place = f" ({where})" if where else ""
        listing = ", ".join(f'"{k}"' for k in self.known) or "none"
        super().__init__(
            f'unknown event id "{event_id}"{place}: {hint}'
            f"known ids: {listing}. Define it with class X(Event, event_id={event_id!r}) "
            "and pass it in EventBus(events=[...]) or to a listener."
        )

    def __str__(self) -> str:
        # LookupError would quote the message like a dict key; keep it readable.
        return str(self.args[0])


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to ``word``, if any is close enough to be a typo."""
    matches = difflib.get_close_matches(word, list(candidates), n=1, cutoff=0.6)
    return matches[0] if matches else None


class ProblemKind(StrEnum):
    """What kind of listener signature problem a :class:`SignatureProblem` is."""

    UNKNOWN_EVENT = "unknown event id"  # the listener names an id no event declares
    SIGNATURE = "listener signature"  # the listener cannot take the event's fields
    NOT_A_LISTENER = "not a listener"  # the callable cannot be a listener at all
    UPCASTER_CHAIN = "upcaster chain"  # an event's upcasters do not reach its version


@dataclass(frozen=True)
class SignatureProblem:
    """One reason a listener cannot take an event, as one line of the error."""

    listener: str
    location: str
    event_id: str
    field: str | None
    message: str
    fix: str
    kind: ProblemKind = ProblemKind.SIGNATURE

    def __str__(self) -> str:
        field = f' field "{self.field}"' if self.field else ""
        return (
            f'{self.listener} ({self.location}), event "{self.event_id}"{field}: '
            f"{self.message}. Fix: {self.fix}"
        )


class ListenerSignatureError(TypedEventsError, TypeError):
    """One or more listeners cannot accept the events they subscribe to.

    ``problems`` holds every finding; the message lists them one per line.
    """

    def __init__(self, problems: Iterable[SignatureProblem]) -> None:
        self.problems: list[SignatureProblem] = list(problems)
        count = len(self.problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        noun = "problem" if count == 1 else "problems"
        super().__init__(f"{count} listener signature {noun}:\n{lines}")


class EmitterNotRunningError(TypedEventsError, RuntimeError):
    """The bus was used outside ``async with bus`` (before start, after stop, or twice)."""


class QueueFullError(TypedEventsError, RuntimeError):
    """The bounded queue is full: a sync ``emit`` found it so, or waiting would deadlock.

    ``reason`` says which, and what to do.
    """

    def __init__(self, max_pending: int, reason: str | None = None) -> None:
        self.max_pending = max_pending
        self.reason = reason or (
            "listeners are not keeping up. Use `await bus.emit_async(...)` to wait for room, "
            "or raise SimpleEventEmitter(max_pending=...)."
        )
        super().__init__(f"the event queue is full ({max_pending} events pending); {self.reason}")


class DeadLetterReason(StrEnum):
    """Why a message was dead-lettered (or refused as an envelope): one closed set."""

    TOO_LARGE = "too large"
    BAD_JSON = "bad json"
    BAD_ENVELOPE = "bad envelope"
    UNKNOWN_TYPE = "unknown type"
    INVALID_DATA = "invalid data"
    UNKNOWN_VERSION = "unknown version"
    TOO_MANY_DELIVERIES = "too many deliveries"
    LISTENER_FAILED = "listener failed"
    BAD_REPLAY = "bad replay"
    UNDECODABLE = "undecodable"


class EnvelopeError(TypedEventsError, ValueError):
    """A message that is not a deliverable event envelope.

    :ivar reason: a :class:`DeadLetterReason` (a ``str``: ``"too large"``, ``"bad json"``,
        ``"bad envelope"``, ``"unknown type"``, ``"invalid data"``, ...).
    :ivar detail: what was found, in words (a validation error lists the fields).
    :ivar envelope_id: the CloudEvents ``id``, when it could be read.
    :ivar event_type: the CloudEvents ``type``, when it could be read.
    """

    def __init__(
        self,
        reason: DeadLetterReason | str,
        detail: str,
        *,
        envelope_id: str | None = None,
        event_type: str | None = None,
    ) -> None:
        self.reason = DeadLetterReason(reason)
        self.detail = detail
        self.envelope_id = envelope_id
        self.event_type = event_type
        super().__init__(f"{reason}: {detail}")


class ReplayError(TypedEventsError, ValueError):
    """A dead letter that cannot be replayed (its envelope was cut or is not an object)."""


class RedisUnavailableError(TypedEventsError, ConnectionError):
    """The backend could not reach (or log in to) Redis when it started."""


class RedisWriteError(TypedEventsError, ConnectionError):
    """An event Redis did not acknowledge: refused, or still unwritten when the backend stopped."""


class WriteBufferFullError(QueueFullError):
    """A sync ``emit`` found ``max_pending`` events waiting to be written to Redis.

    :ivar cause: why Redis is not taking writes, when the writer knows (e.g. the login
        was refused); None when it is merely slow.
    """

    def __init__(self, max_pending: int, cause: str | None = None) -> None:
        self.max_pending = max_pending
        self.cause = cause
        why = f"the writer reports: {cause}" if cause else "is Redis down or slow?"
        TypedEventsError.__init__(
            self,
            f"{max_pending} events are waiting to be written to Redis ({why}). Use "
            "`await bus.emit_async(...)` to wait until Redis acknowledges, "
            "or raise RedisStreamsBackend(max_pending=...).",
        )


class SchemaDocumentError(TypedEventsError, ValueError):
    """A file given to ``schema diff`` is not a schema document typed-events wrote."""


class AppLoadError(TypedEventsError):
    """The ``APP`` string, its module or its attribute is not usable.

    ``str(error)`` is one line; ``details`` holds the shortened traceback, if any;
    ``exit_code`` is what the command exits with (2: usage or import error, 1: the app
    was loaded but has findings).
    """

    def __init__(self, message: str, details: str = "", *, exit_code: int = 2) -> None:
        super().__init__(message)
        self.details = details
        self.exit_code = exit_code
