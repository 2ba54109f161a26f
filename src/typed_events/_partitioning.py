"""Partition keys: which field types can order events, and the stable hash of a key.

An event class names a field with ``partition_key=``; events with equal values of it go
to the same partition, so one holder handles them one at a time, in emit order. The
partition must be the same in every process, on every Python version, after every
restart, so it is not ``hash()`` (salted per process for str) but:

    partition = int.from_bytes(blake2b(key_bytes(value), digest_size=8), "big") % partitions

with the key's canonical bytes (:func:`key_bytes`): a str is its UTF-8, an int its
decimal text, a UUID its canonical text (``"12345678-1234-5678-1234-567812345678"``),
an enum member the form of its value. A producer in another language computes the same
partition with any BLAKE2b implementation.

Key types are limited to those with one obvious text form: ``str``, ``int``,
``uuid.UUID``, enums whose values are str or int, ``Literal`` of str or int, unions of
these, and ``NewType``/``Annotated`` wrappers of them. Refused: ``bool`` (a flag, not an
identity: two partitions at most), ``float`` (``1.0`` and ``1``, NaN), ``None`` and
optionals (every keyless event would pile into one partition), and anything else
(dates, bytes, models, lists: no single canonical text).
"""

from __future__ import annotations

import hashlib
import types
import typing
import uuid
from enum import Enum
from typing import TYPE_CHECKING, Annotated, Literal, Union, get_args, get_origin

from typed_events._settings import require_int
from typed_events.errors import UsageError

if TYPE_CHECKING:
    from typed_events.events import Event

__all__ = ["KEY_TYPES", "key_bytes", "key_type_problem", "partition_of", "partition_of_key"]

KEY_TYPES = "str, int, uuid.UUID, an enum of str or int values, or a Literal of those"
"""The types a partition key field may have, in words (for error messages)."""


def key_type_problem(annotation: object) -> str | None:
    """Why a field of type ``annotation`` cannot be a partition key; None if it can."""
    if isinstance(annotation, typing.NewType):
        return key_type_problem(annotation.__supertype__)
    origin = get_origin(annotation)
    if origin is Annotated:
        return key_type_problem(get_args(annotation)[0])
    if origin is Literal:
        bad = [v for v in get_args(annotation) if not _is_key_scalar(v)]
        return f"Literal value {bad[0]!r} is not a str or int" if bad else None
    if origin is Union or origin is types.UnionType:
        members = get_args(annotation)
        if type(None) in members:
            return (
                "it may be None, and every event without a key would land in one partition; "
                "make the field required (or give it a str/int default)"
            )
        problems = [p for m in members if (p := key_type_problem(m)) is not None]
        return problems[0] if problems else None
    if not isinstance(annotation, type):
        return f"{annotation!r} is not a type with one canonical text form"
    if issubclass(annotation, bool):
        return "bool is a flag, not an identity (it spreads events over two partitions at most)"
    if issubclass(annotation, Enum):
        bad = [m for m in annotation if not _is_key_scalar(m.value)]
        if bad:
            return f"enum member {bad[0]!r} has a value that is not a str or int"
        return None
    if issubclass(annotation, (str, int, uuid.UUID)):
        return None
    if issubclass(annotation, float):
        return "a float has no single canonical text (1.0 and 1, NaN)"
    return f"{annotation.__qualname__} has no single canonical text form"


def _is_key_scalar(value: object) -> bool:
    return isinstance(value, (str, int)) and not isinstance(value, bool)


def key_bytes(value: object) -> bytes:
    """The canonical bytes of a partition key value, which the partition hash is over.

    :raises UsageError: for a value of a type :func:`key_type_problem` refuses.
    """
    if isinstance(value, Enum):
        value = value.value
    # The base classes' own methods, so a subclass's __str__ cannot change the form.
    if isinstance(value, str):
        return str.encode(value, "utf-8", "surrogatepass")
    if isinstance(value, int) and not isinstance(value, bool):
        return int.__repr__(value).encode("ascii")
    if isinstance(value, uuid.UUID):
        return uuid.UUID.__str__(value).encode("ascii")
    raise UsageError(
        f"partition key value {value!r} ({type(value).__qualname__}) has no canonical form; "
        f"a key is {KEY_TYPES}"
    )


def partition_of_key(value: object, partitions: int) -> int:
    """The partition (``0 <= p < partitions``) of events whose key is ``value``."""
    require_int("partitions", partitions, 1)
    digest = hashlib.blake2b(key_bytes(value), digest_size=8).digest()
    return int.from_bytes(digest, "big") % partitions


def partition_of(event: Event, partitions: int) -> int:
    """The partition of ``event``: the stable hash of its ``partition_key`` field's value.

    :raises UsageError: if the event's class declares no ``partition_key=``.
    :raises ConfigurationError: if ``partitions`` is not an integer >= 1.
    """
    field = type(event).event_partition_key
    if field is None:
        cls = type(event)
        raise UsageError(
            f"{cls.__module__}.{cls.__qualname__} (event {cls.event_id!r}) has no partition "
            f"key; declare one, e.g. class {cls.__name__}(Event, partition_key='order_id')"
        )
    return partition_of_key(getattr(event, field), partitions)
