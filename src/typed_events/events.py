"""Events: frozen Pydantic models keyed by an id, and the registry that maps ids to them."""

from __future__ import annotations

import gc
import re
import weakref
from collections.abc import Iterable, Iterator
from typing import Any, ClassVar

from pydantic import BaseModel, ConfigDict

from typed_events._partitioning import KEY_TYPES, key_type_problem
from typed_events.errors import (
    DuplicateEventError,
    EventDefinitionError,
    UnknownEventError,
    UsageError,
)

__all__ = ["RESERVED_FIELD_NAMES", "Event", "EventRegistry", "event_id_from_name"]

_WORD_BOUNDARY = re.compile(r"(?<=[a-z0-9])(?=[A-Z])|(?<=[A-Z])(?=[A-Z][a-z])")
# Ids become Redis keys, CLI output and log fields: a small, safe alphabet.
_VALID_ID = re.compile(r"[A-Za-z0-9_.:-]+")

RESERVED_FIELD_NAMES = frozenset({"event_id"})
"""Names an event class may not use for a field: ``Event`` reads them on the class."""


def event_id_from_name(class_name: str) -> str:
    """Derive an event id from a class name: ``PasswordChanged`` -> ``password_changed``."""
    return _WORD_BOUNDARY.sub("_", class_name).lower()


# Every Event subclass defined so far, by id. Weak, so that classes defined inside
# tests (and then dropped) do not claim their id forever.
_live_events: dict[str, list[weakref.ref[type[Event]]]] = {}


class Event(BaseModel):
    """Base class of every event: a frozen Pydantic model with a class-level ``event_id``.

    ```python
    class UserCreated(Event, event_id="user_created"):
        email: str
    ```

    Without ``event_id=`` the id is the class name in snake_case. ``version=`` (default
    1) is the version envelopes carry; older versions are turned into this one by
    :func:`~typed_events.upcaster` functions, from version 1 (or ``min_version=``) on.
    ``partition_key=`` names the field whose value orders events across processes
    (events with one value are handled one at a time, in emit order, by ordered
    listeners on a partitioned backend); a subclass inherits its base's.
    One validated instance is shared by all listeners; it is frozen so none can change
    it under another.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    event_id: ClassVar[str] = "event"
    event_version: ClassVar[int] = 1
    """The class keyword ``version=`` (default 1): the version encoded envelopes carry."""
    event_min_version: ClassVar[int] = 1
    """The class keyword ``min_version=`` (default 1): the oldest version still read."""
    event_partition_key: ClassVar[str | None] = None
    """The class keyword ``partition_key=``: the field whose value picks the partition."""

    def __init_subclass__(
        cls,
        *,
        event_id: str | None = None,
        version: int = 1,
        min_version: int = 1,
        partition_key: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if partition_key is not None:
            if not isinstance(partition_key, str):
                raise EventDefinitionError(
                    f"{cls.__module__}.{cls.__qualname__}(Event, partition_key=...): "
                    f"partition_key must be a field name (a str), got {partition_key!r}; "
                    f"write e.g. class {cls.__name__}(Event, partition_key='order_id')"
                )
            cls.event_partition_key = partition_key
        if event_id is not None:
            require_valid_id(event_id, f"{cls.__qualname__}(Event, event_id=...)")
        cls.event_id = event_id or event_id_from_name(cls.__name__)
        require_valid_id(cls.event_id, f"the id derived from class name {cls.__qualname__!r}")
        cls.event_version, cls.event_min_version = _check_versions(cls, version, min_version)
        _live_events.setdefault(cls.event_id, []).append(weakref.ref(cls))

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        # Runs once Pydantic has collected the fields (__init_subclass__ runs before).
        super().__pydantic_init_subclass__(**kwargs)
        where = f"{cls.__module__}.{cls.__qualname__}"
        clash = sorted(RESERVED_FIELD_NAMES & set(cls.model_fields))
        if clash:
            raise EventDefinitionError(
                f"{where} has a field named {clash[0]!r}, which Event reserves (the event's "
                f"id is the class attribute {clash[0]!r}); rename the field, e.g. "
                f"`{clash[0]}_value`"
            )
        _check_partition_key(cls, where)
        config = cls.model_config
        if config.get("frozen") is not True or config.get("extra") != "forbid":
            raise EventDefinitionError(
                f"{where} sets model_config frozen={config.get('frozen')!r}, "
                f"extra={config.get('extra')!r}; events must stay frozen=True, extra='forbid' "
                "(one instance is shared by every listener, and unknown fields would reach "
                "**kwargs listeners as nothing). Remove those keys from its model_config"
            )


def _check_partition_key(cls: type[Event], where: str) -> None:
    """Refuse a ``partition_key=`` (given or inherited) that names no usable field."""
    key = cls.event_partition_key
    if key is None:
        return
    inherited = " (inherited from a base class)" if "event_partition_key" not in vars(cls) else ""
    option = f"{where}(Event, partition_key={key!r}){inherited}"
    field = cls.model_fields.get(key)
    if field is None:
        fields = ", ".join(cls.model_fields) or "none"
        raise EventDefinitionError(
            f"{option}: event {cls.event_id!r} has no field {key!r} (its fields: {fields}); "
            "name the field whose value orders these events"
        )
    problem = key_type_problem(field.annotation)
    if problem is not None:
        raise EventDefinitionError(
            f"{option}: field {key!r} of event {cls.event_id!r} cannot be a partition key: "
            f"{problem}. A key's value must give the same partition in every process, so "
            f"its type is {KEY_TYPES}; use such a field (e.g. an id as str)"
        )


def require_valid_id(event_id: object, where: str) -> None:
    """Raise :class:`EventDefinitionError` unless ``event_id`` is a usable event id."""
    if not isinstance(event_id, str) or not _VALID_ID.fullmatch(event_id):
        raise EventDefinitionError(
            f"{where}: event id {event_id!r} is not valid; an id is a non-empty string of "
            "letters, digits and _ . : - (no spaces or control characters), e.g. "
            "'user_created' or 'billing.invoice_paid'"
        )


def _check_versions(cls: type, version: object, min_version: object) -> tuple[int, int]:
    """The class keywords ``version=`` and ``min_version=``, checked."""
    for name, value in (("version", version), ("min_version", min_version)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise UsageError(
                f"{cls.__qualname__}: {name} must be an integer >= 1, got {value!r}; "
                f"write class {cls.__name__}(Event, version=2)"
            )
    assert isinstance(version, int)  # checked above
    assert isinstance(min_version, int)
    if min_version > version:
        raise UsageError(
            f"{cls.__qualname__}: min_version={min_version} is newer than version={version}; "
            "min_version names the oldest version this class still reads (<= version)"
        )
    return version, min_version


def live_event_classes(event_id: str) -> list[type[Event]]:
    """The distinct Event subclasses alive in this process that declare ``event_id``."""
    refs = _live_events.get(event_id, [])
    alive = [cls for ref in refs if (cls := ref()) is not None]
    if len(alive) != len(refs):
        _live_events[event_id] = [weakref.ref(cls) for cls in alive]
    return alive


def all_live_ids() -> list[str]:
    """Every id some live Event subclass declares."""
    return [event_id for event_id in list(_live_events) if live_event_classes(event_id)]


def resolve_live(event_id: str) -> type[Event] | None:
    """The one live class declaring ``event_id``; None if none does.

    Two live classes with nothing to decide between them is an error, but first let
    the garbage collector drop classes that only reference cycles keep alive (a test's
    local event class outlives its test that way).
    """
    candidates = live_event_classes(event_id)
    if len(candidates) > 1:
        del candidates  # our own references would keep the dead classes alive
        gc.collect()
        candidates = live_event_classes(event_id)
    if len(candidates) > 1:
        raise DuplicateEventError(event_id, candidates)
    return candidates[0] if candidates else None


class EventRegistry:
    """Maps event ids to event classes, refusing two different classes for one id.

    A bus builds one from ``events=[...]`` and its listeners; you rarely build one
    yourself.
    """

    def __init__(self, events: Iterable[type[Event]] = ()) -> None:
        self._by_id: dict[str, type[Event]] = {}
        for event_class in events:
            self.register(event_class)

    def register(self, event_class: type[Event]) -> type[Event]:
        """Add ``event_class``; registering the same class twice is harmless.

        :raises TypeError: if ``event_class`` is not an Event subclass.
        :raises DuplicateEventError: if another class already has its id.
        """
        if not (isinstance(event_class, type) and issubclass(event_class, Event)):
            raise UsageError(
                f"expected an Event subclass, got {event_class!r}; "
                "declare events as `class X(Event): ...`"
            )
        if event_class is Event:
            raise UsageError("register Event subclasses, not Event itself")
        existing = self._by_id.get(event_class.event_id)
        if existing is not None and existing is not event_class:
            raise DuplicateEventError(event_class.event_id, (existing, event_class))
        self._by_id[event_class.event_id] = event_class
        return event_class

    def get(self, event_id: str) -> type[Event] | None:
        """The class registered for ``event_id``, or None."""
        return self._by_id.get(event_id)

    def resolve(self, event_id: str, *, where: str = "") -> type[Event]:
        """The class registered for ``event_id``.

        :raises UnknownEventError: naming the closest known id.
        """
        event_class = self._by_id.get(event_id)
        if event_class is None:
            raise UnknownEventError(event_id, self._by_id, where)
        return event_class

    def __contains__(self, event_id: object) -> bool:
        return event_id in self._by_id

    def __iter__(self) -> Iterator[type[Event]]:
        return iter(self._by_id.values())

    def __len__(self) -> int:
        return len(self._by_id)

    def ids(self) -> list[str]:
        """The registered ids, in registration order."""
        return list(self._by_id)

    def __repr__(self) -> str:
        return f"EventRegistry({self.ids()!r})"
