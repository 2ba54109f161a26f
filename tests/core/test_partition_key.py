"""``partition_key=``: refused at class definition unless it names a field with a stable
key, and the partition its value hashes to, pinned so that a change is caught."""

from __future__ import annotations

import uuid
from collections import Counter
from enum import Enum, IntEnum, StrEnum
from typing import Annotated, Any, Literal, NewType

import pytest
from pydantic import Field, create_model

from typed_events import Event, EventDefinitionError, UsageError
from typed_events._partitioning import key_bytes, partition_of, partition_of_key
from typed_events.errors import ConfigurationError
from typed_events.schema import event_schemas

OrderId = NewType("OrderId", str)


class Color(StrEnum):
    RED = "red"
    BLUE = "blue"


class Level(IntEnum):
    LOW = 1
    HIGH = 2


class Mixed(Enum):
    A = "a"
    B = 2


class Flagged(Enum):
    YES = True
    NO = False


def define(name: str, annotation: Any) -> type[Event]:
    """An event class ``name`` keyed by its one field ``key: annotation``."""
    return create_model(
        name,
        __base__=Event,
        __module__=__name__,
        __cls_kwargs__={"event_id": f"pk_{name.lower()}", "partition_key": "key"},
        key=(annotation, ...),
    )


class Placed(Event, event_id="pk_order_placed", partition_key="order_id"):
    order_id: str
    total: int


def test_the_option_is_stored_on_the_class_and_absent_by_default() -> None:
    class Plain(Event, event_id="pk_plain"):
        n: int

    assert Placed.event_partition_key == "order_id"
    assert Plain.event_partition_key is None
    assert Event.event_partition_key is None


def test_a_subclass_inherits_its_bases_key_and_may_name_another() -> None:
    class Express(Placed, event_id="pk_express"):
        courier: str

    class ByCourier(Placed, event_id="pk_by_courier", partition_key="courier"):
        courier: str

    assert Express.event_partition_key == "order_id"
    assert ByCourier.event_partition_key == "courier"
    assert Placed.event_partition_key == "order_id"  # the base is untouched


def test_a_name_that_is_not_a_field_is_refused_naming_the_fields() -> None:
    with pytest.raises(EventDefinitionError) as caught:

        class Typo(Event, event_id="pk_typo", partition_key="order"):  # pyright: ignore[reportUnusedClass]
            order_id: str
            total: int

    message = str(caught.value)
    assert "Typo(Event, partition_key='order')" in message
    assert "event 'pk_typo' has no field 'order' (its fields: order_id, total)" in message
    assert "name the field whose value orders these events" in message


@pytest.mark.parametrize("bad", [1, b"order_id", ["order_id"]])
def test_a_key_that_is_not_a_str_is_refused(bad: object) -> None:
    with pytest.raises(EventDefinitionError, match=r"partition_key must be a field name \(a str\)"):

        class Odd(Event, event_id="pk_odd", partition_key=bad):  # pyright: ignore[reportUnusedClass, reportArgumentType]
            order_id: str


@pytest.mark.parametrize(
    ("annotation", "why"),
    [
        (float, "a float has no single canonical text"),
        (bool, "bool is a flag, not an identity"),
        (str | None, "it may be None"),
        (list[str], "is not a type with one canonical text form"),
        (dict[str, int], "is not a type with one canonical text form"),
        (bytes, "bytes has no single canonical text form"),
        (Flagged, "has a value that is not a str or int"),
        (Literal["a", True], "Literal value True is not a str or int"),
        (int | float, "a float has no single canonical text"),
    ],
)
def test_a_field_without_a_stable_key_is_refused_saying_why(annotation: object, why: str) -> None:
    with pytest.raises(EventDefinitionError) as caught:
        define("Unstable", annotation)
    message = str(caught.value)
    assert "field 'key' of event 'pk_unstable' cannot be a partition key" in message
    assert why in message
    assert "str, int, uuid.UUID, an enum of str or int values" in message  # how to fix


def test_a_nested_model_is_refused() -> None:
    with pytest.raises(EventDefinitionError, match="Placed has no single canonical text form"):

        class Wrapping(Event, event_id="pk_wrapping", partition_key="order"):  # pyright: ignore[reportUnusedClass]
            order: Placed


def test_a_subclass_that_retypes_an_inherited_key_is_refused() -> None:
    with pytest.raises(EventDefinitionError, match=r"inherited from a base class.*a float"):

        class Retyped(Placed, event_id="pk_retyped"):  # pyright: ignore[reportUnusedClass]
            order_id: float  # type: ignore[assignment]  # the mistake under test


@pytest.mark.parametrize(
    "annotation",
    [
        str,
        int,
        uuid.UUID,
        Color,
        Level,
        Mixed,
        OrderId,
        Literal["a", "b", 3],
        int | str,
        Annotated[str, Field(min_length=1)],
    ],
)
def test_fields_with_a_canonical_text_are_accepted(annotation: object) -> None:
    cls = define("Stable", annotation)
    assert cls.event_partition_key == "key"


# Pinned: the partition of a key must never change between releases, or events of one
# key written before and after an upgrade land in two partitions. The digests are
# BLAKE2b-64 of the canonical bytes, as `printf 'order-42' | b2sum -l 64` prints them.
GOLDEN = [
    ("order-42", b"order-42", "94aeb5761a06c9f3", 3, 4),
    ("", b"", "e4a6a0577479b2b4", 4, 0),
    ("ü日本", "ü日本".encode(), "cd0461b40ff5a761", 1, 5),
    (42, b"42", "57b43cf02666687a", 10, 1),
    (-7, b"-7", "64a1e6462f7c2f18", 8, 2),
    (10**30, b"1" + b"0" * 30, "c7d9e223fcd635e2", 2, 0),
    (
        uuid.UUID("12345678-1234-5678-1234-567812345678"),
        b"12345678-1234-5678-1234-567812345678",
        "b3662e28649e27dd",
        13,
        1,
    ),
]


@pytest.mark.parametrize(("value", "canonical", "digest", "of_16", "of_7"), GOLDEN)
def test_partitions_are_pinned_golden_values(
    value: object, canonical: bytes, digest: str, of_16: int, of_7: int
) -> None:
    assert key_bytes(value) == canonical
    assert int(digest, 16) % 16 == of_16  # the values below follow from the digest
    assert partition_of_key(value, 16) == of_16
    assert partition_of_key(value, 7) == of_7
    assert partition_of_key(value, 1) == 0


def test_enum_members_and_subclasses_hash_as_their_values_text() -> None:
    class Shouty(str):
        def __str__(self) -> str:
            return self.upper()

    assert key_bytes(Color.RED) == b"red"
    assert key_bytes(Level.HIGH) == b"2"
    assert key_bytes(Mixed.B) == b"2"
    assert key_bytes(Shouty("abc")) == b"abc"  # the str's own text, not its __str__
    assert partition_of_key(Level.HIGH, 16) == partition_of_key(2, 16) == partition_of_key("2", 16)


def test_the_partition_of_an_event_is_the_partition_of_its_key() -> None:
    event = Placed(order_id="order-42", total=5)
    assert partition_of(event, 16) == 3
    assert partition_of(event, 7) == 4


def test_an_event_without_a_key_or_a_bad_partition_count_is_refused() -> None:
    class Keyless(Event, event_id="pk_keyless"):
        n: int

    with pytest.raises(UsageError, match=r"has no partition key; declare one"):
        partition_of(Keyless(n=1), 16)
    for bad in (0, -1, True, 2.0):
        with pytest.raises(ConfigurationError, match="partitions must be an int >= 1"):
            partition_of(Placed(order_id="a", total=1), bad)  # type: ignore[arg-type]
    with pytest.raises(UsageError, match="has no canonical form"):
        key_bytes(1.5)


def test_keys_spread_evenly_over_the_partitions() -> None:
    counts = Counter(partition_of_key(f"order-{n}", 16) for n in range(100))
    assert set(counts) == set(range(16))  # none empty
    assert max(counts.values()) <= 2 * 100 / 16  # no partition gets twice its share
    ids = Counter(partition_of_key(n, 16) for n in range(1600))
    assert min(ids.values()) >= 100 * 0.7
    assert max(ids.values()) <= 100 * 1.3


def test_the_schema_names_the_partition_key() -> None:
    class Plain(Event, event_id="pk_schema_plain"):
        n: int

    document = event_schemas([Placed, Plain])
    assert document["events"]["pk_order_placed"]["x-typed-events-partition-key"] == "order_id"
    assert "x-typed-events-partition-key" not in document["events"]["pk_schema_plain"]
