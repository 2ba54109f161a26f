"""The envelope's cheap paths write and read exactly what the straightforward ones did.

``encode`` writes its header by hand (ids drawn in bulk, the time's seconds formatted
once a second) and ``decode`` parses a usual message once; each must be
indistinguishable from ``json.dumps`` of the attributes, ``uuid4``, ``strftime`` and the
two-parse decode, including for hostile input.
"""

from __future__ import annotations

import json
import os
import threading
from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from typed_events import Event, EventRegistry
from typed_events.envelope import EnvelopeError, decode, encode, preset_attributes


class Signed(Event, event_id="signed"):
    name: str
    count: int = 0


class Revised(Event, event_id="revised", version=3):
    name: str


REGISTRY = EventRegistry([Signed, Revised])
HOSTILE = ["plain", 'quo"te', "back\\slash", "new\nline\t\x00\x1f", "é ü ß 漢字", "\u2028", "🎉"]


def reference(event: Event, source: str, id: str, time: str, extensions: dict[str, Any]) -> bytes:
    """The envelope as encode wrote it before: json.dumps of the attributes, data spliced."""
    attributes: dict[str, Any] = {
        "specversion": "1.0",
        "id": id,
        "source": source,
        "type": event.event_id,
        "time": time,
        "datacontenttype": "application/json",
        "eventversion": event.event_version,
        **extensions,
    }
    head = json.dumps(attributes, separators=(",", ":"), ensure_ascii=False)
    return f'{head[:-1]},"data":{event.model_dump_json()}}}'.encode()


@pytest.mark.parametrize("text", HOSTILE)
def test_the_hand_written_header_is_byte_for_byte_what_json_dumps_writes(text: str) -> None:
    moment = datetime(2026, 5, 6, 7, 8, 9, 120, tzinfo=timezone(timedelta(hours=-3)))
    extensions = {"traceparent": text, "tracestate": "k=v", "n1": text * 2}
    for event in (Signed(name=text, count=-7), Revised(name=text)):
        raw = encode(event, source=f"/typed-events/{text}", id=text, time=moment,
                     extensions=extensions)  # fmt: skip
        assert raw == reference(
            event, f"/typed-events/{text}", text, "2026-05-06T10:08:09.000120Z", extensions
        )
        with preset_attributes(f"row-{text}", time=moment):
            preset = encode(event, source="/s")
        assert preset == reference(event, "/s", f"row-{text}", "2026-05-06T10:08:09.000120Z", {})


def test_a_lone_surrogate_is_refused_as_before() -> None:
    with pytest.raises(UnicodeEncodeError):
        encode(Signed(name="x"), source="/s", id="\ud800")


def test_new_ids_are_canonical_random_uuid4s_and_never_repeat() -> None:
    ids = [json.loads(encode(Signed(name="x"), source="/s"))["id"] for _ in range(3000)]
    assert len(set(ids)) == len(ids)  # more than one draw of 256
    for text in ids:
        parsed = UUID(text)
        assert str(parsed) == text
        assert parsed.version == 4
        assert parsed.variant == "specified in RFC 4122"


def test_threads_drawing_ids_at_once_never_share_one() -> None:
    found: list[list[str]] = [[] for _ in range(8)]

    def draw(mine: list[str]) -> None:
        mine.extend(json.loads(encode(Signed(name="x"), source="/s"))["id"] for _ in range(1500))

    threads = [threading.Thread(target=draw, args=(mine,)) for mine in found]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    every = [text for mine in found for text in mine]
    assert len(every) == 12_000
    assert len(set(every)) == len(every)


def test_a_forked_child_does_not_reuse_the_ids_its_parent_drew() -> None:
    encode(Signed(name="x"), source="/s")  # the parent has drawn ids it has not used yet
    reader, writer = os.pipe()
    pid = os.fork()
    if pid == 0:  # the child: its next ids, to the parent
        try:
            ids = [json.loads(encode(Signed(name="x"), source="/s"))["id"] for _ in range(10)]
            os.write(writer, json.dumps(ids).encode())
        finally:
            os._exit(0)
    os.close(writer)
    with os.fdopen(reader) as pipe:
        child_ids = json.loads(pipe.read())
    os.waitpid(pid, 0)
    parent_ids = [json.loads(encode(Signed(name="x"), source="/s"))["id"] for _ in range(10)]
    assert len(child_ids) == 10
    assert not set(child_ids) & set(parent_ids)


def test_the_current_time_is_written_as_strftime_writes_it() -> None:
    for _ in range(200):
        before = datetime.now(UTC)
        text = json.loads(encode(Signed(name="x"), source="/s"))["time"]
        after = datetime.now(UTC)
        written = datetime.strptime(text, "%Y-%m-%dT%H:%M:%S.%fZ").replace(tzinfo=UTC)
        assert written.strftime("%Y-%m-%dT%H:%M:%S.%fZ") == text
        assert before <= written <= after


def two_parse_decode(raw: bytes) -> tuple[Any, ...]:
    """What the two-parse decode delivered: the attributes from json.loads, the data
    validated by the class from its own JSON."""
    obj = json.loads(raw)
    event_class = REGISTRY.get(obj["type"])
    assert event_class is not None
    core = {"specversion", "id", "source", "type", "time", "datacontenttype", "data"}
    extensions = {k: v for k, v in obj.items() if k not in core | {"eventversion"}}
    time = datetime.fromisoformat(obj["time"]) if obj.get("time") is not None else None
    event = event_class.model_validate_json(json.dumps(obj["data"]))
    return obj["id"], obj["source"], obj["type"], time, event, extensions


def rewrite(raw: bytes, **changes: object) -> bytes:
    obj = json.loads(raw)
    obj.update(changes)
    return json.dumps({k: v for k, v in obj.items() if v is not DROP}).encode()


DROP = object()
BASE = encode(Signed(name="n", count=2), source="/s", id="evt-1")


@pytest.mark.parametrize(
    "raw",
    [
        BASE,
        BASE.decode().encode("utf-8"),
        rewrite(BASE, traceparent="00-ab-cd-01", nested={"a": [1, 2.5, None, True]}),
        rewrite(BASE, time=None),
        # Attribute names that are Python or Pydantic names stay plain extensions.
        rewrite(BASE, __class__=1, model_fields=2, __pydantic_extra__=3),
        rewrite(BASE, time=DROP),
        rewrite(BASE, datacontenttype="application/cloudevents+json; charset=utf-8"),
        rewrite(BASE, datacontenttype=DROP, eventversion=DROP),
        rewrite(BASE, eventversion="1"),  # text digits: read by the full path
        rewrite(BASE, data={"name": "n", "count": 2}, specversion="1.0"),
        # The type written first, out of encode's order: the guess misses, the full path reads it.
        json.dumps({"type": "signed", **json.loads(BASE)}).encode(),
    ],
)
def test_decode_in_one_parse_delivers_what_two_parses_delivered(raw: bytes) -> None:
    expected = two_parse_decode(raw)
    for envelope in (
        decode(raw, REGISTRY),
        decode(raw, REGISTRY, expected_type="signed"),
        decode(raw.decode(), REGISTRY, expected_type="signed"),
    ):
        got = (envelope.id, envelope.source, envelope.type, envelope.time, envelope.event,
               dict(envelope.extensions))  # fmt: skip
        assert got == expected
        assert type(envelope.event) is Signed
        assert envelope.version == 1


def test_duplicate_attributes_read_as_json_loads_reads_them_the_last_wins() -> None:
    text = BASE.decode().replace('"id":"evt-1"', '"id":"first","id":"last"')
    text = text.replace('"source":"/s"', '"source":"/s","x1":"a","x1":"b"')
    for envelope in (decode(text, REGISTRY), decode(text, REGISTRY, expected_type="signed")):
        assert envelope.id == "last"
        assert envelope.extensions == {"x1": "b"}


@pytest.mark.parametrize(
    ("raw", "reason", "detail"),
    [
        (rewrite(BASE, specversion="0.3"), "bad envelope", "'specversion' must be '1.0'"),
        (rewrite(BASE, id=7), "bad envelope", "'id' must be a non-empty string, got 7"),
        (rewrite(BASE, source=""), "bad envelope", "'source' must be a non-empty string"),
        (rewrite(BASE, datacontenttype="text/xml"), "bad envelope", "must be JSON"),
        (rewrite(BASE, eventversion=True), "bad envelope", "must be an integer >= 1, got True"),
        (rewrite(BASE, eventversion=9), "unknown version", "9"),
        (rewrite(BASE, data=DROP), "bad envelope", "'data' is missing"),
        (rewrite(BASE, data={"name": 1}), "invalid data", "data.name"),
        (b"[" * 10_000 + b"]" * 10_000, "bad json", "nested too deep"),
        # A forged type in front of the real one: the guess is confirmed by no parse.
        (BASE.replace(b'{"specversion"', b'{"x":",\\"type\\":\\"signed\\"","specversion"')
         .replace(b'"type":"signed"', b'"type":"nope"'), "unknown type", "'nope'"),
    ],
)  # fmt: skip
def test_whatever_one_parse_cannot_deliver_fails_exactly_as_before(
    raw: bytes, reason: str, detail: str
) -> None:
    for expected_type in (None, "signed"):
        with pytest.raises(EnvelopeError) as info:
            decode(raw, REGISTRY, max_bytes=1_000_000, expected_type=expected_type)
        assert info.value.reason == reason
        assert detail in info.value.detail


def test_a_type_on_the_wrong_stream_is_still_refused_though_its_class_is_known() -> None:
    raw = rewrite(BASE, type="revised", eventversion=3, data={"name": "n"})
    assert decode(raw, REGISTRY).event == Revised(name="n")
    with pytest.raises(EnvelopeError, match="'revised' arrived where only 'signed' belongs"):
        decode(raw, REGISTRY, expected_type="signed")


def test_an_older_version_is_still_upcast_through_the_full_path() -> None:
    class Renamed(Event, event_id="renamed_speed", version=2):
        title: str

    from typed_events import upcaster

    @upcaster(Renamed, from_version=1)
    def _title(data: dict[str, Any]) -> dict[str, Any]:
        return {"title": data["name"]}

    registry = EventRegistry([Renamed])
    raw = rewrite(BASE, type="renamed_speed", eventversion=1, data={"name": "old"})
    for expected_type in (None, "renamed_speed"):
        envelope = decode(raw, registry, expected_type=expected_type)
        assert envelope.event == Renamed(title="old")
        assert envelope.version == 1
