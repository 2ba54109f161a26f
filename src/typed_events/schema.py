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
from typing import cast

from pydantic.json_schema import models_json_schema

from .events import Event
from .schema_compat import (
    JSONObject,
    SchemaDocumentError,
    SchemaNode,
    covers,
    describe_schema,
    properties,
    required,
)

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


def event_schemas(events: Iterable[type[Event]]) -> JSONObject:
    """One document with each event's JSON Schema keyed by its id.

    Each schema stands alone (its nested models are in its own ``$defs``), so a consumer
    can validate a payload with ``document["events"][event_id]``.
    """
    schemas: JSONObject = {}
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
) -> JSONObject:
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
    channels: JSONObject = {}
    messages: JSONObject = {}
    operations: JSONObject = {}
    for event_class in events:
        key = _COMPONENT_KEY.sub("_", event_class.event_id)
        message: JSONObject = {
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


def read_events(document: object, name: str = "document") -> dict[str, SchemaNode]:
    """The event schemas of a document :func:`event_schemas` or :func:`asyncapi_document` wrote.

    :raises SchemaDocumentError: naming what was expected.
    """
    events: dict[str, SchemaNode] | None = None
    if isinstance(document, dict):
        doc = cast(JSONObject, document)  # loaded from JSON: str keys
        try:
            if isinstance(doc.get("events"), dict):
                events = {
                    event_id: SchemaNode(schema, schema)
                    for event_id, schema in doc["events"].items()
                }
            elif "asyncapi" in doc:
                messages = doc.get("components", {}).get("messages", {})
                events = {
                    message.get("name", key): SchemaNode(message.get("payload", {}), doc)
                    for key, message in messages.items()
                }
        except (AttributeError, TypeError):  # a part that should be an object is not
            events = None
    if events is None:
        raise SchemaDocumentError(
            f"{name} is not an event schema document: expected the JSON that "
            "`typed-events schema APP` (or `--format asyncapi`) writes"
        )
    malformed = sorted(k for k, node in events.items() if not isinstance(node.node, dict | bool))
    if malformed:
        raise SchemaDocumentError(
            f"{name}: the schema of event(s) {', '.join(malformed)} is not a JSON Schema "
            "object; regenerate the document with `typed-events schema APP`"
        )
    return events


def diff_schemas(old: object, new: object) -> list[SchemaChange]:
    """Classify every change from ``old`` to ``new`` (documents, as loaded from JSON).

    :raises SchemaDocumentError: if either is not a schema document.
    """
    old_events, new_events = read_events(old, "OLD"), read_events(new, "NEW")
    changes: list[SchemaChange] = []
    for event_id in old_events.keys() - new_events.keys():
        changes.append(SchemaChange(event_id, True, "event removed"))
    for event_id in new_events.keys() - old_events.keys():
        changes.append(SchemaChange(event_id, False, "event added"))
    for event_id in old_events.keys() & new_events.keys():
        changes.extend(_diff_event(event_id, old_events[event_id], new_events[event_id]))
    return sorted(changes, key=lambda c: (c.event_id, not c.breaking, c.field or ""))


def _diff_event(event_id: str, old: SchemaNode, new: SchemaNode) -> list[SchemaChange]:
    old, new = old.resolve(), new.resolve()
    old_fields, new_fields = properties(old), properties(new)
    old_required, new_required = required(old), required(new)
    # An event's schema is an object; read_events does not check it (anything else fails here).
    closed = cast(JSONObject, new.node).get("additionalProperties") is False
    changes: list[SchemaChange] = []
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


def _diff_type(event_id: str, name: str, old: SchemaNode, new: SchemaNode) -> list[SchemaChange]:
    widened, narrowed = covers(new, old), covers(old, new)
    if widened and narrowed:
        return []
    was, now = describe_schema(old), describe_schema(new)
    if widened:
        return [SchemaChange(event_id, False, f'field "{name}" widened: {was} -> {now}', name)]
    verb = "narrowed" if narrowed else "changed type"
    return [SchemaChange(event_id, True, f'field "{name}" {verb}: {was} -> {now}', name)]
