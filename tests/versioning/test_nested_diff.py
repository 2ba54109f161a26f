"""``schema diff`` says what changed inside nested models, enums and list items."""

from __future__ import annotations

import json
from enum import StrEnum
from typing import Any

from pydantic import BaseModel

from typed_events import Event
from typed_events.schema import asyncapi_document, diff_schemas, event_schemas

ID = "nested_diff_order"


def _document(*events: type[Event]) -> Any:
    return json.loads(json.dumps(event_schemas(events)))


def _changes(old: type[Event], new: type[Event]) -> list[tuple[str, str]]:
    return [(c.kind, c.message) for c in diff_schemas(_document(old), _document(new))]


# Each version in its own function: the nested models keep their name across versions.
def test_a_field_inside_a_nested_model_is_named() -> None:
    def v1() -> Any:
        class Address(BaseModel):
            street: str
            zip: str

        class Old(Event, event_id=ID):
            shipping_address: Address

        return _document(Old)

    def v2() -> Any:
        class Address(BaseModel):
            street: str
            zip: int

        class New(Event, event_id=ID):
            shipping_address: Address

        return _document(New)

    changes = diff_schemas(v1(), v2())
    assert [(c.kind, c.message) for c in changes] == [
        (
            "breaking",
            'field "shipping_address" changed type: Address -> Address '
            '(field "zip": string -> integer)',
        )
    ]


def test_nested_models_two_levels_deep_and_optional() -> None:
    def v1() -> Any:
        class Geo(BaseModel):
            lat: float

        class Address(BaseModel):
            geo: Geo

        class Old(Event, event_id=ID):
            billing: Address | None = None

        return _document(Old)

    def v2() -> Any:
        class Geo(BaseModel):
            lat: float
            lon: float

        class Address(BaseModel):
            geo: Geo

        class New(Event, event_id=ID):
            billing: Address | None = None

        return _document(New)

    [change] = diff_schemas(v1(), v2())
    assert change.message == (
        'field "billing" narrowed: Address | null -> Address | null '
        '(field "geo": Geo -> Geo (new required field "lon"))'
    )


class Status(StrEnum):
    PLACED = "placed"
    CANCELLED = "cancelled"


class StatusWithoutCancel(StrEnum):
    PLACED = "placed"


def test_an_enum_losing_a_member_says_which() -> None:
    class Old(Event, event_id=ID):
        status: Status

    class New(Event, event_id=ID):
        status: StatusWithoutCancel

    assert _changes(Old, New) == [
        (
            "breaking",
            "field \"status\" narrowed: Status -> StatusWithoutCancel ('cancelled' removed)",
        )
    ]
    assert _changes(New, Old) == [
        (
            "compatible",
            "field \"status\" widened: StatusWithoutCancel -> Status ('cancelled' added)",
        )
    ]


def test_list_items_say_what_changed_inside_them() -> None:
    def v1() -> Any:
        class LineItem(BaseModel):
            sku: str
            qty: int = 1

        class Old(Event, event_id=ID):
            items: list[LineItem]

        return _document(Old)

    def v2() -> Any:
        class LineItem(BaseModel):
            sku: str
            qty: int

        class New(Event, event_id=ID):
            items: list[LineItem]

        return _document(New)

    [change] = diff_schemas(v1(), v2())
    assert change.breaking
    assert change.message == (
        'field "items" narrowed: array[LineItem] -> array[LineItem] '
        '(items: field "qty" became required)'
    )


def test_a_field_removed_from_a_closed_nested_model() -> None:
    def v1() -> Any:
        class Strict(BaseModel, extra="forbid"):
            a: int
            b: int = 0

        class Old(Event, event_id=ID):
            part: Strict

        return _document(Old)

    def v2() -> Any:
        class Strict(BaseModel, extra="forbid"):
            a: int

        class New(Event, event_id=ID):
            part: Strict

        return _document(New)

    [change] = diff_schemas(v1(), v2())
    assert change.message == 'field "part" narrowed: Strict -> Strict (field "b" removed)'


def test_dict_values_are_named() -> None:
    class Old(Event, event_id=ID):
        counts: dict[str, int]

    class New(Event, event_id=ID):
        counts: dict[str, str]

    assert _changes(Old, New) == [
        ("breaking", 'field "counts" changed type: object -> object (values: integer -> string)')
    ]


def test_asyncapi_documents_get_the_same_nested_messages() -> None:
    class Old(Event, event_id=ID):
        status: Status

    class New(Event, event_id=ID):
        status: StatusWithoutCancel

    old = json.loads(json.dumps(asyncapi_document([Old], title="t")))
    new = json.loads(json.dumps(asyncapi_document([New], title="t")))
    [change] = diff_schemas(old, new)
    assert change.message.endswith("('cancelled' removed)")
