"""Event schemas for other services: JSON Schema per event, AsyncAPI 3.0, and diffs.

``typed-events schema APP`` writes :func:`event_schemas`; ``--format asyncapi`` writes
:func:`asyncapi_document`; ``typed-events schema diff OLD NEW`` prints
:func:`diff_schemas`. A change is *breaking* when a message valid under the old schema
may be rejected under the new one (a consumer upgraded first can no longer read what
producers still send): a field removed, a type narrowed, a new required field, an event
removed. Everything else (an optional field added, a type widened, an event added) is
*compatible*.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from pydantic.json_schema import models_json_schema

from .events import Event

__all__ = [
    "SCHEMA_FORMAT",
    "SchemaChange",
    "SchemaDocumentError",
    "asyncapi_document",
    "diff_schemas",
    "event_schemas",
]

SCHEMA_FORMAT = "typed-events/schemas/v1"
"""The ``format`` marker of the document :func:`event_schemas` writes."""

_CLASS_KEY = "x-typed-events-class"
_COMPONENT_KEY = re.compile(r"[^\w.\-]")

JSON = dict[str, Any]


def event_schemas(events: Iterable[type[Event]]) -> JSON:
    """One document with each event's JSON Schema keyed by its id.

    Each schema stands alone (its nested models are in its own ``$defs``), so a consumer
    can validate a payload with ``document["events"][event_id]``.
    """
    schemas: JSON = {}
    for event_class in events:
        schema = event_class.model_json_schema()
        schema[_CLASS_KEY] = f"{event_class.__module__}.{event_class.__qualname__}"
        schemas[event_class.event_id] = schema
    return {"format": SCHEMA_FORMAT, "events": schemas}


def asyncapi_document(
    events: Sequence[type[Event]],
    listeners: Mapping[str, Sequence[str]] | None = None,
    *,
    title: str,
    version: str = "0.1.0",
) -> JSON:
    """An AsyncAPI 3.0 document: one channel (address: the event id) and message per event.

    :param events: the event classes, in the order to list them.
    :param listeners: listener names by event id; each event with listeners gets a
        ``receive`` operation naming them.
    :param title: ``info.title``.
    :param version: ``info.version``, the version of your app's event API.
    """
    listeners = listeners or {}
    refs, definitions = models_json_schema(
        [(event_class, "validation") for event_class in events],
        ref_template="#/components/schemas/{model}",
    )
    channels: JSON = {}
    messages: JSON = {}
    operations: JSON = {}
    for event_class in events:
        key = _COMPONENT_KEY.sub("_", event_class.event_id)
        message: JSON = {
            "name": event_class.event_id,
            "title": event_class.__qualname__,
            "contentType": "application/json",
            "payload": refs[(event_class, "validation")],
        }
        if event_class.__doc__:
            message["summary"] = event_class.__doc__.strip().splitlines()[0]
        messages[key] = message
        channels[key] = {
            "address": event_class.event_id,
            "messages": {key: {"$ref": f"#/components/messages/{key}"}},
        }
        names = listeners.get(event_class.event_id, ())
        if names:
            operations[f"receive_{key}"] = {
                "action": "receive",
                "channel": {"$ref": f"#/channels/{key}"},
                "messages": [{"$ref": f"#/channels/{key}/messages/{key}"}],
                "summary": "handled by " + ", ".join(names),
            }
    return {
        "asyncapi": "3.0.0",
        "info": {"title": title, "version": version},
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": messages, "schemas": definitions.get("$defs", {})},
    }


# -- diff -------------------------------------------------------------------------------


class SchemaDocumentError(ValueError):
    """A file given to ``schema diff`` is not a schema document typed-events wrote."""


@dataclass(frozen=True)
class SchemaChange:
    """One difference between two versions of the event schemas.

    :param event_id: the event it concerns.
    :param breaking: True if old messages may no longer validate.
    :param message: what changed, e.g. ``field "email" removed``.
    :param field: the field concerned, if any.
    """

    event_id: str
    breaking: bool
    message: str
    field: str | None = None

    @property
    def kind(self) -> str:
        """``"breaking"`` or ``"compatible"``."""
        return "breaking" if self.breaking else "compatible"


@dataclass(frozen=True)
class _Schema:
    """A schema fragment with the document its ``$ref`` pointers resolve in."""

    node: Any
    root: Any

    def resolve(self) -> _Schema:
        node, seen = self.node, 0
        while isinstance(node, dict) and isinstance(node.get("$ref"), str) and seen < 50:
            node, seen = _pointer(self.root, node["$ref"]), seen + 1
        return _Schema(node, self.root)

    def get(self, key: str) -> _Schema | None:
        value = self.node.get(key) if isinstance(self.node, dict) else None
        return None if value is None else _Schema(value, self.root)


def _pointer(root: Any, ref: str) -> Any:
    if not ref.startswith("#"):
        raise SchemaDocumentError(f"external $ref {ref!r} is not supported")
    node = root
    for part in ref[1:].split("/")[1:]:
        part = part.replace("~1", "/").replace("~0", "~")
        if not isinstance(node, dict) or part not in node:
            raise SchemaDocumentError(f"$ref {ref!r} points at nothing")
        node = node[part]
    return node


def read_events(document: object, name: str = "document") -> dict[str, _Schema]:
    """The event schemas of a document :func:`event_schemas` or :func:`asyncapi_document` wrote.

    :raises SchemaDocumentError: naming what was expected.
    """
    if isinstance(document, dict) and isinstance(document.get("events"), dict):
        return {
            event_id: _Schema(schema, schema) for event_id, schema in document["events"].items()
        }
    if isinstance(document, dict) and "asyncapi" in document:
        messages = document.get("components", {}).get("messages", {})
        return {
            message.get("name", key): _Schema(message.get("payload", {}), document)
            for key, message in messages.items()
        }
    raise SchemaDocumentError(
        f"{name} is not an event schema document: expected the JSON that "
        "`typed-events schema APP` (or `--format asyncapi`) writes"
    )


def diff_schemas(old: object, new: object) -> list[SchemaChange]:
    """Classify every change from ``old`` to ``new`` (documents, as loaded from JSON).

    :raises SchemaDocumentError: if either is not a schema document.
    """
    old_events, new_events = read_events(old, "OLD"), read_events(new, "NEW")
    changes = []
    for event_id in old_events.keys() - new_events.keys():
        changes.append(SchemaChange(event_id, True, "event removed"))
    for event_id in new_events.keys() - old_events.keys():
        changes.append(SchemaChange(event_id, False, "event added"))
    for event_id in old_events.keys() & new_events.keys():
        changes.extend(_diff_event(event_id, old_events[event_id], new_events[event_id]))
    return sorted(changes, key=lambda c: (c.event_id, not c.breaking, c.field or ""))


def _diff_event(event_id: str, old: _Schema, new: _Schema) -> list[SchemaChange]:
    old, new = old.resolve(), new.resolve()
    old_fields, new_fields = _properties(old), _properties(new)
    old_required, new_required = _required(old), _required(new)
    closed = new.node.get("additionalProperties") is False
    changes = []
    for name in old_fields.keys() - new_fields.keys():
        if closed:
            changes.append(SchemaChange(event_id, True, f'field "{name}" removed', name))
        else:  # the new schema still accepts the field as an extra one
            message = f'field "{name}" removed (extra fields are allowed)'
            changes.append(SchemaChange(event_id, False, message, name))
    for name in new_fields.keys() - old_fields.keys():
        if name in new_required:
            changes.append(SchemaChange(event_id, True, f'new required field "{name}"', name))
        else:
            changes.append(SchemaChange(event_id, False, f'optional field "{name}" added', name))
    for name in old_fields.keys() & new_fields.keys():
        if name in new_required and name not in old_required:
            changes.append(SchemaChange(event_id, True, f'field "{name}" became required', name))
        elif name in old_required and name not in new_required:
            changes.append(SchemaChange(event_id, False, f'field "{name}" became optional', name))
        changes.extend(_diff_type(event_id, name, old_fields[name], new_fields[name]))
    return changes


def _diff_type(event_id: str, name: str, old: _Schema, new: _Schema) -> list[SchemaChange]:
    widened, narrowed = covers(new, old), covers(old, new)
    if widened and narrowed:
        return []
    was, now = describe_schema(old), describe_schema(new)
    if widened:
        return [SchemaChange(event_id, False, f'field "{name}" widened: {was} -> {now}', name)]
    verb = "narrowed" if narrowed else "changed type"
    return [SchemaChange(event_id, True, f'field "{name}" {verb}: {was} -> {now}', name)]


def _properties(schema: _Schema) -> dict[str, _Schema]:
    properties = schema.node.get("properties", {}) if isinstance(schema.node, dict) else {}
    return {name: _Schema(value, schema.root) for name, value in properties.items()}


def _required(schema: _Schema) -> set[str]:
    return set(schema.node.get("required", ())) if isinstance(schema.node, dict) else set()


def describe_schema(schema: _Schema) -> str:
    """A short spelling of a schema fragment: ``string``, ``integer | null``, ``Address``."""
    node = schema.node
    if isinstance(node, dict) and isinstance(node.get("$ref"), str):
        return str(node["$ref"]).rsplit("/", 1)[-1]
    schema = schema.resolve()
    node = schema.node
    if not isinstance(node, dict) or not node:
        return "any"
    for key in ("anyOf", "oneOf"):
        if key in node:
            return " | ".join(describe_schema(_Schema(b, schema.root)) for b in node[key])
    if "const" in node:
        return repr(node["const"])
    if "enum" in node:
        return " | ".join(repr(value) for value in node["enum"])
    kinds = node.get("type", "any")
    text = " | ".join(kinds) if isinstance(kinds, list) else str(kinds)
    items = schema.get("items")
    if text == "array" and items is not None:
        text = f"array[{describe_schema(items)}]"
    bounds = [f"{k}={node[k]}" for k in sorted(node) if k in _BOUNDS or k in _EQUAL]
    return f"{text} ({', '.join(bounds)})" if bounds else text


# -- "does every value valid under `narrow` also validate under `wide`?" ---------------

_ANNOTATIONS = {"title", "description", "default", "examples", "deprecated", "$comment"}
_ANNOTATIONS |= {"readOnly", "writeOnly", "discriminator", "$defs", "definitions", _CLASS_KEY}
_LOWER = {"minLength", "minItems", "minProperties", "minimum", "exclusiveMinimum"}
_UPPER = {"maxLength", "maxItems", "maxProperties", "maximum", "exclusiveMaximum"}
_BOUNDS = _LOWER | _UPPER
_EQUAL = {"pattern", "format", "multipleOf", "uniqueItems"}
_STRUCTURE = {"type", "items", "prefixItems", "properties", "required", "additionalProperties"}
_JSON_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "null": (type(None),),
    "array": (list,),
    "object": (dict,),
}


def covers(wide: _Schema, narrow: _Schema, _assumed: set[tuple[int, int]] | None = None) -> bool:
    """True if every value ``narrow`` accepts, ``wide`` accepts too; False when unsure.

    Unsure answers count as breaking: a diff must not hide a break.
    """
    wide, narrow = wide.resolve(), narrow.resolve()
    assumed = _assumed if _assumed is not None else set()
    pair = (id(wide.node), id(narrow.node))
    if pair in assumed:  # a recursive model: assume what is being proved on this path
        return True
    assumed.add(pair)
    try:
        return _covers(wide, narrow, assumed)
    finally:
        assumed.discard(pair)


def _covers(wide: _Schema, narrow: _Schema, assumed: set[tuple[int, int]]) -> bool:
    w, n = wide.node, narrow.node
    if w is True or (isinstance(w, dict) and not (w.keys() - _ANNOTATIONS)):
        return True
    if n is False:
        return True
    if not isinstance(w, dict) or not isinstance(n, dict):
        return False
    for key in ("anyOf", "oneOf"):
        if key in n:
            return all(covers(wide, _Schema(b, narrow.root), assumed) for b in n[key])
    if "allOf" in n:
        return any(covers(wide, _Schema(b, narrow.root), assumed) for b in n["allOf"])
    if "allOf" in w:
        return all(covers(_Schema(b, wide.root), narrow, assumed) for b in w["allOf"])
    for key in ("anyOf", "oneOf"):
        if key in w:
            if w.keys() - _ANNOTATIONS - {key}:
                return False
            return any(covers(_Schema(b, wide.root), narrow, assumed) for b in w[key])
    if "const" in n or "enum" in n:
        values = n["enum"] if "enum" in n else [n["const"]]
        return all(_accepts_value(w, value) for value in values)
    if "const" in w or "enum" in w:
        return False
    if w.keys() - _ANNOTATIONS - _BOUNDS - _EQUAL - _STRUCTURE:
        return False  # a keyword this check does not know: unsure
    return (
        _types_cover(w, n)
        and _bounds_cover(w, n)
        and _items_cover(wide, narrow, assumed)
        and _objects_cover(wide, narrow, assumed)
    )


def _types_cover(w: JSON, n: JSON) -> bool:
    wide_types, narrow_types = _types(w), _types(n)
    if wide_types is None:
        return True
    if narrow_types is None:
        return False
    return all(t in wide_types or (t == "integer" and "number" in wide_types) for t in narrow_types)


def _types(node: JSON) -> set[str] | None:
    kinds = node.get("type")
    if kinds is None:
        return None
    return set(kinds) if isinstance(kinds, list) else {kinds}


def _bounds_cover(w: JSON, n: JSON) -> bool:
    for key in w.keys() & (_BOUNDS | _EQUAL):
        if key not in n:
            return False
        if key in _LOWER and not n[key] >= w[key]:
            return False
        if key in _UPPER and not n[key] <= w[key]:
            return False
        if key in _EQUAL and n[key] != w[key]:
            return False
    return True


def _items_cover(wide: _Schema, narrow: _Schema, assumed: set[tuple[int, int]]) -> bool:
    w, n = wide.node, narrow.node
    if "prefixItems" in w or "prefixItems" in n:
        wide_items, narrow_items = w.get("prefixItems", []), n.get("prefixItems", [])
        if len(wide_items) != len(narrow_items):
            return False
        if not all(
            covers(_Schema(a, wide.root), _Schema(b, narrow.root), assumed)
            for a, b in zip(wide_items, narrow_items, strict=True)
        ):
            return False
    if "items" not in w:
        return True
    if "items" not in n:
        return False
    return covers(_Schema(w["items"], wide.root), _Schema(n["items"], narrow.root), assumed)


def _objects_cover(wide: _Schema, narrow: _Schema, assumed: set[tuple[int, int]]) -> bool:
    w, n = wide.node, narrow.node
    if not set(w.get("required", ())) <= set(n.get("required", ())):
        return False
    wide_props, narrow_props = _properties(wide), _properties(narrow)
    wide_extra, narrow_extra = (
        w.get("additionalProperties", True),
        n.get("additionalProperties", True),
    )
    for name, schema in wide_props.items():
        if name in narrow_props:
            if not covers(schema, narrow_props[name], assumed):
                return False
        elif narrow_extra is not False and not covers(
            schema, _Schema(narrow_extra, narrow.root), assumed
        ):
            return False
    for name, schema in narrow_props.items():
        if name not in wide_props and not covers(_Schema(wide_extra, wide.root), schema, assumed):
            return False
    if narrow_extra is False:
        return True
    return covers(_Schema(wide_extra, wide.root), _Schema(narrow_extra, narrow.root), assumed)


def _accepts_value(w: JSON, value: Any) -> bool:
    if "const" in w:
        return bool(w["const"] == value)
    if "enum" in w:
        return value in w["enum"]
    if w.keys() - _ANNOTATIONS - {"type"}:
        return False  # bounds or structure: unsure without a validator
    kinds = _types(w)
    if kinds is None:
        return True
    if isinstance(value, bool):
        return "boolean" in kinds
    return any(isinstance(value, _JSON_TYPES.get(kind, ())) for kind in kinds)
