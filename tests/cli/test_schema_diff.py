"""``typed-events schema diff OLD NEW``: which changes break consumers, which do not."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any, Literal

import pytest
from pydantic import BaseModel, Field

from typed_events import Event
from typed_events.schema import (
    SchemaDocumentError,
    asyncapi_document,
    diff_schemas,
    event_schemas,
)

from .conftest import run_cli

# Ids are unique to this module: old and new versions of one event share an id.
ID = "diff_test_order"


def _document(*events: type[Event]) -> Any:
    return json.loads(json.dumps(event_schemas(events)))


def _changes(old: type[Event], new: type[Event]) -> list[tuple[str, str]]:
    return [(c.kind, c.message) for c in diff_schemas(_document(old), _document(new))]


class OrderV1(Event, event_id=ID):
    order_id: int
    total: float
    note: str | None = None


def test_no_change() -> None:
    class Same(Event, event_id=ID):
        order_id: int
        total: float
        note: str | None = None

    assert _changes(OrderV1, Same) == []


def test_optional_field_added_is_compatible() -> None:
    class Added(Event, event_id=ID):
        order_id: int
        total: float
        note: str | None = None
        coupon: str = ""

    assert _changes(OrderV1, Added) == [("compatible", 'optional field "coupon" added')]


def test_required_field_added_and_field_removed_are_breaking() -> None:
    class Changed(Event, event_id=ID):
        order_id: int
        total: float
        currency: str

    assert _changes(OrderV1, Changed) == [
        ("breaking", 'new required field "currency"'),
        ("breaking", 'field "note" removed'),
    ]


def test_narrowed_and_widened_types() -> None:
    class Retyped(Event, event_id=ID):
        order_id: int | None  # widened: also null
        total: int  # narrowed: number -> integer
        note: str = ""  # narrowed: no more null

    assert _changes(OrderV1, Retyped) == [
        ("breaking", 'field "note" narrowed: string | null -> string'),
        ("breaking", 'field "total" narrowed: number -> integer'),
        ("compatible", 'field "order_id" widened: integer -> integer | null'),
    ]


def test_an_unrelated_type_is_a_breaking_change() -> None:
    class Renamed(Event, event_id=ID):
        order_id: str
        total: float
        note: str | None = None

    assert _changes(OrderV1, Renamed) == [
        ("breaking", 'field "order_id" changed type: integer -> string')
    ]


def test_required_and_optional_flips() -> None:
    class Flipped(Event, event_id=ID):
        order_id: int = 0
        total: float
        note: str | None

    assert _changes(OrderV1, Flipped) == [
        ("breaking", 'field "note" became required'),
        ("compatible", 'field "order_id" became optional'),
    ]


def test_constraints_literals_and_containers() -> None:
    class Old(Event, event_id=ID):
        code: str = Field(max_length=10)
        channel: Literal["web", "api"]
        items: list[int]
        extra: dict[str, int]

    class New(Event, event_id=ID):
        code: str = Field(max_length=5)
        channel: Literal["web", "api", "shop"]
        items: list[float]
        extra: dict[str, str]

    assert _changes(Old, New) == [
        ("breaking", 'field "code" narrowed: string (maxLength=10) -> string (maxLength=5)'),
        ("breaking", 'field "extra" changed type: object -> object (values: integer -> string)'),
        (
            "compatible",
            "field \"channel\" widened: 'web' | 'api' -> 'web' | 'api' | 'shop' ('shop' added)",
        ),
        ("compatible", 'field "items" widened: array[integer] -> array[number]'),
    ]


def test_nested_models_are_compared_through_their_refs() -> None:
    class AddressV1(BaseModel):
        street: str

    class AddressV2(BaseModel):
        street: str
        city: str

    class Old(Event, event_id=ID):
        address: AddressV1

    class New(Event, event_id=ID):
        address: AddressV2

    assert _changes(Old, New) == [
        ("breaking", 'field "address" narrowed: AddressV1 -> AddressV2 (new required field "city")')
    ]
    assert _changes(New, Old) == [
        (
            "compatible",
            'field "address" widened: AddressV2 -> AddressV1 (required field "city" removed)',
        )
    ]


def test_recursive_models_terminate() -> None:
    class Node(BaseModel):
        name: str
        children: list[Node] = []

    class Tree(Event, event_id=ID):
        root: Node

    assert _changes(Tree, Tree) == []


def test_events_added_and_removed() -> None:
    class Refund(Event, event_id="diff_test_refund"):
        amount: float

    changes = diff_schemas(_document(OrderV1), _document(Refund))
    assert [(c.event_id, c.kind, c.message) for c in changes] == [
        (ID, "breaking", "event removed"),
        ("diff_test_refund", "compatible", "event added"),
    ]


def test_asyncapi_documents_diff_too() -> None:
    class New(Event, event_id=ID):
        order_id: int
        total: float

    old = json.loads(json.dumps(asyncapi_document([OrderV1], title="t")))
    new = json.loads(json.dumps(asyncapi_document([New], title="t")))
    assert [(c.kind, c.message) for c in diff_schemas(old, new)] == [
        ("breaking", 'field "note" removed')
    ]


# -- the command --------------------------------------------------------------------------


@pytest.fixture
def versions(tmp_path: Path) -> tuple[Path, Path, Path]:
    class Compatible(Event, event_id=ID):
        order_id: int
        total: float
        note: str | None = None
        coupon: str = ""

    class Breaking(Event, event_id=ID):
        order_id: str
        total: float

    paths = []
    for name, event in (("old", OrderV1), ("ok", Compatible), ("bad", Breaking)):
        path = tmp_path / f"{name}.json"
        path.write_text(json.dumps(event_schemas([event])))
        paths.append(path)
    return paths[0], paths[1], paths[2]


def test_command_exits_0_on_compatible_changes(versions: tuple[Path, Path, Path]) -> None:
    old, ok, _ = versions
    result = run_cli("schema", "diff", str(old), str(ok))
    assert (result.code, result.err) == (0, "")
    assert result.out == (
        f'compatible: {ID}: optional field "coupon" added\n0 breaking, 1 compatible change(s)\n'
    )
    same = run_cli("schema", "diff", str(old), str(old))
    assert (same.code, same.out) == (0, "No changes.\n")


def test_command_exits_1_on_breaking_changes(versions: tuple[Path, Path, Path]) -> None:
    old, _, bad = versions
    result = run_cli("schema", "diff", str(old), str(bad))
    assert result.code == 1
    assert result.out.splitlines() == [
        f'breaking: {ID}: field "note" removed',
        f'breaking: {ID}: field "order_id" changed type: integer -> string',
        "2 breaking, 0 compatible change(s)",
    ]
    as_json = json.loads(run_cli("schema", "diff", str(old), str(bad), "--format", "json").out)
    assert as_json["breaking"] is True
    assert as_json["changes"][0] == {
        "event_id": ID,
        "breaking": True,
        "message": 'field "note" removed',
        "field": "note",
        "kind": "breaking",
    }


def test_command_rejects_files_that_are_not_schema_documents(tmp_path: Path) -> None:
    not_json = tmp_path / "x.json"
    not_json.write_text("{oops")
    other = tmp_path / "other.json"
    other.write_text('{"openapi": "3.1.0"}')

    missing = run_cli("schema", "diff", str(tmp_path / "missing.json"), str(other))
    assert missing.code == 2
    assert missing.err.startswith(f"typed-events: error: cannot read {tmp_path / 'missing.json'}: ")
    broken = run_cli("schema", "diff", str(not_json), str(other))
    assert broken.code == 2
    assert broken.err.startswith(f"typed-events: error: {not_json} is not JSON: ")
    unknown = run_cli("schema", "diff", str(other), str(other))
    assert unknown.code == 2
    assert unknown.err == (
        "typed-events: error: OLD is not an event schema document: expected the JSON that "
        "`typed-events schema APP` (or `--format asyncapi`) writes\n"
    )


@pytest.mark.parametrize(
    "document",
    [
        '{"events": {"user_created": 5}}',
        '{"asyncapi": "3.0.0", "components": {"messages": {"m": 5}}}',
        '{"asyncapi": "3.0.0", "components": []}',
    ],
)
def test_command_rejects_malformed_event_schemas_without_a_traceback(
    tmp_path: Path, document: str
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text(document)
    result = run_cli("schema", "diff", str(bad), str(bad))
    assert result.code == 2
    assert result.err.startswith("typed-events: error: OLD")
    assert "Traceback" not in result.err


# -- hand-written documents: the keywords pydantic rarely emits ------------------------------


def _one_field(schema: Any, *, closed: bool = True, defs: Any = None) -> Any:
    event: dict[str, Any] = {"type": "object", "properties": {"f": schema}, "required": ["f"]}
    if closed:
        event["additionalProperties"] = False
    if defs is not None:
        event["$defs"] = defs
    return {"format": "typed-events/schemas/v1", "events": {"e": event}}


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({"enum": ["a", "b"]}, {"enum": ["a"]}, ("breaking", "narrowed: 'a' | 'b' -> 'a'")),
        ({"const": "a"}, {"enum": ["a", "b"]}, ("compatible", "widened: 'a' -> 'a' | 'b'")),
        ({"const": True}, {"type": "boolean"}, ("compatible", "widened: True -> boolean")),
        ({"const": 1}, {"type": "boolean"}, ("breaking", "changed type: 1 -> boolean")),
        ({"const": 2}, {"type": "integer", "minimum": 0}, ("breaking", "changed type")),
        ({"type": "integer"}, {"not": {"type": "string"}}, ("breaking", "changed type")),
        (
            {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            {"type": "array", "prefixItems": [{"type": "number"}, {"type": "string"}]},
            ("compatible", "widened"),
        ),
        (
            {"type": "array", "prefixItems": [{"type": "integer"}]},
            {"type": "array", "prefixItems": [{"type": "integer"}, {"type": "string"}]},
            ("breaking", "changed type"),
        ),
        ({"type": "array"}, {"type": "array", "items": {"type": "string"}}, ("breaking", "")),
        ({"allOf": [{"type": "integer"}]}, {"type": "number"}, ("compatible", "widened")),
        ({"type": "number"}, {"allOf": [{"type": "integer"}, {"minimum": 0}]}, ("breaking", "")),
        ({"type": "integer"}, {"anyOf": [{"type": "integer"}], "minimum": 1}, ("breaking", "")),
        ({"type": "string"}, {}, ("compatible", "widened: string -> any")),
        ({}, {"type": "string"}, ("breaking", "narrowed: any -> string")),
        (
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            {"type": "object", "properties": {"a": {"type": "integer"}}, "required": ["a"]},
            ("breaking", "narrowed"),
        ),
        (
            {"type": "object", "additionalProperties": False},
            {"type": "object", "properties": {"a": {"type": "integer"}}},
            ("compatible", "widened"),
        ),
        (
            {"type": "object", "properties": {"a": {"type": "string"}}},
            {"type": "object", "additionalProperties": False},
            ("breaking", "narrowed"),
        ),
        (
            {"type": "object", "additionalProperties": {"type": "integer"}},
            {"type": "object", "properties": {"a": {"type": "string"}}},
            ("breaking", "changed type"),
        ),
    ],
)
def test_type_changes(old: Any, new: Any, expected: tuple[str, str]) -> None:
    changes = diff_schemas(_one_field(old), _one_field(new))
    assert len(changes) == 1, changes
    kind, text = expected
    assert changes[0].kind == kind
    assert text in changes[0].message


def test_a_field_removed_from_an_open_schema_is_compatible() -> None:
    old = _one_field({"type": "string"}, closed=False)
    new = {"format": "typed-events/schemas/v1", "events": {"e": {"type": "object"}}}
    assert [(c.kind, c.message) for c in diff_schemas(old, new)] == [
        ("compatible", 'field "f" removed (extra fields are allowed)')
    ]


def test_refs_must_point_inside_the_document() -> None:
    local = _one_field({"$ref": "#/$defs/Thing"}, defs={"Thing": {"type": "string"}})
    assert diff_schemas(local, local) == []
    external = _one_field({"$ref": "other.json#/Thing"})
    with pytest.raises(SchemaDocumentError, match=re.escape("external $ref 'other.json#/Thing'")):
        diff_schemas(external, local)
    dangling = _one_field({"$ref": "#/$defs/Nothing"})
    with pytest.raises(SchemaDocumentError, match="points at nothing"):
        diff_schemas(local, dangling)
