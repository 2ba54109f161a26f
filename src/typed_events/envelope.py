"""The wire format of every distributed backend: a CloudEvents 1.0 structured JSON envelope.

An event travels as one JSON object::

    {"specversion": "1.0", "id": "6f1c...", "source": "/typed-events/billing",
     "type": "user_created", "time": "2026-01-01T12:00:00.000000Z",
     "datacontenttype": "application/json", "data": {"email": "a@example.com"}}

``type`` is the event id and ``data`` the model's JSON (``model_dump_json``); the
extension attribute ``eventversion`` is the event class's ``version=`` (an envelope
without it is version 1, as every envelope written before versions existed). A version
older than the class's is upcast (see :func:`typed_events.upcaster`) before the class
validates it; a newer one is refused with reason ``"unknown version"``. Middleware
adds extension attributes to the envelope of the emit it wraps (``traceparent``, say)
with :func:`outgoing`; a backend encodes that emit with them. Nothing
else is ever executed or unpickled: :func:`decode` parses JSON and validates ``data``
with the event class the registry names, so a message from an older or hostile
producer is either a valid event or an :class:`EnvelopeError` whose ``reason`` says
why it cannot be delivered (a backend dead-letters it with that reason).

An event stored before it is published (the SQLAlchemy outbox) already has its
CloudEvents ``id`` and ``time``. :func:`preset_attributes` makes every :func:`encode`
call in a block (and only there: it is a context variable) use them, so any backend
publishes the stored event under its original id without a backend-specific argument::

    with preset_attributes(row_id, time=stored_at):
        await bus.backend.emit_async(event)
"""

from __future__ import annotations

import contextlib
import contextvars
import json
from collections.abc import Generator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, cast

import pydantic

from typed_events._envelope_models import (
    describe,
    envelope_model,
    is_json_content_type,
    non_empty_string,
)
from typed_events._envelope_text import format_time, json_text, new_id, now_text
from typed_events._upcasting import upcast
from typed_events.errors import DeadLetterReason, EnvelopeError
from typed_events.events import Event, EventRegistry

__all__ = [
    "CONTENT_TYPE",
    "SPECVERSION",
    "VERSION_ATTRIBUTE",
    "Envelope",
    "EnvelopeError",
    "Outgoing",
    "Reason",
    "current_outgoing",
    "decode",
    "encode",
    "preset_attributes",
    "outgoing",
    "read_attributes",
]

SPECVERSION = "1.0"
CONTENT_TYPE = "application/json"

Reason = DeadLetterReason
"""Why an envelope was refused (kept as a name for older imports)."""
"""Why a message cannot be delivered; dead-letter entries carry it."""

VERSION_ATTRIBUTE = "eventversion"
"""The CloudEvents extension attribute that carries the event's version (an integer)."""

# CloudEvents: extension attribute names are lowercase ASCII letters and digits.
_CORE_ATTRIBUTES = frozenset(
    {"specversion", "id", "source", "type", "time", "datacontenttype", "dataschema", "subject"}
)


@dataclass(frozen=True)
class Envelope:
    """A decoded, validated envelope: the CloudEvents attributes and the event.

    :ivar id: the CloudEvents ``id``, unique per emitted event (use it to deduplicate).
    :ivar source: who emitted it (``/typed-events/{service}`` for typed-events producers).
    :ivar type: the event id.
    :ivar time: when it was emitted (UTC), if the producer said.
    :ivar event: the validated event instance.
    :ivar extensions: CloudEvents extension attributes, by name (``eventversion`` aside).
    :ivar version: the version the producer wrote (``event`` is at its class's version:
        older data was upcast).
    """

    id: str
    source: str
    type: str
    time: datetime | None
    event: Event
    extensions: Mapping[str, Any] = field(default_factory=dict[str, Any])
    version: int = 1


_preset: contextvars.ContextVar[tuple[str, datetime | None] | None] = contextvars.ContextVar(
    "typed_events_preset_attributes", default=None
)


@contextlib.contextmanager
def preset_attributes(id: str, *, time: datetime | None = None) -> Generator[None]:
    """Make :func:`encode` use this CloudEvents ``id`` (and ``time``) inside the block.

    For republishing an event that was stored with its envelope: ``encode`` calls in
    the block that pass no ``id`` (no ``time``) of their own take these instead of a new
    UUID (the current time). A context variable: other tasks and threads are not
    affected, and each task of a task group may preset its own.

    :param id: the CloudEvents ``id`` the stored event already has.
    :param time: its emit time (timezone-aware).
    """
    token = _preset.set((id, time))
    try:
        yield
    finally:
        _preset.reset(token)


def _no_extensions() -> dict[str, str]:
    return {}  # (a plain function: dict[str, str]() costs several times more per emit)


@dataclass(slots=True)
class Outgoing:
    """The envelope of the emit being made, as middleware sees it (see :func:`outgoing`).

    :ivar extensions: extension attributes the middleware adds, before ``call_next``.
    :ivar id: the CloudEvents id, set by a backend that encoded the emit's envelope.
    :ivar system: that backend's messaging system (``"redis"``), set with ``id``.
    :ivar destination: where it wrote the envelope (a stream), set with ``id``.
    """

    extensions: dict[str, str] = field(default_factory=_no_extensions)
    id: str | None = None
    system: str | None = None
    destination: str | None = None


def outgoing() -> contextlib.AbstractContextManager[Outgoing]:
    """Within this block (around ``call_next`` in ``on_emit``), the emit's :class:`Outgoing`.

    Nested blocks share one :class:`Outgoing`, so several middlewares can add extensions.
    It ends with the block: a listener whose context was copied during the emit, and
    emits in turn, starts an :class:`Outgoing` of its own.
    """
    return _OutgoingScope()


class _OutgoingScope:
    # A class, not @contextmanager: it runs on every emit a middleware traces.
    __slots__ = ("message", "open", "token")
    message: Outgoing
    open: bool
    token: contextvars.Token[_OutgoingScope | None] | None

    def __enter__(self) -> Outgoing:
        current = _current.get()
        if current is not None and current.open:
            self.token = None
            return current.message
        self.message, self.open = Outgoing(), True
        self.token = _current.set(self)
        return self.message

    def __exit__(self, *_exc: object) -> None:
        if self.token is not None:
            self.open = False  # for the copies of this context that outlive the emit
            _current.reset(self.token)


_current: contextvars.ContextVar[_OutgoingScope | None] = contextvars.ContextVar(
    "typed_events_outgoing", default=None
)


def current_outgoing() -> Outgoing | None:
    """The :class:`Outgoing` a backend's emit fills in, or None outside :func:`outgoing`."""
    scope = _current.get()
    return scope.message if scope is not None and scope.open else None


def encode(
    event: Event,
    *,
    source: str,
    id: str | None = None,  # the CloudEvents attribute is called id
    time: datetime | None = None,
    extensions: Mapping[str, str] | None = None,
) -> bytes:
    """Serialize ``event`` into a CloudEvents 1.0 structured JSON envelope (UTF-8 bytes).

    :param event: a validated event instance.
    :param source: the CloudEvents ``source`` (a URI reference naming the producer).
    :param id: the CloudEvents ``id``; when omitted, the one :func:`preset_attributes`
        set, else a new random UUID.
    :param time: the emit time; when omitted, the preset one, else now (UTC).
    :param extensions: extension attributes (lowercase letters and digits as names).
    :raises ValueError: for an extension name CloudEvents does not allow.
    :raises pydantic_core.PydanticSerializationError: if a field cannot be made JSON.
    """
    if id is None:
        preset = _preset.get()
        if preset is not None:
            id, time = preset[0], time if time is not None else preset[1]
    # The header is written by hand, in json.dumps's own text for each value: the same
    # bytes as json.dumps(attributes, separators=(",", ":"), ensure_ascii=False), for
    # a fraction of its cost (encode runs once per emitted event).
    id_text = f'"{new_id()}"' if id is None else json_text(id)  # a new id needs no escapes
    time_text = now_text() if time is None else format_time(time)
    head = (
        f'{{"specversion":"{SPECVERSION}","id":{id_text},"source":{json_text(source)},'
        f'"type":{json_text(event.event_id)},"time":"{time_text}","datacontenttype":'
        f'"{CONTENT_TYPE}","{VERSION_ATTRIBUTE}":{json_text(event.event_version)}'
    )
    if extensions:
        head += "".join([f',"{_extension_name(name)}":{json_text(value)}'
                         for name, value in extensions.items()])  # fmt: skip
    # Splice the model's own JSON in: one serialization, exactly what model_validate_json reads.
    return f'{head},"data":{event.model_dump_json()}}}'.encode()


def _extension_name(name: str) -> str:
    if (
        not (name.isascii() and name.isalnum() and name.islower())
        or name in _CORE_ATTRIBUTES
        or name == VERSION_ATTRIBUTE
    ):
        raise ValueError(
            f"CloudEvents extension attribute {name!r} is not allowed: names are "
            "lowercase ASCII letters and digits, and not a core attribute name "
            f"(nor {VERSION_ATTRIBUTE!r}, which encode writes)"
        )
    return name  # lowercase letters and digits: JSON text as it is


def read_attributes(raw: bytes | str, *, max_bytes: int | None = None) -> dict[str, Any]:
    """Parse an envelope's JSON object without validating ``data`` against an event class.

    Tools use it to show a message whose event class they do not have.

    :param max_bytes: refuse messages larger than this many bytes.
    :raises EnvelopeError: ``"too large"``, ``"bad json"`` or ``"bad envelope"`` (not a
        JSON object, or a missing/ill-typed ``specversion``/``id``/``source``/``type``).
    """
    size = len(raw.encode() if isinstance(raw, str) else raw)
    if max_bytes is not None and size > max_bytes:
        raise EnvelopeError("too large", f"{size} bytes, more than the limit of {max_bytes} bytes")
    try:
        parsed: object = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as exc:
        raise EnvelopeError("bad json", f"not JSON: {exc}") from None
    except RecursionError:  # hostile nesting ([[[[...) must not crash a consumer
        raise EnvelopeError("bad json", "not JSON this parser can read: nested too deep") from None
    if not isinstance(parsed, dict):
        raise EnvelopeError("bad envelope", f"expected a JSON object, got {type(parsed).__name__}")
    obj = cast(dict[str, Any], parsed)  # the keys of a JSON object are strings
    envelope_id = non_empty_string(obj.get("id"))
    event_type = non_empty_string(obj.get("type"))
    problems = [
        f"{name!r} must be a non-empty string, got {obj.get(name)!r}"
        for name in ("id", "source", "type")
        if non_empty_string(obj.get(name)) is None
    ]
    if obj.get("specversion") != SPECVERSION:
        problems.insert(0, f"'specversion' must be {SPECVERSION!r}, got {obj.get('specversion')!r}")
    content_type = obj.get("datacontenttype")
    if content_type is not None and not is_json_content_type(content_type):
        problems.append(f"'datacontenttype' must be JSON, got {content_type!r}")
    if "data" not in obj:
        problems.append("'data' is missing")
    if problems:
        raise EnvelopeError(
            "bad envelope", "; ".join(problems), envelope_id=envelope_id, event_type=event_type
        )
    return obj


def decode(
    raw: bytes | str,
    registry: EventRegistry,
    *,
    max_bytes: int | None = None,
    expected_type: str | None = None,
) -> Envelope:
    """Parse and validate an envelope; ``data`` is validated by the registered event class.

    :param raw: the envelope JSON.
    :param registry: the event classes this process knows, by id.
    :param max_bytes: refuse messages larger than this many bytes (before parsing).
    :param expected_type: the event id the message must carry (a stream per event id
        means anything else arrived in the wrong place).
    :raises EnvelopeError: with ``reason`` ``"too large"``, ``"bad json"``,
        ``"bad envelope"``, ``"unknown type"``, ``"unknown version"`` (newer than the
        class, or older than its ``min_version``) or ``"invalid data"`` (an upcaster that
        failed included).
    """
    fast = _decode_at_once(raw, registry, max_bytes, expected_type or _peek_type(raw))
    if fast is not None:
        return fast
    obj = read_attributes(raw, max_bytes=max_bytes)
    envelope_id: str = obj["id"]
    event_type: str = obj["type"]
    event_class = registry.get(event_type)
    if event_class is None:
        known = ", ".join(registry.ids()) or "none"
        raise EnvelopeError(
            "unknown type",
            f"no event class declares id {event_type!r} in this process (known: {known})",
            envelope_id=envelope_id,
            event_type=event_type,
        )
    if expected_type is not None and event_type != expected_type:
        raise EnvelopeError(
            "bad envelope",
            f"type {event_type!r} arrived where only {expected_type!r} belongs",
            envelope_id=envelope_id,
            event_type=event_type,
        )
    version = _read_version(obj, envelope_id, event_type)
    if version != event_class.event_version:
        try:
            obj["data"] = upcast(event_class, obj["data"], version)
        except EnvelopeError as exc:
            raise EnvelopeError(
                exc.reason, exc.detail, envelope_id=envelope_id, event_type=event_type
            ) from exc.__cause__
        try:
            # Validated as JSON, like a current-version envelope (strict models included).
            raw = json.dumps(obj, ensure_ascii=False)
        except (TypeError, ValueError) as exc:
            raise EnvelopeError(
                "invalid data",
                f"the upcast data of {event_type!r} (from version {version}) is not JSON: "
                f"{exc}; an upcaster must return JSON values (str, int, float, bool, None, "
                "lists and dicts)",
                envelope_id=envelope_id,
                event_type=event_type,
            ) from exc
    try:
        # JSON mode, on the raw bytes: the exact inverse of model_dump_json, strict
        # models included.
        parsed = envelope_model(event_class).model_validate_json(raw)
    except pydantic.ValidationError as exc:
        in_data = all(error["loc"][:1] == ("data",) for error in exc.errors())
        raise EnvelopeError(
            "invalid data" if in_data else "bad envelope",
            describe(exc),
            envelope_id=envelope_id,
            event_type=event_type,
        ) from None
    extensions = {k: v for k, v in obj.items() if k not in _NOT_EXTENSIONS}
    return Envelope(
        envelope_id, obj["source"], event_type, parsed.time, parsed.data, extensions, version
    )


_NOT_EXTENSIONS = _CORE_ATTRIBUTES | {"data", VERSION_ATTRIBUTE}


def _decode_at_once(
    raw: bytes | str, registry: EventRegistry, max_bytes: int | None, event_type: str | None
) -> Envelope | None:
    """The usual message in one parse: a valid envelope of ``event_type``, at its class's
    version; None for anything else (the full path then parses it again, and raises
    exactly what it always raised).

    With the type known before parsing (a consumer knows what its stream carries; else
    :func:`_peek_type`), so is the class that validates ``data``, and one
    ``model_validate_json`` reads the attributes too.
    """
    event_class = registry.get(event_type) if event_type is not None else None
    if event_class is None or (
        max_bytes is not None and len(raw.encode() if isinstance(raw, str) else raw) > max_bytes
    ):
        return None
    try:
        # The validator itself: model_validate_json adds a Python frame per message.
        parsed = envelope_model(event_class).__pydantic_validator__.validate_json(raw)
    except ValueError:  # pydantic's ValidationError included: the full path says why
        return None
    attributes: dict[str, Any] = parsed.__pydantic_extra__ or {}
    envelope_id, source = attributes.get("id"), attributes.get("source")
    version = attributes.get(VERSION_ATTRIBUTE, 1)
    if not (
        attributes.get("specversion") == SPECVERSION
        and attributes.get("type") == event_type
        and isinstance(envelope_id, str)
        and envelope_id
        and isinstance(source, str)
        and source
        and (
            (content_type := attributes.get("datacontenttype", CONTENT_TYPE)) == CONTENT_TYPE
            or is_json_content_type(content_type)
        )
        and type(version) is int
        and version == event_class.event_version
    ):
        return None
    extensions = (
        {} if attributes.keys() <= _NOT_EXTENSIONS else
        {k: v for k, v in attributes.items() if k not in _NOT_EXTENSIONS}
    )  # fmt: skip
    return Envelope(
        envelope_id, source, event_class.event_id, parsed.time, parsed.data, extensions, version
    )


def _peek_type(raw: bytes | str) -> str | None:
    """The type where :func:`encode` writes it, unescaped: only a guess, which the parsed
    envelope must confirm before the fast path delivers anything."""
    if isinstance(raw, str):
        start = raw.find(',"type":"', 0, 4096) + 9
        end = raw.find('"', start, start + 256) if start > 8 else -1
        return raw[start:end] if end > 0 else None
    start = raw.find(b',"type":"', 0, 4096) + 9
    end = raw.find(b'"', start, start + 256) if start > 8 else -1
    return raw[start:end].decode("utf-8", "replace") if end > 0 else None


def _read_version(obj: dict[str, Any], envelope_id: str, event_type: str) -> int:
    """The ``eventversion`` of an envelope: 1 when absent; a string of digits is read too
    (CloudEvents bindings that carry attributes as text)."""
    value = obj.get(VERSION_ATTRIBUTE, 1)
    if isinstance(value, str) and value.isascii() and value.isdigit():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool) or value < 1:
        raise EnvelopeError(
            "bad envelope",
            f"{VERSION_ATTRIBUTE!r} must be an integer >= 1, got {value!r}",
            envelope_id=envelope_id,
            event_type=event_type,
        )
    return value
