"""The schema gate as functions: ``lock_schemas`` and ``check_lock``, edges included."""

from __future__ import annotations

import json
from typing import Any

import pytest

from typed_events import Event, upcaster
from typed_events.schema import (
    LOCK_FORMAT,
    CompatibilityMode,
    SchemaDocumentError,
    check_lock,
    lock_schemas,
)

ID = "lock_api_user"


def _lock(*events: type[Event], previous: object = None) -> Any:
    return json.loads(json.dumps(lock_schemas(events, previous)))


def _v1() -> type[Event]:
    class User(Event, event_id=ID):
        name: str

    return User


def test_the_modes_say_which_directions_and_versions_they_hold() -> None:
    table = {
        mode.value: (mode.backward, mode.forward, mode.transitive) for mode in CompatibilityMode
    }
    assert table == {
        "backward": (True, False, False),
        "backward-transitive": (True, False, True),
        "forward": (False, True, False),
        "forward-transitive": (False, True, True),
        "full": (True, True, False),
        "full-transitive": (True, True, True),
    }


def test_an_unknown_mode_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="'sideways' is not a valid CompatibilityMode"):
        check_lock(_lock(_v1()), [_v1()], "sideways")


@pytest.mark.parametrize(
    ("document", "expected"),
    [
        ([], "is not a schema lock"),
        ({"format": "typed-events/schemas/v1", "events": {}}, "is not a schema lock"),
        ({"format": LOCK_FORMAT}, "has no 'events' object"),
        ({"format": LOCK_FORMAT, "events": {"x": 1}}, "event 'x' needs 'schemas'"),
        ({"format": LOCK_FORMAT, "events": {"x": {"schemas": {"one": {}}}}}, "by version"),
        ({"format": LOCK_FORMAT, "events": {"x": {"schemas": {"1": []}}}}, "by version"),
    ],
)
def test_a_document_that_is_not_a_lock_is_refused(document: object, expected: str) -> None:
    with pytest.raises(SchemaDocumentError, match=expected):
        check_lock(document, [], "backward")
    with pytest.raises(SchemaDocumentError, match=expected):
        lock_schemas([], document)


def test_a_version_lower_than_the_lock_is_breaking() -> None:
    class User(Event, event_id=ID, version=2):
        full_name: str

    upcaster(User, from_version=1)(lambda data: data)
    lock = _lock(User)
    [finding] = check_lock(lock, [_v1()], "forward")
    assert finding.breaking
    assert finding.message == "version 1 is older than version 2 in the lock"
    assert finding.fix == "versions only go up: set User's version= to 2 or more"


def test_a_broken_chain_is_breaking_in_the_gate_too() -> None:
    class User(Event, event_id=ID, version=2):
        full_name: str

    findings = check_lock(_lock(_v1()), [User], "backward")
    assert (findings[0].breaking, findings[0].version) == (True, 1)
    assert "no upcaster turns version 1 into 2" in findings[0].message
    assert findings[0].fix.startswith("add @upcaster(User, from_version=1)")


def test_lock_keeps_older_versions_only_while_the_class_reads_them() -> None:
    v1 = _v1()
    first = _lock(v1)

    class User(Event, event_id=ID, version=3, min_version=2):
        full_name: str

    upcaster(User, from_version=2)(lambda data: data)
    first["events"][ID]["schemas"]["2"] = {"title": "version 2 as it was"}
    locked = _lock(User, previous=first)["events"][ID]
    assert sorted(locked["schemas"]) == ["2", "3"]
    assert locked["schemas"]["2"] == {"title": "version 2 as it was"}
    assert (locked["version"], locked["min_version"]) == (3, 2)


def test_nested_changes_are_explained_in_the_gate() -> None:
    from pydantic import BaseModel

    def version(zip_type: type) -> type[Event]:
        class Address(BaseModel):
            zip: zip_type  # type: ignore[valid-type]

        class Order(Event, event_id="lock_api_order"):
            shipping_address: Address

        return Order

    [finding] = check_lock(_lock(version(str)), [version(int)], "backward")
    assert finding.field == "shipping_address"
    assert finding.message.startswith(
        'field "shipping_address" changed type: Address -> Address (field "zip": string -> integer)'
    )
