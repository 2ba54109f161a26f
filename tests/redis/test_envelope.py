"""The CloudEvents 1.0 structured JSON envelope every distributed backend uses."""

from __future__ import annotations

import gc
import json
import weakref
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from uuid import UUID

import pytest
from pydantic import ConfigDict

from typed_events import Event, EventRegistry
from typed_events.envelope import (
    EnvelopeError,
    decode,
    encode,
    preset_attributes,
    read_attributes,
)


class Paid(Event, event_id="paid"):
    model_config = ConfigDict(frozen=True, extra="forbid", strict=True)

    order: UUID
    amount: Decimal
    at: datetime
    tags: tuple[str, ...] = ()
    note: str | None = None


PAID = Paid(
    order=UUID("12345678-1234-5678-1234-567812345678"),
    amount=Decimal("12.50"),
    at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC),
    tags=("a", "b"),
)
REGISTRY = EventRegistry([Paid])


def test_round_trip_keeps_the_event_exactly_even_for_a_strict_model() -> None:
    raw = encode(PAID, source="/typed-events/shop")
    envelope = decode(raw, REGISTRY)
    assert envelope.event == PAID
    assert type(envelope.event) is Paid
    assert envelope.type == "paid"
    assert envelope.source == "/typed-events/shop"
    assert str(UUID(envelope.id)) == envelope.id
    assert envelope.time is not None
    assert abs(envelope.time - datetime.now(UTC)) < timedelta(minutes=5)
    assert envelope.extensions == {}


def test_the_wire_format_is_cloudevents_structured_json() -> None:
    moment = datetime(2026, 5, 6, 7, 8, 9, 123456, tzinfo=timezone(timedelta(hours=2)))
    raw = encode(
        PAID, source="/s", id="evt-1", time=moment, extensions={"traceparent": "00-ab-cd-01"}
    )
    assert json.loads(raw) == {
        "specversion": "1.0",
        "id": "evt-1",
        "source": "/s",
        "type": "paid",
        "time": "2026-05-06T05:08:09.123456Z",
        "datacontenttype": "application/json",
        "eventversion": 1,
        "traceparent": "00-ab-cd-01",
        "data": {
            "order": "12345678-1234-5678-1234-567812345678",
            "amount": "12.50",
            "at": "2026-01-02T03:04:05Z",
            "tags": ["a", "b"],
            "note": None,
        },
    }
    assert decode(raw, REGISTRY).extensions == {"traceparent": "00-ab-cd-01"}


def test_extension_names_and_naive_times_are_refused() -> None:
    with pytest.raises(ValueError, match="extension attribute 'Trace-Parent' is not allowed"):
        encode(PAID, source="/s", extensions={"Trace-Parent": "x"})
    with pytest.raises(ValueError, match="extension attribute 'type' is not allowed"):
        encode(PAID, source="/s", extensions={"type": "x"})
    with pytest.raises(ValueError, match="timezone-aware"):
        encode(PAID, source="/s", time=datetime(2026, 1, 1))  # naive: the point


def envelope_with(**changes: object) -> bytes:
    obj = json.loads(encode(PAID, source="/s", id="evt-9"))
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not _DROP}).encode()


_DROP = object()


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (b"{", "bad json", "not JSON"),
        (b"\xff\xfe", "bad json", "not JSON"),
        (b"[1, 2]", "bad envelope", "expected a JSON object, got list"),
        (envelope_with(specversion="0.3"), "bad envelope", "'specversion' must be '1.0'"),
        (envelope_with(id=""), "bad envelope", "'id' must be a non-empty string"),
        (envelope_with(source=_DROP), "bad envelope", "'source' must be a non-empty string"),
        (envelope_with(data=_DROP), "bad envelope", "'data' is missing"),
        (envelope_with(datacontenttype="text/xml"), "bad envelope", "must be JSON"),
        (envelope_with(time="yesterday"), "bad envelope", "time: Input should be a valid"),
        (envelope_with(type="refunded"), "unknown type", "no event class declares id 'refunded'"),
        (envelope_with(data={"amount": "1"}), "invalid data", "data.order: Field required"),
        (envelope_with(data={**json.loads(encode(PAID, source="/s"))["data"], "extra": 1}),
         "invalid data", "data.extra: Extra inputs are not permitted"),
    ],
)  # fmt: skip
def test_every_undeliverable_message_has_a_reason(raw: bytes, reason: str, detail: str) -> None:
    with pytest.raises(EnvelopeError) as info:
        decode(raw, REGISTRY)
    assert info.value.reason == reason
    assert detail in info.value.detail
    assert str(info.value) == f"{reason}: {info.value.detail}"


def test_the_error_names_the_event_it_could_read() -> None:
    with pytest.raises(EnvelopeError) as info:
        decode(envelope_with(data={}), REGISTRY)
    assert info.value.envelope_id == "evt-9"
    assert info.value.event_type == "paid"


def test_size_is_checked_before_parsing() -> None:
    raw = encode(PAID, source="/s")
    with pytest.raises(EnvelopeError, match=rf"too large: {len(raw)} bytes, more than"):
        decode(raw, REGISTRY, max_bytes=len(raw) - 1)
    assert decode(raw, REGISTRY, max_bytes=len(raw)).event == PAID


def test_a_type_on_the_wrong_stream_is_a_bad_envelope() -> None:
    with pytest.raises(EnvelopeError, match="type 'paid' arrived where only 'shipped' belongs"):
        decode(encode(PAID, source="/s"), EventRegistry([Paid]), expected_type="shipped")


def test_read_attributes_needs_no_event_class() -> None:
    attributes = read_attributes(encode(PAID, source="/s", id="evt-2"))
    assert attributes["id"] == "evt-2"
    assert attributes["data"]["amount"] == "12.50"


def test_decoding_does_not_keep_event_classes_alive() -> None:
    class Temporary(Event, event_id="temporary_envelope_event"):
        n: int

    decode(encode(Temporary(n=1), source="/s"), EventRegistry([Temporary]))
    ref = weakref.ref(Temporary)
    del Temporary
    gc.collect()
    assert ref() is None


def test_preset_attributes_give_encode_a_stored_id_and_time_inside_the_block_only() -> None:
    stored = datetime(2026, 5, 6, 7, 8, 9, tzinfo=UTC)
    with preset_attributes("row-1", time=stored):
        inside = decode(encode(PAID, source="/s"), REGISTRY)
        explicit = decode(encode(PAID, source="/s", id="mine"), REGISTRY)  # an explicit id wins
        with preset_attributes("row-2"):
            nested = decode(encode(PAID, source="/s"), REGISTRY)
        again = decode(encode(PAID, source="/s"), REGISTRY)
    after = decode(encode(PAID, source="/s"), REGISTRY)
    assert (inside.id, inside.time) == ("row-1", stored)
    assert explicit.id == "mine"
    assert explicit.time is not None
    assert explicit.time != stored
    assert nested.id == "row-2"
    assert nested.time != stored  # no preset time there: now
    assert (again.id, again.time) == ("row-1", stored)
    assert after.id not in {"row-1", "row-2", "mine"}
