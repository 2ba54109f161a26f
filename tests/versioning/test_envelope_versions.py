"""The version in the envelope: written by encode, upcast or refused by decode."""

from __future__ import annotations

import gc
import json
import weakref
from typing import Any

import pytest

from typed_events import Event, EventRegistry, upcaster
from typed_events.envelope import EnvelopeError, decode, encode
from typed_events.errors import DeadLetterReason


class Written(Event, event_id="written"):
    """Version 1 of the event, as an older producer has it."""

    name: str
    age: int


def v1_envelope(**data: Any) -> bytes:
    raw = json.loads(encode(Written(name="Ann", age=3), source="/old", id="e-1"))
    raw["data"] = data or raw["data"]
    return json.dumps(raw).encode()


def to_v2(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data["name"], "age": data["age"]}


def to_months(data: dict[str, Any]) -> dict[str, Any]:
    return {"full_name": data["full_name"], "age_months": data["age"] * 12}


def unchanged(data: dict[str, Any]) -> dict[str, Any]:
    return data


def in_a_list(data: dict[str, Any]) -> list[dict[str, Any]]:
    return [data]


def v2_class(**keywords: Any) -> type[Event]:
    class Read(Event, event_id="written", version=2, **keywords):
        full_name: str
        age: int

    return Read


def test_encode_writes_the_version_as_an_integer_extension_attribute() -> None:
    read = v2_class()
    raw = json.loads(encode(read.model_validate({"full_name": "Ann", "age": 3}), source="/s"))
    assert raw["eventversion"] == 2
    assert json.loads(encode(Written(name="A", age=1), source="/s"))["eventversion"] == 1


def test_encode_refuses_eventversion_as_a_user_extension() -> None:
    with pytest.raises(ValueError, match="'eventversion' is not allowed"):
        encode(Written(name="A", age=1), source="/s", extensions={"eventversion": "9"})


def test_a_current_version_envelope_decodes_without_upcasting() -> None:
    envelope = decode(encode(Written(name="A", age=1), source="/s"), EventRegistry([Written]))
    assert envelope.version == 1
    assert envelope.event == Written(name="A", age=1)
    assert envelope.extensions == {}


def test_an_older_version_is_upcast_before_validation() -> None:
    read = v2_class()
    seen: list[dict[str, Any]] = []

    @upcaster(read, from_version=1)
    def rename(data: dict[str, Any]) -> dict[str, Any]:
        seen.append(dict(data))
        return {"full_name": data.pop("name"), **data}

    envelope = decode(v1_envelope(), EventRegistry([read]))
    assert envelope.event == read.model_validate({"full_name": "Ann", "age": 3})
    assert envelope.version == 1
    assert envelope.id == "e-1"
    assert seen == [{"name": "Ann", "age": 3}]


def test_an_envelope_without_eventversion_is_version_1() -> None:
    read = v2_class()
    upcaster(read, from_version=1)(to_v2)
    raw = json.loads(v1_envelope())
    del raw["eventversion"]
    envelope = decode(json.dumps(raw), EventRegistry([read]))
    assert envelope.event == read.model_validate({"full_name": "Ann", "age": 3})


def test_upcasters_chain_through_every_version() -> None:
    class Thrice(Event, event_id="written", version=3):
        full_name: str
        age_months: int

    upcaster(Thrice, from_version=1)(to_v2)
    upcaster(Thrice, from_version=2)(to_months)
    envelope = decode(v1_envelope(), EventRegistry([Thrice]))
    assert envelope.event == Thrice(full_name="Ann", age_months=36)
    raw = json.loads(encode(Thrice(full_name="Bo", age_months=1), source="/s"))
    raw["eventversion"], raw["data"] = 2, {"full_name": "Bo", "age": 2}
    assert decode(json.dumps(raw), EventRegistry([Thrice])).event == Thrice(
        full_name="Bo", age_months=24
    )


def test_a_newer_version_is_refused_never_half_parsed() -> None:
    raw = json.loads(encode(Written(name="A", age=1), source="/new", id="e-9"))
    raw["eventversion"] = 3  # the data would even validate as version 1
    with pytest.raises(EnvelopeError) as caught:
        decode(json.dumps(raw), EventRegistry([Written]))
    error = caught.value
    assert error.reason is DeadLetterReason.UNKNOWN_VERSION
    assert (error.envelope_id, error.event_type) == ("e-9", "written")
    assert "'written' version 3 is newer than this process knows" in error.detail
    assert "is at version 1" in error.detail


def test_a_version_older_than_min_version_is_refused() -> None:
    read = v2_class(min_version=2)
    with pytest.raises(EnvelopeError) as caught:
        decode(v1_envelope(), EventRegistry([read]))
    assert caught.value.reason is DeadLetterReason.UNKNOWN_VERSION
    assert "version 1 is older than" in caught.value.detail
    assert "min_version=2" in caught.value.detail


def test_a_missing_link_found_while_decoding_is_an_unknown_version() -> None:
    read = v2_class()  # no upcaster: the bus would refuse this chain; decode alone says why
    with pytest.raises(EnvelopeError) as caught:
        decode(v1_envelope(), EventRegistry([read]))
    assert caught.value.reason is DeadLetterReason.UNKNOWN_VERSION
    assert "add @upcaster(Read, from_version=1)" in caught.value.detail


@pytest.mark.parametrize("value", [0, -1, True, "two", 1.5, None, "", [1]])
def test_a_malformed_eventversion_is_a_bad_envelope(value: object) -> None:
    raw = json.loads(v1_envelope())
    raw["eventversion"] = value
    with pytest.raises(EnvelopeError) as caught:
        decode(json.dumps(raw), EventRegistry([Written]))
    assert caught.value.reason is DeadLetterReason.BAD_ENVELOPE
    assert "'eventversion' must be an integer >= 1" in caught.value.detail


def test_eventversion_as_a_string_of_digits_is_read() -> None:
    raw = json.loads(v1_envelope())
    raw["eventversion"] = "1"
    assert decode(json.dumps(raw), EventRegistry([Written])).version == 1


def test_a_failing_upcaster_makes_invalid_data_naming_it() -> None:
    read = v2_class()

    @upcaster(read, from_version=1)
    def needs_name(data: dict[str, Any]) -> dict[str, Any]:
        return {"full_name": data["name"], "age": data["age"]}

    with pytest.raises(EnvelopeError) as caught:
        decode(v1_envelope(nick="A", age=1), EventRegistry([read]))
    error = caught.value
    assert error.reason is DeadLetterReason.INVALID_DATA
    assert "needs_name (from version 1 of 'written') raised KeyError: 'name'" in error.detail
    assert isinstance(error.__cause__, KeyError)


def test_upcast_data_that_does_not_validate_is_invalid_data() -> None:
    read = v2_class()
    upcaster(read, from_version=1)(unchanged)  # forgot to rename
    with pytest.raises(EnvelopeError) as caught:
        decode(v1_envelope(), EventRegistry([read]))
    assert caught.value.reason is DeadLetterReason.INVALID_DATA
    assert "data.full_name: Field required" in caught.value.detail
    assert "data.name: Extra inputs are not permitted" in caught.value.detail


def test_an_upcaster_returning_values_json_cannot_hold_is_invalid_data() -> None:
    read = v2_class()

    @upcaster(read, from_version=1)
    def with_a_set(data: dict[str, Any]) -> dict[str, Any]:
        return {"full_name": data["name"], "age": {data["age"]}}

    with pytest.raises(EnvelopeError) as caught:
        decode(v1_envelope(), EventRegistry([read]))
    assert caught.value.reason is DeadLetterReason.INVALID_DATA
    assert "the upcast data of 'written' (from version 1) is not JSON" in caught.value.detail
    assert caught.value.envelope_id == "e-1"


def test_data_that_is_not_an_object_cannot_be_upcast() -> None:
    read = v2_class()
    upcaster(read, from_version=1)(unchanged)
    raw = json.loads(v1_envelope())
    raw["data"] = ["Ann", 3]
    with pytest.raises(EnvelopeError) as caught:
        decode(json.dumps(raw), EventRegistry([read]))
    assert caught.value.reason is DeadLetterReason.INVALID_DATA
    assert "must be a JSON object to upcast, got list" in caught.value.detail


def test_an_upcaster_returning_something_else_fails_at_the_next_step_or_validation() -> None:
    class Thrice(Event, event_id="written", version=3):
        full_name: str

    upcaster(Thrice, from_version=1)(in_a_list)  # type: ignore[type-var]
    upcaster(Thrice, from_version=2)(unchanged)
    with pytest.raises(EnvelopeError, match="version 2 data of 'written' must be a JSON object"):
        decode(v1_envelope(), EventRegistry([Thrice]))


def test_event_classes_with_upcasters_can_be_garbage_collected() -> None:
    read = v2_class()
    upcaster(read, from_version=1)(to_v2)
    decode(v1_envelope(), EventRegistry([read]))
    ref = weakref.ref(read)
    del read
    gc.collect()
    assert ref() is None
